/**
 * {@code xenhost demo}: two xenhostd processes on loopback over copies of a fixture host, a guest with a
 * passed-through device, save/restore and a live migration, all in a throwaway working directory that is removed
 * again (also on Ctrl-C or failure). The CLI command ({@code cli.DemoCommand}) only presents what
 * {@link org.xenhost.daemon.demo.DemoRun} does.
 */
package org.xenhost.daemon.demo;
