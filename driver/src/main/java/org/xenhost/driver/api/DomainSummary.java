package org.xenhost.driver.api;

/**
 * One line of {@code xenhost list}.
 *
 * @param domid     Xen's id while the domain exists, else null
 * @param state     running, paused, suspended, shut-off, crashed, or foreign (known to Xen, not to xenhost)
 * @param job       the modify job running on it (e.g. {@code save}), or null
 */
public record DomainSummary(String name, String uuid, Integer domid, String state, boolean persistent,
                            long memoryMiB, int vcpus, String job) {
}
