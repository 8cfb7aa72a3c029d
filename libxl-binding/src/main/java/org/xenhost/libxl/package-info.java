/**
 * The Libxl interface (what xenhost needs of libxenlight), its JNA binding, the xl.cfg PCI spec parser and the migration stream v2 codec.
 */
package org.xenhost.libxl;
