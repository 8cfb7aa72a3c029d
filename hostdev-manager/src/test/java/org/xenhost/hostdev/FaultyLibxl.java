package org.xenhost.hostdev;

import org.xenhost.libxl.DomainInfo;
import org.xenhost.libxl.HostInfo;
import org.xenhost.libxl.Libxl;
import org.xenhost.libxl.LibxlDevicePci;
import org.xenhost.libxl.LibxlError;
import org.xenhost.libxl.LibxlException;
import org.xenhost.libxl.ProgressListener;

import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.List;

/**
 * The emulated libxl with one injected failure: the named PCI operation on the named device fails with
 * ERROR_FAIL before it changes anything, as libxl does when e.g. pciback refuses the bind.
 */
final class FaultyLibxl implements Libxl {
    private final Libxl real;
    private volatile String failOp;
    private volatile String failBdf;
    /** Calls made through this libxl, to show which paths never touch it. */
    final java.util.concurrent.atomic.AtomicLong calls = new java.util.concurrent.atomic.AtomicLong();

    FaultyLibxl(Libxl real) {
        this.real = real;
    }

    void failOn(String op, String bdf) {
        failOp = op;
        failBdf = bdf;
    }

    private void maybeFail(String op, LibxlDevicePci pci) throws LibxlException {
        if (op.equals(failOp) && pci.bdf().equals(failBdf)) {
            throw new LibxlException(LibxlError.FAIL, "injected failure of " + op + " " + pci.bdf());
        }
    }

    @Override public HostInfo hostInfo() throws LibxlException { calls.incrementAndGet(); return real.hostInfo(); }
    @Override public List<DomainInfo> listDomains() throws LibxlException { calls.incrementAndGet(); return real.listDomains(); }
    @Override public DomainInfo domainInfo(int domid) throws LibxlException { calls.incrementAndGet(); return real.domainInfo(domid); }
    @Override public int createDomain(String json, boolean paused) throws LibxlException { calls.incrementAndGet(); return real.createDomain(json, paused); }
    @Override public String domainConfigJson(int domid) throws LibxlException { calls.incrementAndGet(); return real.domainConfigJson(domid); }
    @Override public void pause(int domid) throws LibxlException { calls.incrementAndGet(); real.pause(domid); }
    @Override public void unpause(int domid) throws LibxlException { calls.incrementAndGet(); real.unpause(domid); }
    @Override public void shutdown(int domid) throws LibxlException { calls.incrementAndGet(); real.shutdown(domid); }
    @Override public void destroy(int domid) throws LibxlException { calls.incrementAndGet(); real.destroy(domid); }
    @Override public void resume(int domid) throws LibxlException { calls.incrementAndGet(); real.resume(domid); }
    @Override public void rename(int domid, String o, String n) throws LibxlException { calls.incrementAndGet(); real.rename(domid, o, n); }

    @Override
    public void suspend(int domid, WritableByteChannel target, boolean live, boolean debug, ProgressListener p)
            throws LibxlException {
        calls.incrementAndGet();
        real.suspend(domid, target, live, debug, p);
    }

    @Override
    public int createRestore(String json, ReadableByteChannel source, int v, boolean paused, ProgressListener p)
            throws LibxlException {
        calls.incrementAndGet();
        return real.createRestore(json, source, v, paused, p);
    }

    @Override
    public void assignableAdd(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        calls.incrementAndGet();
        maybeFail("assignableAdd", pci);
        real.assignableAdd(pci, rebind);
    }

    @Override
    public void assignableRemove(LibxlDevicePci pci, boolean rebind) throws LibxlException {
        calls.incrementAndGet();
        maybeFail("assignableRemove", pci);
        real.assignableRemove(pci, rebind);
    }

    @Override public List<LibxlDevicePci> assignableList() throws LibxlException { calls.incrementAndGet(); return real.assignableList(); }

    @Override
    public void pciAdd(int domid, LibxlDevicePci pci) throws LibxlException {
        calls.incrementAndGet();
        maybeFail("pciAdd", pci);
        real.pciAdd(domid, pci);
    }

    @Override
    public void pciRemove(int domid, LibxlDevicePci pci, boolean force) throws LibxlException {
        calls.incrementAndGet();
        maybeFail("pciRemove", pci);
        real.pciRemove(domid, pci, force);
    }

    @Override
    public void pciReset(LibxlDevicePci pci) throws LibxlException {
        calls.incrementAndGet();
        maybeFail("pciReset", pci);
        real.pciReset(pci);
    }

    @Override public List<LibxlDevicePci> pciList(int domid) throws LibxlException { calls.incrementAndGet(); return real.pciList(domid); }
    @Override public void close() { }
}
