package org.xenhost.realxen;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.xenhost.daemon.admin.RemoteDriver;
import org.xenhost.daemon.cli.Main;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.jna.NativeLibxl;
import org.xenhost.libxl.pcispec.PciSpecParser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Runs in dom0 of a real-Xen run (classpath: xenhost.jar and this module's classes) and prints, as JSON, what
 * xenhost's own code sees there, for the host-side tests to compare with xl, lspci and sysfs:
 * <ul>
 *   <li>{@code libxl}: {@link NativeLibxl#hostInfo()} and {@link NativeLibxl#listDomains()} straight from libxenlight;</li>
 *   <li>{@code host-info SOCKET}: the Driver's host description through xenhostd's admin socket;</li>
 *   <li>{@code assignable-add BDF}, {@code assignable-remove BDF}: libxl's PCI assignable calls with rebind,
 *       followed by {@code assignableList()}.</li>
 *   <li>{@code serve DIR}: stays up and runs requests that scenario scripts drop into DIR, each either a
 *       {@code xenhost} command line (the real CLI, {@link Main#execute}, in this JVM) or one of the probes above.
 *       Under QEMU's TCG a JVM takes minutes to start on a busy machine, so a scenario starts exactly two: xenhostd
 *       and this server.</li>
 * </ul>
 * Exit code 0 on success, 1 with the error on stderr otherwise.
 */
public final class Probe {
    private Probe() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("serve")) {
            serve(Path.of(args[1]));
            return;
        }
        PrintStream stdout = System.out;
        int rc = probe(args, stdout, System.err);
        System.exit(rc);
    }

    /**
     * Request protocol: the client writes {@code ID.req} (one argument per line; first word {@code xenhost} or
     * {@code probe}) by rename; the server answers {@code ID.out}, {@code ID.err} and last {@code ID.rc} (by rename,
     * so a client that sees the exit code sees the whole answer).
     */
    static void serve(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("ready"), "ready\n");
        while (true) {
            List<Path> reqs;
            try (Stream<Path> s = Files.list(dir)) {
                reqs = s.filter(f -> f.getFileName().toString().endsWith(".req")).sorted().toList();
            }
            if (reqs.isEmpty()) {
                Thread.sleep(50);
                continue;
            }
            for (Path req : reqs) {
                String id = req.getFileName().toString().replace(".req", "");
                List<String> words = Files.readAllLines(req, StandardCharsets.UTF_8);
                Files.delete(req);
                // each request on its own thread: a scenario aborts or queries a migration while `migrate` runs
                workers.execute(() -> answer(dir, id, words));
            }
        }
    }

    private static final java.util.concurrent.ExecutorService workers = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "probe-request");
        t.setDaemon(true);
        return t;
    });

    private static void answer(Path dir, String id, List<String> words) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc;
        try {
            if (!words.isEmpty() && words.get(0).equals("xenhost")) {
                rc = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true),
                        words.subList(1, words.size()).toArray(String[]::new));
            } else if (!words.isEmpty() && words.get(0).equals("probe")) {
                ByteArrayOutputStream o = new ByteArrayOutputStream();
                ByteArrayOutputStream e = new ByteArrayOutputStream();
                rc = probe(words.subList(1, words.size()).toArray(String[]::new),
                        new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
                out.write(o.toString(StandardCharsets.UTF_8));
                err.write(e.toString(StandardCharsets.UTF_8));
            } else {
                rc = 2;
                err.write("request " + id + " must start with 'xenhost' or 'probe': " + words + "\n");
            }
        } catch (IOException | RuntimeException e) {
            rc = 1;
            err.write("request " + id + " failed: " + e + "\n");
        }
        try {
            Files.writeString(dir.resolve(id + ".out"), out.toString());
            Files.writeString(dir.resolve(id + ".err"), err.toString());
            Files.writeString(dir.resolve(id + ".rc.tmp"), rc + "\n");
            Files.move(dir.resolve(id + ".rc.tmp"), dir.resolve(id + ".rc"), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            System.err.println("probe server: cannot answer request " + id + ": " + e);
        }
    }

    static int probe(String[] args, PrintStream stdout, PrintStream stderr) throws IOException {
        if (args.length == 0) {
            stderr.println("usage: Probe libxl | host-info SOCKET | assignable-add BDF | assignable-remove BDF | serve DIR");
            return 2;
        }
        ObjectMapper json = new ObjectMapper().findAndRegisterModules().enable(SerializationFeature.INDENT_OUTPUT);
        Map<String, Object> out = new LinkedHashMap<>();
        try {
            switch (args[0]) {
                case "libxl" -> {
                    try (NativeLibxl xl = NativeLibxl.open()) {
                        out.put("hostInfo", xl.hostInfo());
                        out.put("domains", xl.listDomains());
                    }
                }
                case "host-info" -> out.put("hostInfo", RemoteDriver.connect(Path.of(args[1])).hostInfo());
                case "assignable-add", "assignable-remove" -> {
                    LibxlDevicePci pci = PciSpecParser.parse(args[1]);
                    try (NativeLibxl xl = NativeLibxl.open()) {
                        if (args[0].equals("assignable-add")) {
                            xl.assignableAdd(pci, true);
                        } else {
                            xl.assignableRemove(pci, true);
                        }
                        out.put("assignable", xl.assignableList().stream().map(LibxlDevicePci::bdf).toList());
                    }
                }
                default -> throw new IllegalArgumentException("unknown probe " + args[0]);
            }
        } catch (Exception e) {
            stderr.println("probe " + args[0] + " failed: " + e);
            e.printStackTrace(stderr);
            return 1;
        }
        stdout.println(json.writeValueAsString(out));
        return 0;
    }
}
