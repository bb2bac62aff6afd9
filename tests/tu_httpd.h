/*
 * tu_httpd.h — a small HTTP/1.1 server for the tests of the http kind, on
 * 127.0.0.1 (or ::1), in threads of the test process (one per connection, blocking
 * I/O), optionally over TLS with a self-signed certificate.
 *
 * It counts, on its own side of the wire, what the tests assert: the
 * connections accepted and ended, the requests read, and how many were
 * being answered at once.  Keep-alive is HTTP/1.1's default; a request
 * with "Connection: close" is answered and the connection closed.
 *
 * Paths (the reply is 200 unless said otherwise):
 *   /status/N      status N, body "status N\n"
 *   /echo          the request as received, head and body, as the body
 *   /chunked/N     N chunks "chunk I\n", chunked transfer encoding
 *   /bytes/N       N bytes 'a'..'z' over and over, with a Content-Length
 *   /slow/MS       answered after MS milliseconds (counted as in flight)
 *   /hang          no answer: waits until the client closes
 *   /trickle/MS    a 200 whose body comes a byte every MS ms, for ever
 *   /redirect      302 with Location: /status/200
 *   /close         answered with "Connection: close", then closed
 *   /drop          answered as if keep-alive, then closed at once
 *   /nolength      no Content-Length: the body ends when the server closes
 *   /binary        a body that is not UTF-8 (and holds a NUL)
 *   /headers       headers X-One: 1, X-Multi: a and b, X-Latin: caf\xe9
 *   /retry-after/N 503 with Retry-After: N
 *   anything else  404
 */
#ifndef JOBD_TU_HTTPD_H
#define JOBD_TU_HTTPD_H

#include <stdbool.h>

struct th_server;

struct th_stats {
	int conns;              /* accepted */
	int closed;             /* ended, by either side */
	int requests;           /* read whole */
	int inflight;           /* being answered now */
	int max_inflight;       /* most at once so far */
};

/* Start a server (HTTPS with tls).  Fails the test if it cannot. */
struct th_server *th_start(bool tls);

/* The same on [::1]; NULL when the host has no ::1 (the caller says so,
 * loudly, and skips). */
struct th_server *th_start6(bool tls);

/* Stop it: close every connection, join every thread, free it all. */
void th_stop(struct th_server *s);

/* Its port, and "http[s]://127.0.0.1:PORT" (or [::1]) followed by path (one of a few
 * rotating buffers: valid until the fourth call after). */
int th_port(const struct th_server *s);
const char *th_url(const struct th_server *s, const char *path);

/* A port on 127.0.0.1 that refuses connections (a bound socket that does
 * not listen, open until th_stop). */
int th_dead_port(const struct th_server *s);

/* The PEM file of the TLS server's certificate (for SSL_CERT_FILE), or
 * NULL for a plain server. */
const char *th_cert_file(const struct th_server *s);

void th_stats(struct th_server *s, struct th_stats *st);

/* Set max_inflight back to the number in flight now. */
void th_reset_max(struct th_server *s);

/* Wait until at least n connections have ended / n requests have been
 * read, for up to timeout seconds.  False on timeout. */
bool th_wait_closed(struct th_server *s, int n, double timeout);
bool th_wait_requests(struct th_server *s, int n, double timeout);

#endif /* JOBD_TU_HTTPD_H */
