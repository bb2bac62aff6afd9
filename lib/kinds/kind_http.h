/*
 * kind_http.h — the `http` kind: one HTTP/1.1 request, on libevent's
 * client, over connections pooled per daemon (http_pool.h).
 *
 * args {"url": "http://host[:port]/path?query" | "https://..."}, optional
 * "method" (GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH or TRACE;
 * default GET), "headers" ({"Name": "value", ...}; no CR, LF or other
 * control characters; Content-Length, Transfer-Encoding and Expect are
 * jobd's to set) and "body" (a string, sent with a Content-Length).
 * Unknown fields are refused, so a misspelt "header" is not ignored.
 *
 * result {"status": N, "headers": {"name": "value", ...}, "body": "...",
 * "truncated": bool}.  Header names are lower-cased; repeated headers are
 * joined with ", ".  The body keeps at most conf->max_output bytes: past
 * that the connection is closed (not read to its end) and "truncated" is
 * true.  Bytes that are not UTF-8, and NUL bytes, become U+FFFD.
 * Redirects are not followed: a 3xx is a success like a 2xx.
 *
 * The job fails on a status >= 400 (error "HTTP 404 Not Found", the result
 * kept) and when no response comes: a name that does not resolve
 * ("resolve NAME: ..."), a refused or failed connect ("connect to
 * 127.0.0.1:9: Connection refused"), a certificate that does not verify
 * ("TLS handshake with HOST:443: certificate verify failed: ..."), a
 * closed connection or a malformed response, a request longer than
 * conf->http_max_time ("HOST:PORT: no whole response within 600 s
 * (http_max_time)"), and a destination conf->http_allow / http_deny deny
 * ("destination 127.0.0.1 of localhost:80 is denied: ..."; -EACCES, and
 * run->permanent set: running it again fails the same way).  A job that is stopped (its
 * timeout, a cancel, a shutdown) cancels its request and closes that
 * connection.
 *
 * The program using this kind must ignore SIGPIPE (jobd does): libevent
 * and OpenSSL write to sockets the server may have reset.  docs/HTTP.md
 * has the whole story.
 */
#ifndef JOBD_KIND_HTTP_H
#define JOBD_KIND_HTTP_H

#include "kind.h"

extern const struct kind kind_http;

#endif /* JOBD_KIND_HTTP_H */
