/*
 * web.c — the HTTP listener (see web.h).
 *
 * evhttp parses; this file bounds and routes.  evhttp itself refuses
 * headers past HARD_HEADERS (it closes the connection or answers 413);
 * below that, the handler measures the request line and headers and
 * answers 431 past WEB_HEADERS_MAX, so a client sees the right status
 * for any header size a browser might send.
 *
 * An /events client is a watcher.  Its events go out as chunks of the
 * chunked reply, one chunk in flight at a time: while the connection's
 * output holds more than STREAM_OUT bytes nothing more is written, events
 * pile up in the watcher's bounded buffer and then are dropped (the page
 * gets a `dropped` event).  A client that reads nothing at all is closed
 * by evhttp's write timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dash.h"
#include "log.h"
#include "metrics.h"
#include "watch.h"
#include "web.h"

#define HARD_HEADERS   (64 * 1024)     /* evhttp's own bound */
#define MAX_BODY       4096            /* a GET has none; POST is 405 */
#define STREAM_OUT     (64u * 1024)    /* unsent bytes before we hold off */
#define STATS_TICK     1.0             /* seconds between stats events */
#define FAILURES_MAX   100             /* /api/failures?n= */

struct stream;

struct web {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	const struct web_src *src;
	struct watch_hub *hub;
	LIST_HEAD(, stream) streams;
	size_t nstreams;
	struct event *tick;
	bool closing;
	int port;
};

struct stream {
	struct web *w;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct watcher *watcher;
	struct event *kick;             /* flush once per loop pass */
	bool busy;                      /* a chunk is being written */
	LIST_ENTRY(stream) link;
};

/* ---- answers ------------------------------------------------------------- */

static void
answer(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (b != NULL)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
answer_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	answer(req, code, reason, "text/plain; charset=utf-8", text,
	    strlen(text));
}

/* Answer v (its reference is taken) as JSON; NULL is a 500. */
static void
answer_json(struct evhttp_request *req, json_t *v)
{
	char *s = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (s == NULL) {
		answer_text(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	answer(req, 200, "OK", "application/json", s, strlen(s));
	free(s);
}

/* ---- pages --------------------------------------------------------------- */

static void
page_metrics(struct web *w, struct evhttp_request *req)
{
	struct met_buf b = { 0 };

	if (w->src->metrics(w->src->arg, &b) < 0) {
		met_buf_free(&b);
		answer_text(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	answer(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    b.p != NULL ? b.p : "", b.len);
	met_buf_free(&b);
}

static void
page_dash(struct web *w, struct evhttp_request *req)
{
	(void)w;
	answer(req, 200, "OK", "text/html; charset=utf-8", dash_html,
	    dash_html_len);
}

static void
page_stats(struct web *w, struct evhttp_request *req)
{
	answer_json(req, w->src->stats(w->src->arg));
}

/* The integer query parameter name, or dflt; -1 when malformed. */
static long long
query_int(struct evhttp_request *req, const char *name, long long dflt)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv;
	const char *v;
	long long n = dflt;
	char *end;

	if (q == NULL || evhttp_parse_query_str(q, &kv) < 0)
		return dflt;
	if ((v = evhttp_find_header(&kv, name)) != NULL) {
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 0)
			n = -1;
	}
	evhttp_clear_headers(&kv);
	return n;
}

static void
page_job(struct web *w, struct evhttp_request *req)
{
	long long id = query_int(req, "id", -1);
	int status = 404;
	json_t *j;

	if (id <= 0) {
		answer_text(req, 400, "Bad Request", "id: a job id, please\n");
		return;
	}
	if ((j = w->src->job(w->src->arg, id, &status)) == NULL) {
		answer_text(req, status, status == 404 ? "Not Found" :
		    "Internal Server Error", status == 404 ? "no such job\n" :
		    "the store could not be read\n");
		return;
	}
	answer_json(req, j);
}

static void
page_failures(struct web *w, struct evhttp_request *req)
{
	long long n = query_int(req, "n", 20);

	if (n < 0 || n > FAILURES_MAX) {
		answer_text(req, 400, "Bad Request", "n: 0..100\n");
		return;
	}
	answer_json(req, w->src->failures(w->src->arg, (size_t)n));
}

/* ---- /events ------------------------------------------------------------- */

static void stream_flush(struct stream *s);

static void
stream_free(struct stream *s)
{
	LIST_REMOVE(s, link);
	s->w->nstreams--;
	watch_remove(s->watcher);
	if (s->kick != NULL)
		event_free(s->kick);
	free(s);
}

/* The connection is going.  When the client left (EOF, timeout) evhttp
 * has already detached the request, which is then ours to end (that frees
 * it); otherwise the connection frees it right after this. */
static void
stream_gone(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;
	struct evhttp_request *req = s->req;

	(void)evcon;
	stream_free(s);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_send_reply_end(req);
}

static void
stream_written(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;

	(void)evcon;
	s->busy = false;
	if (watch_pending(s->watcher) > 0)
		stream_flush(s);
}

/* Frame each buffered line as one `data:` event. */
static void
frame_lines(void *arg, const char *data, size_t len)
{
	struct evbuffer *out = arg;
	const char *p = data, *end = data + len, *nl;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		evbuffer_add(out, "data: ", 6);
		evbuffer_add(out, p, (size_t)(nl - p));
		evbuffer_add(out, "\n\n", 2);
	}
}

/* Unsent bytes on s's connection. */
static size_t
stream_unsent(const struct stream *s)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);

	return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev))
	    : 0;
}

static void
stream_send(struct stream *s, struct evbuffer *out)
{
	s->busy = true;
	evhttp_send_reply_chunk_with_cb(s->req, out, stream_written, s);
}

static void
stream_flush(struct stream *s)
{
	struct evbuffer *out;

	if (s->busy || stream_unsent(s) > STREAM_OUT ||
	    (out = evbuffer_new()) == NULL)
		return;
	if (watch_take(s->watcher, frame_lines, out) > 0)
		stream_send(s, out);
	evbuffer_free(out);
}

static void
stream_kicked(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_flush(arg);
}

/* New events: flush once the loop comes round, not per event, so a
 * burst of changes in one pass goes out as one chunk. */
static void
stream_notify(void *arg)
{
	struct stream *s = arg;

	if (!s->busy && !event_pending(s->kick, EV_TIMEOUT, NULL))
		event_active(s->kick, EV_TIMEOUT, 0);
}

/* Why this stream will carry no job, said first: as a comment for whoever
 * reads the stream by hand (curl), and as a `notice` event for the page,
 * which shows it in place of the job lists. */
#define HIDDEN_WHY "visibility = own: jobd shows a job only to its " \
	"submitter, root and admin_group, and an HTTP client has no uid " \
	"jobd could check, so no job is shown here (counts are)"
#define HIDDEN_FIX "set visibility = all in [daemon] to list jobs here, " \
	"or use jobctl watch over the socket"

static void
stream_hidden(struct stream *s)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL)
		return;
	evbuffer_add_printf(out, ": %s; %s\n\nevent: notice\ndata: "
	    "{\"event\":\"hidden\",\"why\":\"%s\",\"fix\":\"%s\"}\n\n",
	    HIDDEN_WHY, HIDDEN_FIX, HIDDEN_WHY, HIDDEN_FIX);
	stream_send(s, out);
	evbuffer_free(out);
}

static void
page_events(struct web *w, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	/* No uid, so no job of its own: under visibility = own, no job. */
	struct watch_filter f = { .own = w->src->jobs_hidden(w->src->arg),
		.uid = (uid_t)-1 };
	struct stream *s;

	if (w->nstreams >= WEB_STREAMS_MAX) {
		answer_text(req, 503, "Service Unavailable",
		    "too many /events clients; try again later\n");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->kick = event_new(w->base, -1, 0, stream_kicked, s)) == NULL ||
	    (s->watcher = watch_add(w->hub, &f, WEB_STREAM_BUF,
	    stream_notify, s)) == NULL) {
		if (s != NULL && s->kick != NULL)
			event_free(s->kick);
		free(s);
		answer_text(req, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	s->w = w;
	s->req = req;
	s->evcon = evhttp_request_get_connection(req);
	LIST_INSERT_HEAD(&w->streams, s, link);
	w->nstreams++;
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(s->evcon, stream_gone, s);
	if (f.own)
		stream_hidden(s);
}

/* Once a second: a stats event to every stream that keeps up (it also
 * keeps proxies from closing a quiet stream). */
static void
stats_tick(evutil_socket_t fd, short what, void *arg)
{
	struct web *w = arg;
	struct stream *s;
	json_t *st;
	char *text;

	(void)fd;
	(void)what;
	if (w->nstreams == 0 || (st = w->src->stats(w->src->arg)) == NULL)
		return;
	text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	LIST_FOREACH(s, &w->streams, link) {
		struct evbuffer *out;

		if (text == NULL || s->busy || stream_unsent(s) > STREAM_OUT ||
		    (out = evbuffer_new()) == NULL)
			continue;
		evbuffer_add_printf(out, "event: stats\ndata: %s\n\n", text);
		stream_send(s, out);
		evbuffer_free(out);
	}
	free(text);
}

/* ---- routing ------------------------------------------------------------- */

static const struct route {
	const char *path;
	void (*fn)(struct web *w, struct evhttp_request *req);
} routes[] = {
	{ "/", page_dash },
	{ "/metrics", page_metrics },
	{ "/events", page_events },
	{ "/api/stats", page_stats },
	{ "/api/job", page_job },
	{ "/api/failures", page_failures },
};

/* The request line and headers, in bytes as sent (near enough). */
static size_t
headers_size(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t n = strlen(evhttp_request_get_uri(req)) + 16;

	TAILQ_FOREACH(kv, h, next)
		n += strlen(kv->key) + strlen(kv->value) + 4;
	return n;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct web *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	size_t i;

	if (headers_size(req) > WEB_HEADERS_MAX) {
		answer_text(req, 431, "Request Header Fields Too Large",
		    "request headers too large\n");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET");
		answer_text(req, 405, "Method Not Allowed",
		    "read-only: only GET\n");
		return;
	}
	for (i = 0; path != NULL && i < sizeof(routes) / sizeof(routes[0]);
	    i++)
		if (strcmp(path, routes[i].path) == 0) {
			routes[i].fn(w, req);
			return;
		}
	answer_text(req, 404, "Not Found", "no such page\n");
}

/* ---- the listener -------------------------------------------------------- */

/* "HOST:PORT" or "[V6]:PORT" into host[] and *port. */
static int
split_addr(const char *addr, char *host, size_t len, int *port)
{
	const char *colon, *h = addr, *hend;
	char *end;
	long p;

	if (*addr == '[') {
		h = addr + 1;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			return -EINVAL;
		colon = hend + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return -EINVAL;
		hend = colon;
	}
	if ((size_t)(hend - h) >= len || hend == h)
		return -EINVAL;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 0 ||
	    p > 65535)
		return -EINVAL;
	*port = (int)p;
	return 0;
}

/* The port the bound socket got; warn when it is not loopback. */
static int
bound_port(struct web *w, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = evhttp_bound_socket_get_fd(w->bound);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;

		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
			log_warnx("http_listen %s is not a loopback address: "
			    "whoever can reach it sees every job's args and "
			    "results", addr);
		return ntohs(in->sin_port);
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;

		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			log_warnx("http_listen %s is not a loopback address: "
			    "whoever can reach it sees every job's args and "
			    "results", addr);
		return ntohs(in6->sin6_port);
	}
	return -EAFNOSUPPORT;
}

static int
web_bind(struct web *w, const char *addr, const char **what)
{
	char host[256];
	int port, rc;

	if (split_addr(addr, host, sizeof(host), &port) < 0)
		return (*what = "http_listen must be HOST:PORT", -EINVAL);
	if ((w->http = evhttp_new(w->base)) == NULL)
		return (*what = "evhttp_new", -ENOMEM);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(w->http, HARD_HEADERS);
	evhttp_set_max_body_size(w->http, MAX_BODY);
	evhttp_set_timeout(w->http, WEB_TIMEOUT);
	evhttp_set_gencb(w->http, on_request, w);
	if ((w->bound = evhttp_bind_socket_with_handle(w->http, host,
	    (ev_uint16_t)port)) == NULL)
		return (*what = "bind", errno != 0 ? -errno : -EADDRINUSE);
	if ((rc = bound_port(w, addr)) < 0)
		return (*what = "getsockname", rc);
	w->port = rc;
	return 0;
}

int
web_open(struct event_base *base, const char *addr,
    const struct web_src *src, struct watch_hub *hub, struct web **wp,
    const char **what)
{
	struct timeval tv = { (time_t)STATS_TICK, 0 };
	struct web *w;
	int rc;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (*what = "out of memory", -ENOMEM);
	w->base = base;
	w->src = src;
	w->hub = hub;
	LIST_INIT(&w->streams);
	if ((rc = web_bind(w, addr, what)) < 0) {
		web_close(w);
		return rc;
	}
	if ((w->tick = event_new(base, -1, EV_PERSIST, stats_tick, w)) == NULL
	    || event_add(w->tick, &tv) < 0) {
		web_close(w);
		return (*what = "out of memory", -ENOMEM);
	}
	*wp = w;
	return 0;
}

int
web_port(const struct web *w)
{
	return w->port;
}

size_t
web_streams(const struct web *w)
{
	return w->nstreams;
}

void
web_close(struct web *w)
{
	struct stream *s;

	if (w == NULL)
		return;
	w->closing = true;
	if (w->tick != NULL)
		event_free(w->tick);
	/* End each stream's reply first: evhttp_free does not free a
	 * request whose chunked reply is still open. */
	while ((s = LIST_FIRST(&w->streams)) != NULL) {
		struct evhttp_request *req = s->req;

		evhttp_connection_set_closecb(s->evcon, NULL, NULL);
		stream_free(s);
		evhttp_send_reply_end(req);
	}
	if (w->http != NULL)
		evhttp_free(w->http);
	free(w);
}
