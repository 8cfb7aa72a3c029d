package org.xenhost.libxl.jna;

import com.sun.jna.Library;
import com.sun.jna.Pointer;

/** libxentoollog ({@code libxentoollog.so.1}): the logger libxl reports through. */
public interface ToollogLibrary extends Library {
    int XTL_DEBUG = 1;
    int XTL_DETAIL = 3;
    int XTL_STDIOSTREAM_HIDE_PROGRESS = 4;
    int XTL_STDIOSTREAM_PROGRESS_NO_CR = 16;

    /** A logger that prints {@code [context: ]level: message} lines to {@code f}; NULL on bad flags. */
    Pointer xtl_createlogger_stdiostream(Pointer f, int minLevel, int flags);

    void xtl_logger_destroy(Pointer logger);

}
