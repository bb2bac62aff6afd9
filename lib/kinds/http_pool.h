/*
 * http_pool.h — the connections of the `http` kind: one pool per daemon,
 * like one aiohttp.ClientSession shared by every http job.
 *
 * Connections are libevent evhttp_connections, one TCP (or TLS) connection
 * each, kept per scheme://host:port.  A request first takes one of its
 * host's permits (http_per_host of them, FIFO), then a connection: an idle
 * one kept alive from an earlier request, or a new one to an address of
 * the host (resolved asynchronously with evdns on the loop).  Since a new
 * connection is made only when no idle one is left, a host never has more
 * connections, busy and idle together, than permits.
 *
 * Idle connections are bounded (HTTP_IDLE_MAX over all hosts, the oldest
 * closed first) and closed after HTTP_IDLE_TIMEOUT; one the server closes
 * while idle is noticed and freed, never handed out.  A connection is never
 * reconnected under the same object: once its socket is gone, it is freed.
 *
 * Every new connection goes to an address the pool's lists allow
 * (http_pool_policy; netacl.h), checked after the name is resolved and
 * connected to as checked, so no later lookup can swap it; an idle
 * connection is checked again before it is reused.
 *
 * https:// connections verify the server's certificate against the system
 * CA store (SSL_CERT_FILE / SSL_CERT_DIR override it, as for every OpenSSL
 * program), check the host name (or IP address) in it, and send SNI.
 */
#ifndef JOBD_HTTP_POOL_H
#define JOBD_HTTP_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

struct event_base;
struct evutil_addrinfo;
struct netacl;
struct http_pool;
struct http_host;
struct http_conn;

/* Idle connections kept over all hosts, and for how long (seconds). */
#define HTTP_IDLE_MAX      256
#define HTTP_IDLE_TIMEOUT  15
/* Seconds a connection may wait for one step: the connect and TLS
 * handshake, and then each read or write of the exchange.  A server silent
 * for longer fails the request even when the job has no timeout. */
#define HTTP_IO_TIMEOUT    60
/* Bytes of a response's status line and headers. */
#define HTTP_HEAD_MAX      (64 * 1024)
/* Addresses of one host name that are tried, in the resolver's order,
 * when connecting to the earlier ones fails. */
#define HTTP_ADDRS_MAX     4

/* Where a request goes: the pool's key is scheme://host:port. */
struct http_target {
	bool tls;               /* https */
	const char *host;       /* a name or an address; IPv6 without [] */
	int port;               /* 1..65535 */
};

/* One request's hold on a host: a permit, and the host's addresses once
 * resolved.  Lives on the caller's stack; the fields are private. */
struct http_lease {
	struct http_host *host;
	struct evutil_addrinfo *addrs;  /* resolved, or NULL */
	struct evutil_addrinfo *addr;   /* the one new connections go to */
	int tried;                      /* addresses given up on */
};

/* Counters, for tests and logs. */
struct http_pool_stats {
	unsigned long long opened;      /* connections made */
	unsigned long long reused;      /* requests on an idle connection */
	size_t idle;                    /* idle connections now */
	size_t hosts;                   /* hosts with a lease or an idle one */
};

/* A pool on base with per_host permits per host (>= 1), and its resolver
 * (/etc/resolv.conf, /etc/hosts).  The TLS context is made at the first
 * https request, on a thread: loading the CA store takes 30 to 150 ms and
 * 4 MiB that a daemon without https need not pay.  0 and *out, or a
 * negative errno (-EIO: no resolver; logged). */
int http_pool_new(struct event_base *base, int per_host,
    struct http_pool **out);

/* Close every connection and free p (NULL is fine).  No lease may be
 * held.  Called outside any task. */
void http_pool_free(struct http_pool *p);

void http_pool_stats(const struct http_pool *p, struct http_pool_stats *st);

/* Where connections may go from now on: allow and deny as netacl_check
 * takes them (NULL: empty), borrowed until the next call or the pool's
 * free.  A new pool has both empty: the built-in blocks are denied. */
void http_pool_policy(struct http_pool *p, const struct netacl *allow,
    const struct netacl *deny);

/* Take a permit of t's host, waiting in FIFO order.  0 (release it with
 * http_pool_release), -ECANCELED, -ETIMEDOUT or -ENOMEM (nothing held). */
__attribute__((warn_unused_result))
int http_pool_acquire(struct http_pool *p, const struct http_target *t,
    struct http_lease *l);

/* Give the permit back; every connection taken under it must have been
 * handed back first (http_pool_done). */
void http_pool_release(struct http_lease *l);

/* A connection for the lease's next request: an idle one when idle_ok and
 * there is one, else a new one (not yet connected: that happens with its
 * first request) to the lease's current address, resolving the name first
 * if need be (and making the TLS context, the first time).  0 and *out,
 * -ECANCELED / -ETIMEDOUT (while waiting for either), -EACCES when the
 * lists deny every address left ("destination 127.0.0.1 of
 * localhost:8080 is denied: ..."), or another negative errno with err
 * filled ("resolve NAME: ..."). */
__attribute__((warn_unused_result))
int http_pool_conn(struct http_lease *l, bool idle_ok, struct http_conn **out,
    char *err, size_t errlen);

/* Move the lease to the host's next address, for a new connection after
 * one to the current address failed to connect.  False if there is none
 * left (or the lease never resolved a name). */
bool http_lease_next(struct http_lease *l);

/* Hand c back: kept idle for a later request when keep (and its server
 * has not closed it), else closed and freed.  A connection whose request
 * was cancelled or failed must never be kept. */
void http_pool_done(struct http_conn *c, bool keep);

/* Send req on c (evhttp_make_request: c owns req from then on; it is
 * freed on failure).  0 or -ENOMEM.  req's callbacks may have run, with
 * a failure, before this returns. */
int http_conn_request(struct http_conn *c, struct evhttp_request *req,
    enum evhttp_cmd_type type, const char *uri);

/* Did c serve a request before this one? */
bool http_conn_reused(const struct http_conn *c);

/* Has c been connected (TCP, and TLS for https) at some point? */
bool http_conn_connected(const struct http_conn *c);

/* "host:port" as the URL named it. */
const char *http_conn_name(const struct http_conn *c);

/* Why c never connected, as a sentence: "connect to 127.0.0.1:9:
 * Connection refused", "TLS handshake with example.com:443: certificate
 * verify failed: ...".  Returns buf. */
const char *http_conn_failure(const struct http_conn *c, char *buf,
    size_t len);

#endif /* JOBD_HTTP_POOL_H */
