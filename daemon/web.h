/*
 * web.h — the HTTP listener: /metrics, the dashboard, its event stream.
 *
 * libevent's evhttp on the daemon's own event_base: no thread, no second
 * server.  Read-only: only GET is served (405 otherwise), unknown paths are
 * 404, request headers past WEB_HEADERS_MAX bytes are 431; every
 * connection is closed after WEB_TIMEOUT s without progress (a client that
 * never reads holds one answer's memory that long, no more); at most
 * WEB_STREAMS_MAX /events clients at once (503 past it), each a watcher
 * with a bounded buffer (watch.h).
 *
 * Paths: /metrics (Prometheus text), / (the dashboard, dash.h), /events
 * (server-sent events: every job change as `data: {"event":"job",...}`,
 * and a `stats` event once a second), /api/stats, /api/job?id=N and
 * /api/failures (JSON for the dashboard).  The listener binds where
 * http_listen says; anything but loopback shows every job's arguments and
 * results to whoever can connect (docs/OBSERVABILITY.md).
 */
#ifndef JOBD_WEB_H
#define JOBD_WEB_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include <jansson.h>

struct event_base;
struct met_buf;
struct watch_hub;
struct web;

#define WEB_HEADERS_MAX  8192           /* request line + headers, bytes */
#define WEB_TIMEOUT      10             /* seconds without progress */
#define WEB_STREAMS_MAX  64             /* /events clients at once */
#define WEB_STREAM_BUF   (256u * 1024)  /* a stream's event buffer */

/* What the pages show, from the daemon. */
struct web_src {
	/* Render /metrics into b: 0 or -ENOMEM. */
	int (*metrics)(void *arg, struct met_buf *b);
	/* stats as the op answers it (new reference), or NULL. */
	json_t *(*stats)(void *arg);
	/* {JOB} of id (new reference); NULL: not found (*status 404) or
	 * an error (*status 500). */
	json_t *(*job)(void *arg, int64_t id, int *status);
	/* The latest ended-not-succeeded jobs, newest first, at most n. */
	json_t *(*failures)(void *arg, size_t n);
	/* True when an HTTP client, whose uid nobody knows, may see no job
	 * (visibility = own): /events then carries no job event. */
	bool (*jobs_hidden)(void *arg);
	void *arg;
};

/* Listen on addr ("HOST:PORT", "[V6]:PORT") on base's loop.  0 and *wp,
 * or a negative errno with *what saying which step failed. */
int web_open(struct event_base *base, const char *addr,
    const struct web_src *src, struct watch_hub *hub, struct web **wp,
    const char **what);

/* The port it listens on (for port 0 in tests). */
int web_port(const struct web *w);

/* The number of /events clients now. */
size_t web_streams(const struct web *w);

/* Close the listener and every connection.  NULL is a no-op. */
void web_close(struct web *w);

#endif /* JOBD_WEB_H */
