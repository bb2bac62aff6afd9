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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>         /* a response's HTTP version */
#include <event2/keyvalq_struct.h>

#include "co.h"
#include "co_sched.h"
#include "http_pool.h"
#include "kind_http.h"

/* Bytes of the server's reason phrase kept for the error message. */
#define REASON_MAX 64
/* Longest host name (DNS: 253; an IPv6 literal is shorter). */
#define HOST_MAX 253

struct method {
	const char *name;
	enum evhttp_cmd_type type;
	bool idempotent;        /* may be sent again (RFC 9110 9.2.2) */
};

/* What evhttp can send.  CONNECT is a proxy's business. */
static const struct method methods[] = {
	{ "GET", EVHTTP_REQ_GET, true },
	{ "HEAD", EVHTTP_REQ_HEAD, true },
	{ "POST", EVHTTP_REQ_POST, false },
	{ "PUT", EVHTTP_REQ_PUT, true },
	{ "DELETE", EVHTTP_REQ_DELETE, true },
	{ "OPTIONS", EVHTTP_REQ_OPTIONS, true },
	{ "PATCH", EVHTTP_REQ_PATCH, false },
	{ "TRACE", EVHTTP_REQ_TRACE, true },
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* Headers jobd sets from the body itself. */
static const char *const framing[] = {
	"Content-Length", "Transfer-Encoding", "Expect",
};

static const char *const fields[] = { "url", "method", "headers", "body" };

/* The args, checked. */
struct hargs {
	struct evhttp_uri *uri;         /* owned */
	struct http_target target;
	char host[HOST_MAX + 1];        /* without [] */
	char authority[HOST_MAX + 16];  /* for Host: */
	char *path;                     /* "/path?query"; owned */
	const struct method *method;
	json_t *headers;                /* borrowed, or NULL */
	const char *body;               /* borrowed, or NULL */
	size_t body_len;
};

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

/* ---- args ----------------------------------------------------------------- */

static int bad(struct proto_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad(struct proto_err *err, const char *fmt, ...)
{
	char msg[PROTO_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	proto_err_set(err, PROTO_BAD_REQUEST, "%s", msg);
	return -EINVAL;
}

static int
known_fields(const json_t *args, struct proto_err *err)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)args, key, v) {
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(key, fields[i]) == 0)
				break;
		if (i == sizeof(fields) / sizeof(fields[0]))
			return bad(err, "unknown field \"%s\"", key);
	}
	return 0;
}

/* RFC 9110 5.6.2: a token is one or more tchar. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

static int
parse_method(const json_t *args, struct hargs *a, struct proto_err *err)
{
	const char *m = "GET";

	if (proto_field_string(args, "method", PROTO_OPTIONAL, 32, &m,
	    err) < 0)
		return -EINVAL;
	if (!is_token(m))
		return bad(err, "field \"method\": \"%s\" is not an HTTP "
		    "method", m);
	for (size_t i = 0; i < NMETHODS; i++)
		if (strcmp(m, methods[i].name) == 0) {
			a->method = &methods[i];
			return 0;
		}
	return bad(err, "field \"method\": %s is not supported (GET, HEAD, "
	    "POST, PUT, DELETE, OPTIONS, PATCH or TRACE; methods are "
	    "case-sensitive)", m);
}

/* The host without the [] of an IPv6 literal, and Host:'s value. */
static int
parse_host(struct hargs *a, const char *host, int port, struct proto_err *err)
{
	size_t n = strlen(host);
	bool dflt = port == (a->target.tls ? 443 : 80);

	if (n >= 2 && host[0] == '[')
		host++, n -= 2;
	if (n == 0)
		return bad(err, "field \"url\": no host");
	if (n > HOST_MAX)
		return bad(err, "field \"url\": host name too long");
	memcpy(a->host, host, n);
	a->host[n] = '\0';
	snprintf(a->authority, sizeof(a->authority), dflt ? "%s%s%s" :
	    "%s%s%s:%d", strchr(a->host, ':') ? "[" : "", a->host,
	    strchr(a->host, ':') ? "]" : "", port);
	a->target.host = a->host;
	a->target.port = port;
	return 0;
}

/* "/path?query" of the URL, "/" for an empty path; the fragment stays
 * with the client. */
static int
parse_path(struct hargs *a)
{
	const char *path = evhttp_uri_get_path(a->uri);
	const char *query = evhttp_uri_get_query(a->uri);

	if (path == NULL || *path == '\0')
		path = "/";
	if (asprintf(&a->path, "%s%s%s", path, query ? "?" : "",
	    query ? query : "") < 0) {
		a->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int
parse_url(const json_t *args, struct hargs *a, struct proto_err *err)
{
	const char *url, *scheme, *host;
	int port, rc;

	if ((rc = proto_field_string(args, "url", PROTO_REQUIRED,
	    KIND_HTTP_URL_MAX, &url, err)) < 0)
		return rc;
	if ((a->uri = evhttp_uri_parse_with_flags(url, 0)) == NULL)
		return bad(err, "field \"url\": %s is not a valid URL", url);
	scheme = evhttp_uri_get_scheme(a->uri);
	if (scheme == NULL || (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0))
		return bad(err, "field \"url\": the scheme must be http:// "
		    "or https://");
	a->target.tls = strcasecmp(scheme, "https") == 0;
	if (evhttp_uri_get_userinfo(a->uri) != NULL)
		return bad(err, "field \"url\": user:password@ is not "
		    "supported (send an Authorization header)");
	if ((host = evhttp_uri_get_host(a->uri)) == NULL)
		host = "";
	if ((port = evhttp_uri_get_port(a->uri)) == -1)
		port = a->target.tls ? 443 : 80;
	if (port < 1 || port > 65535)
		return bad(err, "field \"url\": the port must be 1 to 65535");
	if ((rc = parse_host(a, host, port, err)) < 0)
		return rc;
	if (parse_path(a) < 0)
		return bad(err, "out of memory");
	return 0;
}

/* A header value: no control characters but HTAB (so no CR or LF, which
 * would let a value start a header or a request of its own). */
static bool
is_value(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static int
check_header(const json_t *headers, const char *name, struct proto_err *err)
{
	const char *value;

	if (strlen(name) > KIND_HTTP_NAME_MAX || !is_token(name))
		return bad(err, "field \"headers\": \"%s\" is not a header "
		    "name", name);
	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++)
		if (strcasecmp(name, framing[i]) == 0)
			return bad(err, "field \"headers\": jobd sets %s "
			    "itself", framing[i]);
	if (proto_field_string(headers, name, PROTO_REQUIRED,
	    KIND_HTTP_VALUE_MAX, &value, err) < 0) {
		proto_err_prefix(err, "field \"headers\": ");
		return -EINVAL;
	}
	if (!is_value(value))
		return bad(err, "field \"headers\": the value of %s holds a "
		    "CR, LF or another control character", name);
	return 0;
}

static int
parse_headers(const json_t *args, struct hargs *a, struct proto_err *err)
{
	const char *name;
	json_t *v;

	if (proto_field_object(args, "headers", PROTO_OPTIONAL, &a->headers,
	    err) < 0)
		return -EINVAL;
	if (a->headers == NULL)
		return 0;
	if (json_object_size(a->headers) > KIND_HTTP_HEADERS_MAX)
		return bad(err, "field \"headers\": more than %d headers",
		    KIND_HTTP_HEADERS_MAX);
	json_object_foreach(a->headers, name, v)
		if (check_header(a->headers, name, err) < 0)
			return -EINVAL;
	return 0;
}

static void
hargs_free(struct hargs *a)
{
	if (a->uri != NULL)
		evhttp_uri_free(a->uri);
	free(a->path);
}

static int
hargs_parse(const json_t *args, struct hargs *a, struct proto_err *err)
{
	memset(a, 0, sizeof(*a));
	if (known_fields(args, err) < 0 || parse_url(args, a, err) < 0 ||
	    parse_method(args, a, err) < 0 ||
	    parse_headers(args, a, err) < 0 ||
	    proto_field_string(args, "body", PROTO_OPTIONAL,
	    KIND_HTTP_BODY_MAX, &a->body, err) < 0) {
		hargs_free(a);
		proto_err_prefix(err, "args: ");
		return -EINVAL;
	}
	if (a->body != NULL)
		a->body_len = json_string_length(json_object_get(args, "body"));
	return 0;
}

static int
http_check(const json_t *args, struct proto_err *err)
{
	struct hargs a;

	if (hargs_parse(args, &a, err) < 0)
		return -EINVAL;
	hargs_free(&a);
	return 0;
}

/* ---- text ----------------------------------------------------------------- */

/* The UTF-8 sequence at s (n > 0 bytes left): its length if well-formed,
 * else minus the length of its longest well-formed prefix (at least 1),
 * which becomes one U+FFFD ("maximal subpart", as Python and browsers
 * decode).  NUL counts as ill-formed. */
static int
utf8_step(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int len, i;

	if (s[0] != 0 && s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return -1;
	if (s[0] == 0xe0)
		lo = 0xa0;              /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;              /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;              /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;              /* past U+10FFFF */
	for (i = 1; i < len; i++, lo = 0x80, hi = 0xbf)
		if ((size_t)i >= n || s[i] < lo || s[i] > hi)
			return -i;
	return len;
}

/* Bytes of the text that n bytes at s make, written to out unless NULL;
 * *same: the text is s itself.  cut: s was cut short, so a sequence it
 * ends in the middle of is dropped rather than replaced. */
static size_t
utf8_fix(const unsigned char *s, size_t n, bool cut, char *out, bool *same)
{
	size_t i = 0, len = 0;
	int k;

	*same = true;
	while (i < n) {
		if ((k = utf8_step(s + i, n - i)) > 0) {
			if (out != NULL)
				memcpy(out + len, s + i, (size_t)k);
			len += (size_t)k;
			i += (size_t)k;
			continue;
		}
		*same = false;
		if (cut && i + (size_t)-k == n && s[i] != 0)
			break;
		if (out != NULL)
			memcpy(out + len, "\xef\xbf\xbd", 3);
		len += 3;
		i += (size_t)-k;
	}
	return len;
}

/* A JSON string of n bytes at s, made valid UTF-8.  NULL on -ENOMEM. */
static json_t *
text_json(const unsigned char *s, size_t n, bool cut)
{
	bool same;
	size_t len = utf8_fix(s, n, cut, NULL, &same);
	json_t *v;
	char *buf;

	if (n == 0)
		return json_string("");
	if (same)
		return json_stringn_nocheck((const char *)s, n);
	if ((buf = malloc(len + 1)) == NULL)
		return NULL;
	utf8_fix(s, n, cut, buf, &same);
	v = json_stringn_nocheck(buf, len);
	free(buf);
	return v;
}

/* ---- the exchange: evhttp's side ------------------------------------------ */

/* Add one response header: names lower-cased, repeats joined by ", "
 * (RFC 9110 5.3). */
static int
header_add(json_t *obj, const char *key, const char *value)
{
	char name[KIND_HTTP_NAME_MAX + 1], *joined = NULL;
	const char *old;
	json_t *v;
	size_t i;
	int rc;

	for (i = 0; key[i] != '\0' && i < KIND_HTTP_NAME_MAX; i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[i] = '\0';
	old = json_string_value(json_object_get(obj, name));
	if (old != NULL && asprintf(&joined, "%s, %s", old, value) < 0)
		return -ENOMEM;
	if (joined != NULL)
		value = joined;
	v = text_json((const unsigned char *)value, strlen(value), false);
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

/* ---- the exchange: the task's side ---------------------------------------- */

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
add_headers(struct evhttp_request *req, const struct hargs *a)
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
hreq_start(struct hreq *h, const struct hargs *a, struct http_conn *c)
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
    const struct hargs *a, struct http_lease *l, bool *retried)
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
exchange(struct kind_run *run, const struct hargs *a, struct http_lease *l,
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

/* ---- the kind ------------------------------------------------------------- */

static int
outcome(struct kind_run *run, const struct hreq *h)
{
	size_t n = evbuffer_get_length(h->body);
	const unsigned char *p = n > 0 ? evbuffer_pullup(h->body, -1) : NULL;
	json_t *body = text_json(p, n, h->truncated);

	run->result = json_pack("{s:i,s:O,s:o,s:b}", "status", h->status,
	    "headers", h->headers, "body", body, "truncated", h->truncated);
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
		return -EIO;
	}
	return 0;
}

static int
http_run(struct kind_run *run)
{
	struct http_lease lease;
	struct proto_err err;
	struct hargs a;
	struct hreq h;
	int rc;

	if (hargs_parse(run->args, &a, &err) < 0) {
		kind_error(run, "%s", err.msg);         /* check() was skipped */
		return -EINVAL;
	}
	if ((rc = hreq_init(&h, run->conf->max_output)) < 0)
		kind_error(run, "out of memory");
	else if (run->state == NULL) {
		kind_error(run, "http: no connection pool (kind not opened)");
		rc = -ENXIO;
	} else if ((rc = http_pool_acquire(run->state, &a.target,
	    &lease)) == 0) {
		rc = exchange(run, &a, &lease, &h);
		http_pool_release(&lease);
	} else if (rc == -ENOMEM)
		kind_error(run, "out of memory");
	if (rc == 0)
		rc = outcome(run, &h);
	hreq_free(&h);
	hargs_free(&a);
	return rc;
}

static int
http_open(struct event_base *base, const struct kind_conf *kc, void **state)
{
	return http_pool_new(base, kc->http_per_host,
	    (struct http_pool **)state);
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

const struct kind kind_http = {
	.name = "http",
	.check = http_check,
	.run = http_run,
	.open = http_open,
	.close = http_close,
	.allowed = http_allowed,
};
