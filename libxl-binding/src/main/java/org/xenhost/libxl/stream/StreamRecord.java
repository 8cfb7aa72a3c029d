package org.xenhost.libxl.stream;

/**
 * One item of a migration stream, in stream order: the headers of both layers and the records of both layers.
 * {@link StreamReader#next()} yields them; {@link StreamWriter#write(StreamRecord)} takes them.
 */
public sealed interface StreamRecord permits LibxlHeader, ImageHeader, DomainHeader, LibxlRecord, LibxcRecord {
    /** Name for logs and error messages, e.g. {@code "libxc PAGE_DATA record"}. */
    String label();
}
