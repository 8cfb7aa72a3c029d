package org.xenhost.libxl.jna;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xenhost.libxl.SaveProgress;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * libxl's logger path end to end: libxentoollog's real stdio logger prints into our pipe, the drain thread turns
 * lines into SLF4J records, progress reports and quotable errors. Driven by calling libxentoollog directly, as
 * libxl and its save helper do.
 */
class XenLogTest {
    /** The two libxentoollog entry points libxl itself uses to report; test-only mapping. */
    interface Xtl extends Library {
        void xtl_progress(Pointer logger, String context, String doingWhat, NativeLong done, NativeLong total);

        void xtl_log(Pointer logger, int level, int errnoval, String context, String format, Object... args);
    }

    private static Xtl xtl;

    @BeforeAll
    static void prerequisites() {
        XenPrerequisites.requireLibxenDev();
        xtl = Native.load(NativeLibraries.TOOLLOG, Xtl.class, Map.of(Library.OPTION_STRING_ENCODING, "UTF-8"));
    }

    @Test
    void progressReportsReachListeners() throws Exception {
        try (XenLog log = XenLog.open()) {
            List<SaveProgress> seen = new CopyOnWriteArrayList<>();
            log.addProgressListener(seen::add);
            xtl.xtl_progress(log.logger(), "xc", "Frames iteration 1 of 5", new NativeLong(512),
                    new NativeLong(1024));
            xtl.xtl_progress(log.logger(), "xc", "Frames iteration 1 of 5", new NativeLong(1024),
                    new NativeLong(1024));
            log.errorsSince(0); // syncs with the reader
            assertEquals(List.of(new SaveProgress("Frames iteration 1 of 5", 50, 512, 1024),
                    new SaveProgress("Frames iteration 1 of 5", 100, 1024, 1024)), seen);
        }
    }

    @Test
    void errorsAreKeptForTheFailingCallsMessage() throws Exception {
        try (XenLog log = XenLog.open()) {
            xtl.xtl_log(log.logger(), 8 /* XTL_ERROR */, -1, "libxl", "before the mark: %s", "old");
            log.errorsSince(0);
            long mark = log.mark();
            xtl.xtl_log(log.logger(), 5 /* XTL_INFO */, -1, "libxl", "%s", "an info line");
            xtl.xtl_log(log.logger(), 8 /* XTL_ERROR */, 2 /* ENOENT */, "libxl", "cannot open %s", "/dev/xen/x");
            List<String> errors = log.errorsSince(mark);
            assertEquals(List.of("libxl: error: cannot open /dev/xen/x: No such file or directory"), errors);
        }
    }

    @Test
    void lineShapes() {
        XenLogLine l = XenLogLine.parse("libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle");
        assertEquals("libxl", l.context());
        assertEquals("error", l.level());
        assertTrue(l.isError());
        assertTrue(l.progress().isEmpty());
        assertEquals(new SaveProgress("Memory", 7, 3, 40),
                XenLogLine.parse("xc: detail: Memory: 3/40    7%").progress().orElseThrow());
        assertEquals(null, XenLogLine.parse("just text").level());
    }

    @Test
    void closeStopsTheReaderAndIsIdempotent() throws Exception {
        XenLog log = XenLog.open();
        log.close();
        log.close();
        assertTrue(log.errorsSince(0).isEmpty());
    }
}
