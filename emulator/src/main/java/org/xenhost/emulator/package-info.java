/**
 * The emulated Xen host: implements Libxl with guest memory, log-dirty tracking, pciback and the kernel's sysfs reactions, persistent across daemon restarts.
 */
package org.xenhost.emulator;
