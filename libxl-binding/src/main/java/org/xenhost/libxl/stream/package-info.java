/**
 * The Xen migration stream v2: the libxl layer (header "LibxlFmt", records END, LIBXC_CONTEXT, emulator records,
 * checkpoint records), the libxc layer it carries (image and domain headers, PAGE_DATA and the CPU/device state
 * records, v2 and v3) and the xl save-file header that {@code xl save} puts in front of it.
 *
 * <p>Entry points: {@link org.xenhost.libxl.stream.StreamWriter} writes a stream record by record,
 * {@link org.xenhost.libxl.stream.StreamReader} reads one and rejects anything libxl/libxenguest would reject (and a
 * little more: order, guest size), {@link org.xenhost.libxl.stream.StreamTap} watches a stream flow past for progress
 * reporting. Guest memory moves in {@link org.xenhost.libxl.stream.PageBatch}es, one reusable buffer per PAGE_DATA
 * record, so pages are copied once between guest memory and the stream and nothing is allocated per page.
 *
 * <p>Only little-endian streams (everything x86 Xen writes) are supported; big-endian ones are refused by name, as
 * libxl and libxenguest refuse them.
 */
package org.xenhost.libxl.stream;
