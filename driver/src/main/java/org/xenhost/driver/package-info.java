/**
 * The common Driver interface (like libvirt's virDriver), XenDriver over Libxl and the host-device manager, per-domain jobs and domain state.
 */
package org.xenhost.driver;
