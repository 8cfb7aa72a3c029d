/**
 * Live migration: the begin/prepare/perform/finish/confirm phases, the commit handshake, the data path and progress.
 */
package org.xenhost.migration;
