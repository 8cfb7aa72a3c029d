package org.xenhost.driver.api;

/**
 * {@code xenhost domjobinfo}: {@code kind} is null when no job runs.
 *
 * @param state  "running", "none", or "interrupted" (by a daemon restart)
 */
public record JobInfo(String domain, String kind, String state, String phase, String since, boolean abortable) {
}
