/**
 * Host PCI inventory: PCI addresses, the sysfs reader, config-space capabilities and OSHI host facts. Knows nothing of Xen.
 */
package org.xenhost.pci;
