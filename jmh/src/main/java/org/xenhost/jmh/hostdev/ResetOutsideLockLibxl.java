package org.xenhost.jmh.hostdev;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;

import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.List;

/**
 * Control for {@link HostdevConcurrency}: the emulated libxl with instant resets, plus the reset time spent here
 * after each call, outside the emulator's PCI lock, the way a real kernel resets different devices at the same
 * time. pciback resets a function when it binds it (assignable-add) and when it unbinds it (assignable-remove),
 * so that is one reset per call. This separates the manager's own serialisation from the emulator's.
 */
final class ResetOutsideLockLibxl implements Libxl {
    private final Libxl real;
    private final long resetMillis;

    ResetOutsideLockLibxl(Libxl real, long resetMillis) {
        this.real = real;
        this.resetMillis = resetMillis;
    }

    private void reset() throws LibxlException {
        try {
            Thread.sleep(resetMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LibxlException(org.xenhost.libxl.LibxlError.FAIL, "interrupted during a reset");
        }
    }

    @Override
    public void assignableAdd(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        real.assignableAdd(pci, rebind);
        reset();
    }

    @Override
    public void assignableRemove(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        real.assignableRemove(pci, rebind);
        reset();
    }

    @Override public HostInfo hostInfo() throws LibxlException { return real.hostInfo(); }
    @Override public List<DomainInfo> listDomains() throws LibxlException { return real.listDomains(); }
    @Override public DomainInfo domainInfo(int domid) throws LibxlException { return real.domainInfo(domid); }
    @Override public int createDomain(String json, boolean paused) throws LibxlException { return real.createDomain(json, paused); }
    @Override public String domainConfigJson(int domid) throws LibxlException { return real.domainConfigJson(domid); }
    @Override public void pause(int domid) throws LibxlException { real.pause(domid); }
    @Override public void unpause(int domid) throws LibxlException { real.unpause(domid); }
    @Override public void shutdown(int domid) throws LibxlException { real.shutdown(domid); }
    @Override public void destroy(int domid) throws LibxlException { real.destroy(domid); }
    @Override public void resume(int domid) throws LibxlException { real.resume(domid); }
    @Override public void rename(int domid, String o, String n) throws LibxlException { real.rename(domid, o, n); }

    @Override
    public void suspend(int domid, WritableByteChannel target, boolean live, boolean debug, ProgressListener p)
            throws LibxlException {
        real.suspend(domid, target, live, debug, p);
    }

    @Override
    public int createRestore(String json, ReadableByteChannel source, int v, boolean paused, ProgressListener p)
            throws LibxlException {
        return real.createRestore(json, source, v, paused, p);
    }

    @Override public List<LibxlDevicePci> assignableList() throws LibxlException { return real.assignableList(); }
    @Override public void pciAdd(int domid, LibxlDevicePci pci) throws LibxlException { real.pciAdd(domid, pci); }
    @Override public void pciRemove(int domid, LibxlDevicePci pci, boolean f) throws LibxlException { real.pciRemove(domid, pci, f); }
    @Override public List<LibxlDevicePci> pciList(int domid) throws LibxlException { return real.pciList(domid); }
    @Override public void pciReset(LibxlDevicePci pci) throws LibxlException { real.pciReset(pci); }
    @Override public void close() { real.close(); }
}
