import java.lang.management.ManagementFactory;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Two builds of the pci module side by side in one JVM (jmh/README.md, PciEnumeration, "Session 4"): each build's
 * classes in its own class loader, scans of TREE alternating between them (10 warm-up rounds, then ROUNDS), CPU and
 * wall time per function for each. On a shared machine the ratio is steadier than two separate runs.
 * Usage: java -cp JNA_JAR jmh/PciAB.java TREE THREADS ROUNDS CLASSES_A CLASSES_B
 */
public class PciAB {
    public static void main(String[] a) throws Exception {
        if (a.length != 5) {
            System.err.println("usage: java -cp JNA_JAR jmh/PciAB.java SYSFS_ROOT THREADS ROUNDS CLASSES_A CLASSES_B");
            System.exit(2);
        }
        Path tree = Path.of(a[0]);
        int threads = Integer.parseInt(a[1]);
        int rounds = Integer.parseInt(a[2]);
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        var tm = ManagementFactory.getThreadMXBean();
        Object[] readers = new Object[2];
        Method[] scan = new Method[2];
        for (int i = 0; i < 2; i++) {
            URLClassLoader l = new URLClassLoader(new URL[] {Path.of(a[3 + i]).toUri().toURL()}, PciAB.class.getClassLoader());
            Class<?> c = l.loadClass("org.xenhost.pci.SysfsPciReader");
            Constructor<?> k = c.getConstructor(Path.class, int.class);
            readers[i] = k.newInstance(tree, threads);
            scan[i] = c.getMethod("scan");
        }
        int n = 0;
        double[][] cpu = new double[2][rounds], thr = new double[2][rounds], wall = new double[2][rounds];
        for (int r = -10; r < rounds; r++) {
            for (int i = 0; i < 2; i++) {
                int w = (r + i) & 1; // alternate which goes first
                long p0 = os.getProcessCpuTime(), t0 = tm.getCurrentThreadCpuTime(), w0 = System.nanoTime();
                Object inv = scan[w].invoke(readers[w]);
                long p1 = os.getProcessCpuTime(), t1 = tm.getCurrentThreadCpuTime(), w1 = System.nanoTime();
                n = ((java.util.List<?>) inv.getClass().getMethod("devices").invoke(inv)).size();
                if (r >= 0) {
                    cpu[w][r] = (p1 - p0) / 1e3 / n;
                    thr[w][r] = (t1 - t0) / 1e3 / n;
                    wall[w][r] = (w1 - w0) / 1e3 / n;
                }
            }
        }
        for (int i = 0; i < 2; i++) {
            System.out.printf("%s: %d functions; us/function median (min): process CPU %.1f (%.1f), scanning thread CPU %.1f (%.1f), wall %.1f (%.1f)%n",
                    i == 0 ? "A" : "B", n, med(cpu[i]), min(cpu[i]), med(thr[i]), min(thr[i]), med(wall[i]), min(wall[i]));
        }
    }
    static double med(double[] v) { double[] c = v.clone(); Arrays.sort(c); return c[c.length / 2]; }
    static double min(double[] v) { return Arrays.stream(v).min().orElse(0); }
}
