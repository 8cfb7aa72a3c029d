# Runs Xen's verify-stream-v2 on many files in one Python process (interpreter start-up dominates a single run).
# The verifier's own read_stream() does the work, unchanged; we only load the script once and point its input at
# each file in turn. Usage: python3 verify-many.py VERIFIER (FORMAT FILE)...
# Prints, per file: "=== begin FILE", the verifier's own messages, "=== exit CODE" (0 valid, 1 rejected, 2 script error).
import runpy
import sys

sys.stderr = sys.stdout  # keep the verifier's messages in order with our markers
verifier = runpy.run_path(sys.argv[1], run_name="verify_stream_v2")
read_stream = verifier["read_stream"]
args = sys.argv[2:]
for fmt, path in zip(args[0::2], args[1::2]):
    print("=== begin " + path, flush=True)
    with open(path, "rb", 0) as f:
        read_stream.__globals__["fin"] = f
        try:
            code = read_stream(fmt)
        except Exception as e:  # read_stream catches its own errors; anything else is a script error
            print("driver: %r" % (e,))
            code = 2
    print("=== exit %d" % code, flush=True)
