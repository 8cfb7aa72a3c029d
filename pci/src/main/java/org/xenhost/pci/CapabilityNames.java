package org.xenhost.pci;

/**
 * Names of PCI capability IDs (PCI Local Bus 3.0 appendix H, PCI Code and ID Assignment spec) and PCI Express
 * extended capability IDs, for display. Unknown IDs get a generic name carrying the number.
 */
final class CapabilityNames {
    private CapabilityNames() {
    }

    private static final String[] STANDARD = {
        null, "Power Management", "AGP", "Vital Product Data", "Slot Identification", "MSI",
        "CompactPCI Hot Swap", "PCI-X", "HyperTransport", "Vendor Specific", "Debug Port",
        "CompactPCI Central Resource Control", "PCI Hot-Plug", "Bridge Subsystem Vendor ID", "AGP 8x",
        "Secure Device", "PCI Express", "MSI-X", "SATA Data/Index Configuration", "PCI Advanced Features",
        "Enhanced Allocation", "Flattening Portal Bridge",
    };

    private static final String[] EXTENDED = {
        null, "Advanced Error Reporting", "Virtual Channel", "Device Serial Number", "Power Budgeting",
        "Root Complex Link Declaration", "Root Complex Internal Link Control", "Root Complex Event Collector Endpoint Association",
        "Multi-Function Virtual Channel", "Virtual Channel (MFVC present)", "Root Complex Register Block",
        "Vendor-Specific Extended", "Configuration Access Correlation", "Access Control Services",
        "Alternative Routing-ID Interpretation", "Address Translation Services", "Single Root I/O Virtualization",
        "Multi-Root I/O Virtualization", "Multicast", "Page Request Interface", "AMD Reserved", "Resizable BAR",
        "Dynamic Power Allocation", "TLP Processing Hints", "Latency Tolerance Reporting", "Secondary PCI Express",
        "Protocol Multiplexing", "Process Address Space ID", "LN Requester", "Downstream Port Containment",
        "L1 PM Substates", "Precision Time Measurement", "M-PCIe", "FRS Queueing", "Readiness Time Reporting",
        "Designated Vendor-Specific", "VF Resizable BAR", "Data Link Feature", "Physical Layer 16.0 GT/s",
        "Lane Margining at the Receiver", "Hierarchy ID", "Native PCIe Enclosure Management",
        "Physical Layer 32.0 GT/s", "Alternate Protocol", "System Firmware Intermediary", "Shadow Functions",
        "Data Object Exchange", "Device 3", "Integrity and Data Encryption", "Physical Layer 64.0 GT/s",
        "Flit Logging", "Flit Performance Measurement", "Flit Error Injection",
    };

    static String standard(int id) {
        return id > 0 && id < STANDARD.length ? STANDARD[id] : String.format("Capability %02x", id);
    }

    static String extended(int id) {
        return id > 0 && id < EXTENDED.length ? EXTENDED[id] : String.format("Extended capability %04x", id);
    }
}
