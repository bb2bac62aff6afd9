/*
 * kind_http.c — the `http` kind (see kind_http.h): parse the args, take a
 * permit and a connection from the pool, send the request with evhttp,
 * and wait for libevent's callbacks as a coroutine.
 *
 * The hand-off between evhttp's callbacks and the parked task: the
 * callbacks (on_head, on_chunk, on_error, on_done) write into a struct
 * hreq on the task's stack and wake the task; the task alone decides.  The
 * request stays alive until either on_done has run (libevent then frees
 * it) or the task cancels it (evhttp_cancel_request, which calls only
 * on_error, synchronously); the task never returns before one of the two,
 * so no callback can reach a stale hreq.  A woken task that finds the
 * request done just uses it, whatever woke it (first-wins wakes).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>         /* a response's HTTP version */
#include <event2/keyvalq_struct.h>

#include "co.h"
#include "co_sched.h"
#include "http_args.h"
#include "http_pool.h"
#include "kind_http.h"
#include "utf8.h"

/* Bytes of the server's reason phrase kept for the error message. */
#define REASON_MAX 64

/* One exchange, shared by the task and evhttp's callbacks. */
struct hreq {
	struct co_task *task;
	struct evhttp_request *req;     /* in flight; NULL once let go */
	enum evhttp_cmd_type type;
	struct evbuffer *body;          /* the part of the body kept */
	size_t cap;                     /* max_output */
	json_t *headers;
	char reason[REASON_MAX];
	int status, major, minor;
	int err;                        /* enum evhttp_request_error, or -1 */
	bool head;                      /* the status and headers are in */
	bool done;                      /* on_done ran */
	bool failed;                    /* ... without a response */
	bool truncated;                 /* the body went past cap */
	bool cut;                       /* we closed the connection early */
	bool framed;                    /* its end did not need the close */
	bool oom;
};

/* ---- the exchange: evhttp's side ----------------------------------------- */

/* Add one response header: names lower-cased, repeats joined by ", "
 * (RFC 9110 5.3). */
static int
header_add(json_t *obj, const char *key, const char *value)
{
	char name[HTTP_ARGS_NAME_MAX + 1], *joined = NULL;
	const char *old;
	bool cut = false;       /* no cap on a header */
	json_t *v;
	size_t i;
	int rc;

	for (i = 0; key[i] != '\0' && i < HTTP_ARGS_NAME_MAX; i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[i] = '\0';
	old = json_string_value(json_object_get(obj, name));
	if (old != NULL && asprintf(&joined, "%s, %s", old, value) < 0)
		return -ENOMEM;
	if (joined != NULL)
		value = joined;
	v = utf8_json(value, strlen(value), false, SIZE_MAX, &cut);
	rc = v == NULL || json_object_set_new(obj, name, v) < 0 ? -ENOMEM : 0;
	free(joined);
	return rc;
}

/* The reason phrase, printable ASCII only: it goes into a message. */
static void
reason_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < size; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static int
on_head(struct evhttp_request *req, void *arg)
{
	struct hreq *h = arg;
	struct evkeyval *kv;

	h->head = true;         /* again after a "100 Continue" */
	h->status = evhttp_request_get_response_code(req);
	h->major = req->major;
	h->minor = req->minor;
	reason_copy(h->reason, sizeof(h->reason),
	    evhttp_request_get_response_code_line(req));
	json_object_clear(h->headers);
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
		if (header_add(h->headers, kv->key, kv->value) < 0) {
			h->oom = true;
			return -1;      /* evhttp closes the connection */
		}
	return 0;
}

/* Keep what fits under the cap; evhttp drains the rest.  Past the cap,
 * wake the task to close the connection rather than read it all. */
static void
on_chunk(struct evhttp_request *req, void *arg)
{
	struct hreq *h = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	size_t room = h->cap - evbuffer_get_length(h->body);

	if (n > room) {
		n = room;
		if (!h->truncated && h->task != NULL)
			co_wake(h->task, 0);
		h->truncated = true;
	}
	if (n > 0 && evbuffer_remove_buffer(in, h->body, n) < 0)
		h->oom = true;
}

static void
on_error(enum evhttp_request_error error, void *arg)
{
	struct hreq *h = arg;

	h->err = (int)error;
}

/* Did the response end by its own framing (so the connection can serve
 * another request), rather than by the server closing it? */
static bool
is_framed(struct evhttp_request *req, const struct hreq *h)
{
	struct evkeyvalq *hd = evhttp_request_get_input_headers(req);
	const char *te = evhttp_find_header(hd, "Transfer-Encoding");
	const char *conn = evhttp_find_header(hd, "Connection");

	if (h->major != 1 || (h->minor == 0 && (conn == NULL ||
	    strcasecmp(conn, "keep-alive") != 0)))
		return false;   /* HTTP/1.0 closes unless asked not to */
	if (h->type == EVHTTP_REQ_HEAD || h->status < 200 ||
	    h->status == 204 || h->status == 304)
		return true;    /* no body */
	return evhttp_find_header(hd, "Content-Length") != NULL ||
	    (te != NULL && strcasestr(te, "chunked") != NULL);
}

/* evhttp's last word on req: a response (req with a status), or none
 * (NULL, or a status of 0 after a refused connect). */
static void
on_done(struct evhttp_request *req, void *arg)
{
	struct hreq *h = arg;

	h->req = NULL;          /* libevent frees it after this */
	h->done = true;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		h->failed = true;
	} else {
		if (!h->head && on_head(req, h) < 0)
			h->failed = true;
		on_chunk(req, h);
		h->framed = is_framed(req, h);
	}
	if (h->task != NULL)
		co_wake(h->task, 0);
}

/* ---- the exchange: the task's side --------------------------------------- */

static void
hreq_free(struct hreq *h)
{
	if (h->body != NULL)
		evbuffer_free(h->body);
	json_decref(h->headers);
}

static int
hreq_init(struct hreq *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	h->cap = cap;
	h->task = co_self();
	if ((h->headers = json_object()) == NULL)
		return -ENOMEM;
	return 0;
}

/* Forget an earlier attempt's response. */
static int
hreq_reset(struct hreq *h, enum evhttp_cmd_type type)
{
	if (h->body != NULL)
		evbuffer_free(h->body);
	json_object_clear(h->headers);
	h->req = NULL;
	h->type = type;
	h->status = h->major = h->minor = 0;
	h->err = -1;
	h->head = h->done = h->failed = h->truncated = h->cut = false;
	h->framed = h->oom = false;
	h->reason[0] = '\0';
	return (h->body = evbuffer_new()) == NULL ? -ENOMEM : 0;
}

static int
add_headers(struct evhttp_request *req, const struct http_args *a)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *name;
	char len[24];
	json_t *v;

	json_object_foreach(a->headers, name, v)
		if (evhttp_add_header(out, name, json_string_value(v)) < 0)
			return -ENOMEM;
	if (evhttp_find_header(out, "Host") == NULL &&
	    evhttp_add_header(out, "Host", a->authority) < 0)
		return -ENOMEM;
	if (evhttp_find_header(out, "User-Agent") == NULL &&
	    evhttp_add_header(out, "User-Agent", "jobd/" JOBD_VERSION) < 0)
		return -ENOMEM;
	if (a->body == NULL && a->method->type != EVHTTP_REQ_POST &&
	    a->method->type != EVHTTP_REQ_PUT &&
	    a->method->type != EVHTTP_REQ_PATCH)
		return 0;
	snprintf(len, sizeof(len), "%zu", a->body_len);
	if (evhttp_add_header(out, "Content-Length", len) < 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req),
	    a->body != NULL ? a->body : "", a->body_len) < 0)
		return -ENOMEM;
	return 0;
}

static int
hreq_start(struct hreq *h, const struct http_args *a, struct http_conn *c)
{
	struct evhttp_request *req;

	if (hreq_reset(h, a->method->type) < 0 ||
	    (req = evhttp_request_new(on_done, h)) == NULL)
		return -ENOMEM;
	evhttp_request_set_header_cb(req, on_head);
	evhttp_request_set_chunked_cb(req, on_chunk);
	evhttp_request_set_error_cb(req, on_error);
	if (add_headers(req, a) < 0) {
		evhttp_request_free(req);
		return -ENOMEM;
	}
	h->req = req;
	if (http_conn_request(c, req, a->method->type, a->path) < 0) {
		h->req = NULL;  /* freed by evhttp */
		return -ENOMEM;
	}
	return 0;
}

/* Cancel the request in flight: evhttp resets its connection (the server
 * sees it closed) and calls on_error, nothing else. */
static void
hreq_abort(struct hreq *h)
{
	struct evhttp_request *req = h->req;

	h->req = NULL;
	h->cut = true;
	if (req != NULL)
		evhttp_cancel_request(req);
}

/* Wait for the response.  0 when it is in (or cut at the cap), else the
 * await's error (-ETIMEDOUT, -ECANCELED), the request then cancelled. */
static int
hreq_wait(struct hreq *h)
{
	int rc = 0;

	while (!h->done && !h->truncated)
		if ((rc = co_park(CO_FOREVER, 0)) < 0)
			break;
	if (!h->done)
		hreq_abort(h);
	return rc;
}

/* Why a request got no response, in run->error. */
static void
hreq_failure(const struct hreq *h, const struct http_conn *c,
    struct kind_run *run)
{
	const char *name = http_conn_name(c);
	char buf[KIND_ERROR_MAX];

	if (h->oom)
		kind_error(run, "out of memory");
	else if (!http_conn_connected(c))
		kind_error(run, "%s", http_conn_failure(c, buf, sizeof(buf)));
	else if (h->err == EVREQ_HTTP_TIMEOUT)
		kind_error(run, "%s: nothing from the server for %d s", name,
		    HTTP_IO_TIMEOUT);
	else if (h->err == EVREQ_HTTP_INVALID_HEADER || (h->err ==
	    EVREQ_HTTP_DATA_TOO_LONG && !h->head))
		kind_error(run, "%s: malformed response head (or over %d KiB)",
		    name, HTTP_HEAD_MAX / 1024);
	else if (h->err == EVREQ_HTTP_DATA_TOO_LONG)
		kind_error(run, "%s: malformed response body", name);
	else if (h->head)
		kind_error(run, "%s: connection closed in the middle of the "
		    "response", name);
	else
		kind_error(run, "%s: connection closed before a response",
		    name);
}

/* After a failure, try again on a new connection?  A connect that failed
 * sent nothing: try the host's next address, if any.  A kept-alive
 * connection the server closed just as we used it, with nothing back:
 * once, for an idempotent method. */
static bool
hreq_again(const struct hreq *h, const struct http_conn *c,
    const struct http_args *a, struct http_lease *l, bool *retried)
{
	if (h->oom)
		return false;
	if (!http_conn_connected(c))
		return http_lease_next(l);
	if (!http_conn_reused(c) || h->head || *retried ||
	    !a->method->idempotent || (h->err != EVREQ_HTTP_EOF &&
	    h->err != EVREQ_HTTP_BUFFER_ERROR))
		return false;
	*retried = true;
	return true;
}

/* Send the request and get the response, on one connection after
 * another as hreq_again allows.  0 (h holds the response) or a negative
 * errno (run->error says why, unless stopped). */
static int
exchange(struct kind_run *run, const struct http_args *a, struct http_lease *l,
    struct hreq *h)
{
	bool idle_ok = true, retried = false, again;
	struct http_conn *c;
	int rc;

	for (;;) {
		if ((rc = http_pool_conn(l, idle_ok, &c, run->error,
		    sizeof(run->error))) < 0)
			return rc;
		if ((rc = hreq_start(h, a, c)) == 0)
			rc = hreq_wait(h);
		if (rc == -ENOMEM)
			kind_error(run, "out of memory");
		if (rc == 0 && !h->failed) {
			http_pool_done(c, !h->cut && h->framed);
			return 0;
		}
		if (rc == 0) {
			hreq_failure(h, c, run);
			rc = -EIO;
		}
		again = rc == -EIO && hreq_again(h, c, a, l, &retried);
		http_pool_done(c, false);
		if (!again)
			return rc;
		idle_ok = false;
	}
}


/* Seconds of a Retry-After header (the delta-seconds form; an HTTP-date
 * is not read), or 0. */
static double
http_retry_after(const json_t *headers)
{
	const char *key, *v;
	json_t *val;
	char *end;
	double d;

	json_object_foreach((json_t *)headers, key, val) {
		if (strcasecmp(key, "retry-after") != 0 ||
		    (v = json_string_value(val)) == NULL)
			continue;
		d = strtod(v, &end);
		return end != v && *end == '\0' && d > 0 && d < 1e9 ? d : 0;
	}
	return 0;
}

/* ---- the kind ------------------------------------------------------------ */

static int
outcome(struct kind_run *run, const struct hreq *h)
{
	size_t n = evbuffer_get_length(h->body);
	const char *p = n > 0 ? (char *)evbuffer_pullup(h->body, -1) : NULL;
	bool truncated = h->truncated;  /* replacements count to the cap */
	json_t *body = utf8_json(p, n, h->truncated, h->cap, &truncated);

	run->result = json_pack("{s:i,s:O,s:o,s:b}", "status", h->status,
	    "headers", h->headers, "body", body, "truncated", truncated);
	if (run->result == NULL) {
		kind_error(run, "out of memory");
		return -ENOMEM;
	}
	if (h->status < 100 || h->status > 999) {
		kind_error(run, "malformed status %d", h->status);
		return -EIO;
	}
	if (h->status >= 400) {
		kind_error(run, "HTTP %d%s%s", h->status, h->reason[0] ? " " :
		    "", h->reason);
		/* 4xx is the request's own fault, but for a timeout (408),
		 * too early (425) and too many (429). */
		run->permanent = h->status < 500 && h->status != 408 &&
		    h->status != 425 && h->status != 429;
		run->retry_after = http_retry_after(h->headers);
		return -EIO;
	}
	return 0;
}

static int
http_check(const json_t *args, struct proto_err *err)
{
	struct http_args a;

	if (http_args_parse(args, &a, err) < 0)
		return -EINVAL;
	http_args_free(&a);
	return 0;
}
/* Take a permit, then send and wait for the response within
 * http_max_time: the cap that ends even a server trickling a byte a
 * second to a job without a timeout.  0, or as exchange(). */
static int
fetch(struct kind_run *run, const struct http_args *a, struct hreq *h)
{
	double cap = run->conf->http_max_time > 0 ? run->conf->http_max_time :
	    CO_FOREVER;
	struct http_lease lease;
	struct co_scope scope;
	int rc;

	if ((rc = http_pool_acquire(run->state, &a->target, &lease)) < 0) {
		if (rc == -ENOMEM)
			kind_error(run, "out of memory");
		return rc;
	}
	co_scope_enter(&scope, cap);
	rc = exchange(run, a, &lease, h);
	if (co_scope_exit(&scope) == -ETIMEDOUT) {
		kind_error(run, "%s: no whole response within %g s "
		    "(http_max_time)", a->authority, cap);
		rc = -EIO;      /* a failure of the job, not its timeout */
	}
	http_pool_release(&lease);
	if (rc == -EACCES)
		run->permanent = true;  /* the config, not the server */
	return rc;
}

static int
http_run(struct kind_run *run)
{
	struct proto_err err;
	struct http_args a;
	struct hreq h;
	int rc;

	if (http_args_parse(run->args, &a, &err) < 0) {
		kind_error(run, "%s", err.msg);         /* check() skipped */
		return -EINVAL;
	}
	if ((rc = hreq_init(&h, run->conf->max_output)) < 0)
		kind_error(run, "out of memory");
	else if (run->state == NULL) {
		kind_error(run, "http: no connection pool (kind not opened)");
		rc = -ENXIO;
	} else
		rc = fetch(run, &a, &h);
	if (rc == 0)
		rc = outcome(run, &h);
	hreq_free(&h);
	http_args_free(&a);
	return rc;
}

static int
http_open(struct event_base *base, const struct kind_conf *kc, void **state)
{
	struct http_pool *p;
	int rc;

	if ((rc = http_pool_new(base, kc->http_per_host, &p)) < 0)
		return rc;
	http_pool_policy(p, kc->http_allow, kc->http_deny);
	*state = p;
	return 0;
}

static void
http_reconf(void *state, const struct kind_conf *kc)
{
	http_pool_policy(state, kc->http_allow, kc->http_deny);
}

static void
http_close(void *state)
{
	http_pool_free(state);
}

static bool
http_allowed(const struct kind_conf *kc)
{
	return kc->allow_http;
}

/* After a crash: by the method alone (the args passed check at submit, so
 * a method there is a known one; "GET" if none). */
static bool
http_rerun(const json_t *args, char *why, size_t len)
{
	const json_t *v = json_object_get(args, "method");
	const char *m = json_is_string(v) ? json_string_value(v) : "GET";
	const struct http_method *hm = http_method_find(m);

	if (hm != NULL && hm->rerun)
		return true;
	snprintf(why, len, "%.32s is not idempotent", m);
	return false;
}

const struct kind kind_http = {
	.name = "http",
	.check = http_check,
	.run = http_run,
	.open = http_open,
	.reconf = http_reconf,
	.close = http_close,
	.allowed = http_allowed,
	.rerun = http_rerun,
};
