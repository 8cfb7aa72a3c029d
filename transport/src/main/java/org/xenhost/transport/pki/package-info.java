/**
 * The daemons' private certificate authority (Bouncy Castle): creating the CA, issuing host certificates usable as
 * TLS server and client, and loading them back with the checks an operator needs (key file mode, validity dates).
 */
package org.xenhost.transport.pki;
