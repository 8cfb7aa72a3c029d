/**
 * Netty implementation of the transport: frames and their codec, the per-connection multiplexer with flow control,
 * TLS context and socket selection. Not API: only {@code org.xenhost.transport} is.
 */
package org.xenhost.transport.internal;
