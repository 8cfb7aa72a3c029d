package org.xenhost.driver.api;

import java.util.List;

/**
 * {@code xenhost dominfo}.
 *
 * @param devices         BDFs passed through to the domain
 * @param interruptedJob  a job that was running when the daemon last stopped, e.g. "save (phase streaming)
 *                        interrupted at 2026-11-27T10:00:00Z", or null
 */
public record DomainDetails(DomainSummary summary, String type, long maxMemoryMiB, List<String> devices,
                            String interruptedJob) {
    public DomainDetails {
        devices = List.copyOf(devices);
    }
}
