package org.xenhost.libxl;

/**
 * One progress report from a save (suspend) or restore: libxenguest's "doing what" line and its counters
 * ({@code xentoollog}'s progress call). {@code total} may be 0 when the size is not known yet.
 *
 * @param doingWhat what is being done, e.g. {@code "Frames iteration 2 of 5"}
 * @param percent   0..100
 * @param done      units done (pages, usually)
 * @param total     units in this phase, or 0 if unknown
 */
public record SaveProgress(String doingWhat, int percent, long done, long total) {
}
