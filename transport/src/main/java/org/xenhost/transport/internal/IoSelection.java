package org.xenhost.transport.internal;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.xenhost.transport.TransportConfig;

/**
 * Native epoll or Java NIO, decided once per transport.
 *
 * @param name          "epoll" or "NIO"
 * @param factory       the I/O handler factory of the event loops
 * @param serverChannel listening socket class
 * @param channel       connected socket class
 */
record IoSelection(String name, IoHandlerFactory factory, Class<? extends ServerChannel> serverChannel,
                   Class<? extends SocketChannel> channel) {

    static IoSelection choose(TransportConfig.IoKind want) {
        boolean epoll = switch (want) {
            case NIO -> false;
            case EPOLL -> {
                if (!Epoll.isAvailable()) {
                    throw new IllegalStateException("epoll requested but not available: " + Epoll.unavailabilityCause());
                }
                yield true;
            }
            case AUTO -> {
                if (!Epoll.isAvailable()) {
                    org.slf4j.LoggerFactory.getLogger(IoSelection.class).info("netty's epoll transport cannot load, using NIO: {}",
                            String.valueOf(Epoll.unavailabilityCause()));
                }
                yield Epoll.isAvailable();
            }
        };
        return epoll
                ? new IoSelection("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class)
                : new IoSelection("NIO", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class);
    }
}
