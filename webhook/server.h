/*
 * The HTTPS server (libmicrohttpd with a thread pool): the admission
 * endpoints, /healthz, /readyz and /metrics. Bodies are capped, idle
 * connections time out, and a stop first drains requests in flight. The
 * certificate and key files are watched: when they change, a new daemon
 * with the new certificate takes over the listening socket, and the old one
 * finishes its connections before it stops.
 */
#ifndef MASON_SERVER_H
#define MASON_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include "admission.h"
#include "buf.h"
#include "metrics.h"

struct mason_server_options {
    const char *listen;      /* host:port or [v6]:port; port 0 picks a free port */
    const char *cert_file;   /* serving certificate chain, PEM */
    const char *key_file;    /* private key, PEM */
    unsigned reload_seconds; /* how often the files are checked for a change; 0 never */
    size_t max_body_bytes;
    unsigned timeout_seconds; /* a connection idle this long is closed */
    unsigned threads;
};

struct mason_server;

/*
 * Starts serving. admission and metrics are borrowed and must outlive the
 * server. Returns NULL with err saying why (invalid listen address, the
 * address in use, unreadable files, a certificate the TLS library rejects).
 */
struct mason_server *mason_server_start(const struct mason_server_options *opts,
                                        const struct mason_admission *admission,
                                        struct mason_metrics *metrics, struct mason_buf *err);

/* Returns the port the server listens on. */
uint16_t mason_server_port(const struct mason_server *server);

/*
 * Stops the server: /readyz returns 503, no new connection is accepted, and
 * requests in flight get up to grace_seconds to finish before the rest are
 * closed. Frees server; NULL is a no-op.
 */
void mason_server_stop(struct mason_server *server, unsigned grace_seconds);

/* Splits "host:port" or "[v6]:port" into a socket address. Returns 0 or MASON_EINVAL. */
int mason_server_parse_listen(const char *listen, struct sockaddr_storage *addr,
                              struct mason_buf *err);

#endif
