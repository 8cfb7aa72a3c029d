package org.xenhost.driver.api;

/**
 * One PCI function of the host as {@code xenhost nodedev-list} shows it: what sysfs says, where xenhost has put it,
 * and whether it could be given to a guest now.
 *
 * @param bdf              DDDD:BB:DD.F
 * @param pciClass         class code as 6 hex digits (e.g. {@code 020000}), or null if unreadable
 * @param className        the class in words (e.g. {@code Ethernet controller})
 * @param vendor           vendor id, 4 hex digits, or null
 * @param device           device id, 4 hex digits, or null
 * @param driver           the kernel driver bound now ({@code pciback} when assignable), or null
 * @param iommuGroup       the IOMMU group, or null when the host has none
 * @param placement        {@code host} (with dom0), {@code assignable} (on pciback, no guest, nothing in flight),
 *                         {@code moving} (the ownership journal has a hand-over in flight: a pool add or remove, a
 *                         start or a migration's replug taking it) or {@code attached}
 * @param owner            the domain that has it, or null
 * @param name             the operator's friendly name (nodedev-detach --name), or null
 * @param originalDriver   the dom0 driver nodedev-reattach binds it to again, or null
 * @param managed          attached as managed: it goes back to {@code originalDriver} when its domain stops
 * @param assignable       could it, alone, be given to a guest now
 * @param assignableReason when not, every reason; else null
 */
public record NodeDevice(String bdf, String pciClass, String className, String vendor, String device, String driver,
                         Integer iommuGroup, String placement, String owner, String name, String originalDriver,
                         boolean managed, boolean assignable, String assignableReason) {
}
