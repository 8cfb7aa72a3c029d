/**
 * xenhostd, its admin API on a UNIX socket and the xenhost CLI: the composition root.
 */
package org.xenhost.daemon;
