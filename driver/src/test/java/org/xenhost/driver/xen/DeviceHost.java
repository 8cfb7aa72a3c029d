package org.xenhost.driver.xen;

import org.xenhost.emulator.EmulatedLibxl;
import org.xenhost.emulator.HostSettings;
import org.xenhost.hostdev.HostCriticalDevices;
import org.xenhost.hostdev.HostdevManager;
import org.xenhost.hostdev.StepHook;
import org.xenhost.libxl.Libxl;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test's emulated host with PCI devices: a private copy of a fixtures/sysfs tree, the emulated hypervisor and
 * kernel over it, and a host-device manager that reaches libxl through a counter of calls by method name.
 */
final class DeviceHost implements AutoCloseable {
    final Path tree;
    final EmulatedLibxl xen;
    /** What the manager and driver are given: {@link #xen}, each call counted in {@link #calls}. */
    final Libxl libxl;
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    final HostdevManager manager;

    DeviceHost(String fixture, Path dir) throws IOException, org.xenhost.hostdev.HostdevException {
        tree = dir.resolve("sysfs");
        org.xenhost.fixtures.Fixtures.copyTree(fixture, tree);
        xen = EmulatedLibxl.open(dir.resolve("xen"), tree, HostSettings.DEFAULT.withTotalMemory(8L << 30));
        libxl = (Libxl) Proxy.newProxyInstance(Libxl.class.getClassLoader(), new Class<?>[]{Libxl.class},
                (proxy, method, args) -> {
                    calls.computeIfAbsent(method.getName(), k -> new AtomicInteger()).incrementAndGet();
                    try {
                        return method.invoke(xen, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        manager = HostdevManager.start(libxl, tree, dir.resolve("state"), new HostCriticalDevices.Sources(tree,
                tree.resolve("proc/mounts"), tree.resolve("proc/net/route"), null), StepHook.NONE);
    }

    int calls(String method) {
        AtomicInteger n = calls.get(method);
        return n == null ? 0 : n.get();
    }

    /** The driver sysfs shows for a device, or null. */
    String driver(String bdf) throws IOException {
        Path link = tree.resolve("sys/bus/pci/devices").resolve(bdf).resolve("driver");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    @Override
    public void close() {
        manager.close();
        xen.close();
    }
}
