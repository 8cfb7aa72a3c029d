/*
 * tls_stream: what OpenSSL itself achieves for one TLS 1.3 stream over loopback, as the baseline of
 * TransportThroughput.tlsStream. The parent process receives, a forked child sends; both authenticate with the
 * same certificate (mutual TLS, like xenhost), the sender writes 1 MiB per SSL_write, the receiver reads into a
 * 1 MiB buffer (read-ahead on, 256 KiB read buffer, like the transport's 256 KiB socket reads). The receiver times from the end of the handshake to the last byte and prints MB/s (10^6 bytes/s).
 *
 * usage: tls_stream CERT KEY MEBIBYTES [CIPHERSUITE]
 *   CIPHERSUITE defaults to TLS_AES_128_GCM_SHA256, the suite xenhost's BoringSSL negotiates.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static void die(const char *what) {
    fprintf(stderr, "tls_stream: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static SSL_CTX *context(int server, const char *cert, const char *key, const char *suite) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    if (SSL_CTX_set_ciphersuites(ctx, suite) != 1) die("unknown TLS 1.3 cipher suite");
    if (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1) die("certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die("private key");
    if (SSL_CTX_load_verify_locations(ctx, cert, NULL) != 1) die("trust anchor");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* a fair, tuned baseline: without read-ahead OpenSSL reads each record with two syscalls (header, body) */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
    return ctx;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CERT KEY MEBIBYTES [CIPHERSUITE]\n", argv[0]);
        return 2;
    }
    const char *cert = argv[1], *key = argv[2];
    long long total = atoll(argv[3]) * (long long) CHUNK;
    const char *suite = argc > 4 ? argv[4] : "TLS_AES_128_GCM_SHA256";
    if (total <= 0) die("MEBIBYTES must be positive");

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) || listen(ls, 1) || getsockname(ls, (struct sockaddr *) &addr, &alen))
        die("listen");

    pid_t child = fork();
    if (child == 0) { /* sender */
        close(ls);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *) &addr, sizeof addr)) die("connect");
        SSL_CTX *ctx = context(0, cert, key, suite);
        SSL *ssl = SSL_new(ctx);
        SSL_set_fd(ssl, s);
        if (SSL_connect(ssl) != 1) die("client handshake");
        char *buf = malloc(CHUNK);
        memset(buf, 0x5a, CHUNK);
        for (long long sent = 0; sent < total; sent += CHUNK) {
            size_t w;
            if (SSL_write_ex(ssl, buf, CHUNK, &w) != 1 || w != CHUNK) die("SSL_write");
        }
        /* wait for the receiver to finish: closing now would reset the connection while data is in flight
           (the unread session tickets in our receive buffer turn close() into an RST) */
        SSL_shutdown(ssl);
        while (SSL_read(ssl, buf, CHUNK) > 0) {
        }
        _exit(0);
    }
    int s = accept(ls, NULL, NULL);
    if (s < 0) die("accept");
    SSL_CTX *ctx = context(1, cert, key, suite);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, s);
    if (SSL_accept(ssl) != 1) die("server handshake");
    char *buf = malloc(CHUNK);
    long long got = 0;
    double start = now();
    while (got < total) {
        size_t r;
        if (SSL_read_ex(ssl, buf, CHUNK, &r) != 1) {
            fprintf(stderr, "tls_stream: SSL_read failed after %lld bytes (SSL error %d)\n", got, SSL_get_error(ssl, 0));
            die("SSL_read");
        }
        got += r;
    }
    double secs = now() - start;
    SSL_shutdown(ssl);
    close(s);
    waitpid(child, NULL, 0);
    /* CPU of both processes (whole run, handshake included): cost per byte independent of machine contention */
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    double cpu = self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + self.ru_stime.tv_sec + self.ru_stime.tv_usec / 1e6
               + kids.ru_utime.tv_sec + kids.ru_utime.tv_usec / 1e6 + kids.ru_stime.tv_sec + kids.ru_stime.tv_usec / 1e6;
    printf("openssl %s %s: %lld bytes in %.3f s = %.1f MB/s; CPU %.3f s per GB\n", OpenSSL_version(OPENSSL_VERSION),
           SSL_get_cipher(ssl), got, secs, got / secs / 1e6, cpu / (got / 1e9));
    return 0;
}
