/**
 * The PCI passthrough lifecycle: assignable pool, attach and detach, managed devices, safety checks, reset selection and the crash-safe ownership journal.
 */
package org.xenhost.hostdev;
