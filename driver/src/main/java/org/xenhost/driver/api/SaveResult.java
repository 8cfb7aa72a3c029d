package org.xenhost.driver.api;

/** What {@code xenhost save} wrote. */
public record SaveResult(String file, long bytes, long pages, long millis) {
}
