package org.xenhost.pci;

/** Prints {@link HostFactsReader#read()} one fact per line; run in a child JVM with OSHI pointed at a fixture. */
public final class HostFactsProbe {
    private HostFactsProbe() {
    }

    public static void main(String[] args) {
        HostFacts f = HostFactsReader.read();
        System.out.println("memoryTotalBytes=" + f.memoryTotalBytes());
        System.out.println("memoryAvailableBytes=" + f.memoryAvailableBytes());
        System.out.println("cpuVendor=" + f.cpuVendor());
        System.out.println("cpuModel=" + f.cpuModel());
        System.out.println("logicalCpus=" + f.logicalCpus());
        System.out.println("cpuFlags=" + String.join(" ", f.cpuFlags()));
        System.out.println("hardwareVirtualization=" + f.hardwareVirtualization());
        System.out.println("numaNodes=" + f.numaNodes().size());
    }
}
