/**
 * The mutually authenticated TLS channel between two daemons (Netty) and the Bouncy Castle PKI. Knows nothing of Xen.
 */
package org.xenhost.transport;
