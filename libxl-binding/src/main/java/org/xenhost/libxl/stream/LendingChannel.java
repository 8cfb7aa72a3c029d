package org.xenhost.libxl.stream;

import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A readable channel that can also move its next bytes straight into another channel from its own buffers, with no
 * reader's buffer in between (a transport stream handing its decrypted buffers to a file write). A
 * {@link StreamReader} given a {@link PageSink} uses it for PAGE_DATA contents, which are nearly all of a migration.
 */
public interface LendingChannel extends ReadableByteChannel {
    /**
     * Writes the next {@code count} bytes into {@code dst}; a {@code dst} that takes fewer bytes than offered is
     * offered the rest again.
     *
     * @return bytes moved: {@code count}, or fewer only at the end of input
     */
    long transferTo(long count, WritableByteChannel dst) throws IOException;
}
