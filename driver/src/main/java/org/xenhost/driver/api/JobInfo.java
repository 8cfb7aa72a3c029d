package org.xenhost.driver.api;

import org.xenhost.migration.MigrationStats;

/**
 * {@code xenhost domjobinfo}: {@code kind} is null when no job runs.
 *
 * @param state     "running", "none", or "interrupted" (by a daemon restart)
 * @param migration a migration's progress (either direction), or null when the job is not a migration
 */
public record JobInfo(String domain, String kind, String state, String phase, String since, boolean abortable,
                      MigrationStats migration) {
    public JobInfo(String domain, String kind, String state, String phase, String since, boolean abortable) {
        this(domain, kind, state, phase, since, abortable, null);
    }
}
