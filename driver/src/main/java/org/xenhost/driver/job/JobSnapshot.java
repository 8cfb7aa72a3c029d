package org.xenhost.driver.job;

import java.time.Instant;

/** What {@code domjobinfo} shows of a running job. */
public record JobSnapshot(String domain, JobKind kind, Instant started, String phase, boolean abortable,
                          boolean abortRequested) {
}
