package org.xenhost.transport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay between a dialer and a listener, to break the link like a network would: {@link #kill()} resets
 * both TCP connections (peer crash, cable cut with RST), {@link #freeze()} stops forwarding but keeps the sockets
 * (a black hole: only timeouts notice).
 */
final class Relay implements AutoCloseable {
    private final ServerSocket listen;
    private final int target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private volatile boolean frozen;

    Relay(int target) throws IOException {
        this.target = target;
        this.listen = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "relay-accept");
        acceptor.setDaemon(true);
        threads.add(acceptor);
        acceptor.start();
    }

    int port() {
        return listen.getLocalPort();
    }

    private void acceptLoop() {
        try {
            while (true) {
                Socket a = listen.accept();
                Socket b = new Socket(InetAddress.getLoopbackAddress(), target);
                sockets.add(a);
                sockets.add(b);
                pump(a, b);
                pump(b, a);
            }
        } catch (IOException e) {
            // relay closed
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[256 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    while (frozen) {
                        Thread.sleep(50);
                    }
                    out.write(buf, 0, n);
                }
            } catch (IOException | InterruptedException e) {
                // killed
            }
        }, "relay-pump");
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    /** Resets every relayed connection (SO_LINGER 0 makes close() send RST). */
    void kill() {
        for (Socket s : sockets) {
            try {
                s.setSoLinger(true, 0);
                s.close();
            } catch (IOException e) {
                // already gone
            }
        }
        sockets.clear();
    }

    /** Stops forwarding in both directions without closing anything. */
    void freeze() {
        frozen = true;
    }

    @Override
    public void close() throws Exception {
        listen.close();
        kill();
        frozen = false;
        for (Thread t : threads) {
            t.join(5000);
        }
    }
}
