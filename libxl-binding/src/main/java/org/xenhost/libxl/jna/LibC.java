package org.xenhost.libxl.jna;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;

/** The few libc calls the binding needs: kernel pipes for libxl's fds, a {@code FILE*} for its logger, C heap. */
public interface LibC extends Library {
    /** {@code O_CLOEXEC} on Linux: libxl dup()s the stream fd into its helper itself, nobody else may inherit it. */
    int O_CLOEXEC = 0x80000;
    int EINTR = 4;
    int EPIPE = 32;
    /** {@code fcntl} commands that set and read a pipe's capacity (Linux 2.6.35+). */
    int F_SETPIPE_SZ = 1031;
    int F_GETPIPE_SZ = 1032;

    int pipe2(int[] fds, int flags) throws LastErrorException;

    int close(int fd) throws LastErrorException;

    /** fcntl with one int argument (the pipe-size commands). */
    int fcntl(int fd, int cmd, int arg) throws LastErrorException;

    NativeLong read(int fd, Pointer buf, NativeLong count) throws LastErrorException;

    NativeLong write(int fd, Pointer buf, NativeLong count) throws LastErrorException;

    Pointer fdopen(int fd, String mode);

    int fputs(String s, Pointer stream);

    int fflush(Pointer stream);

    int fclose(Pointer stream);

    Pointer malloc(NativeLong size);

    Pointer strdup(String s);

    void free(Pointer p);
}
