/*
 * watch_line.c — the event lines of watch.h, written by hand.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "store.h"
#include "utf8.h"
#include "watch.h"
#include "watch_line.h"

#define LINE_START 1024         /* a line buffer, at first */

/* ---- the event line, written by hand ----------------------------------- *
 *
 * jansson would build a tree of some twenty values per event, print its
 * reals with %.17g and allocate all along: that was most of what a watcher
 * cost.  The line is written straight into the hub's reusable buffer
 * instead, in the same spelling as the answers (proto_dump: shortest
 * reals, jansson's string escapes), and the job's parts that do not change
 * between its events (args, created_at, started_at) are kept in its
 * watch_cache. */

struct watch_cache {
	char *args;                     /* args as JSON text */
	double created, started;        /* the values spelt below */
	char created_t[32], started_t[32];
};

void
watch_cache_free(struct watch_cache *c)
{
	if (c == NULL)
		return;
	free(c->args);
	free(c);
}

/* Room for n more bytes in the line; false (and the line is lost) when
 * out of memory. */
static bool
line_room(struct wline *l, size_t n)
{
	size_t cap = l->cap ? l->cap : LINE_START;
	char *p;

	if (l->oom)
		return false;
	while (cap - l->len < n)
		cap *= 2;
	if (cap != l->cap) {
		if ((p = realloc(l->buf, cap)) == NULL)
			return !(l->oom = true);
		l->buf = p;
		l->cap = cap;
	}
	return true;
}

/* A new line in h's buffer. */
void
wline_begin(struct wline *l)
{
	l->len = 0;
	l->oom = false;
}

void
wline_put(struct wline *l, const char *s, size_t n)
{
	if (line_room(l, n)) {
		memcpy(l->buf + l->len, s, n);
		l->len += n;
	}
}

void
wline_int(struct wline *l, int64_t v)
{
	char b[24], *e = b + sizeof(b), *q = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--q = '-';
	wline_put(l, q, (size_t)(e - q));
}

/* A real as the answers spell it; an integral one (a timeout, mostly)
 * without the printf. */
static int
real_text(double d, char *b, size_t len)
{
	char t[24], *e = t + sizeof(t), *q = e;
	uint64_t u;
	int n;

	if (!(d == (double)(int64_t)d && d > -1e15 && d < 1e15 &&
	    !(d == 0 && signbit(d))))
		return proto_real_spell(d, b, len);
	/* Not snprintf either: it was a tenth of an event's cost. */
	u = d < 0 ? (uint64_t)-(int64_t)d : (uint64_t)d;
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (d < 0)
		*--q = '-';
	n = (int)(e - q);
	if ((size_t)n + 3 > len)
		return -1;
	memcpy(b, q, (size_t)n);
	memcpy(b + n, ".0", 3);
	return n + 2;
}

/* A time: null when not yet reached (as proto_time). */
static int
time_text(double t, char *b, size_t len)
{
	if (!isfinite(t) || t <= 0) {
		if (len < 5)
			return -1;
		memcpy(b, "null", 5);
		return 4;
	}
	return real_text(t, b, len);
}

/* A real, or a time (null when not yet reached). */
static void
put_real(struct wline *l, double d, bool is_time)
{
	char b[32];
	int n = is_time ? time_text(d, b, sizeof(b)) : real_text(d, b,
	    sizeof(b));

	if (n > 0)
		wline_put(l, b, (size_t)n);
	else
		l->oom = true;
}

/* s as a JSON string (jansson's escapes), ill-formed UTF-8 and NUL as
 * U+FFFD (utf8.h); NULL as null. */
void
wline_str(struct wline *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t left;
	bool partial;
	int k;

	if (s == NULL) {
		WLINE_PUT(l, "null");
		return;
	}
	WLINE_PUT(l, "\"");
	left = strlen(s);
	for (run = p; left > 0;) {
		if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
			p++, left--;
			continue;
		}
		if (*p >= 0x80 && (k = utf8_char(p, left, &partial)) > 0) {
			p += k, left -= (size_t)k;
			continue;
		}
		wline_put(l, (const char *)run, (size_t)(p - run));
		if (*p >= 0x80) {
			k = utf8_char(p, left, &partial);
			WLINE_PUT(l, "\xef\xbf\xbd");
			p += -k, left -= (size_t)-k;
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4],
			    hex[*p & 15] };

			if (*p == '"' || *p == '\\')
				e[1] = (char)*p, wline_put(l, e, 2);
			else if (*p == '\n')
				WLINE_PUT(l, "\\n");
			else if (*p == '\t')
				WLINE_PUT(l, "\\t");
			else if (*p == '\r')
				WLINE_PUT(l, "\\r");
			else if (*p == '\b')
				WLINE_PUT(l, "\\b");
			else if (*p == '\f')
				WLINE_PUT(l, "\\f");
			else
				wline_put(l, e, 6);
			p++, left--;
		}
		run = p;
	}
	wline_put(l, (const char *)run, (size_t)(p - run));
	WLINE_PUT(l, "\"");
}

/* The job's cache, made on its first event; NULL when out of memory (the
 * parts are then spelt for this event only). */
static struct watch_cache *
cache_of(const struct watch_job *j)
{
	struct watch_cache *c;

	if (j->cache == NULL)
		return NULL;
	if ((c = *j->cache) == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
		c->created = c->started = -1;
		*j->cache = c;
	}
	return c;
}

static void
put_args(struct wline *l, const struct watch_job *j,
    struct watch_cache *c)
{
	char *text;

	if (j->args == NULL) {
		WLINE_PUT(l, "null");
		return;
	}
	if (c != NULL && c->args != NULL) {
		wline_put(l, c->args, strlen(c->args));
		return;
	}
	if ((text = proto_dumps(j->args, JSON_COMPACT)) == NULL) {
		l->oom = true;
		return;
	}
	wline_put(l, text, strlen(text));
	if (c != NULL)
		c->args = text;
	else
		free(text);
}

/* A time the job keeps (created_at, started_at), spelt once. */
static void
put_kept_time(struct wline *l, double t, double *was, char *text)
{
	if (was == NULL) {
		put_real(l, t, true);
		return;
	}
	if (*was != t) {
		if (time_text(t, text, 32) <= 0)
			snprintf(text, 32, "null");
		*was = t;
	}
	wline_put(l, text, strlen(text));
}

/* The {JOB} object of j, as ops_job_json has it, into the line. */
static void
put_job(struct wline *l, const struct watch_job *j)
{
	struct watch_cache *c = cache_of(j);

	WLINE_PUT(l, "{\"id\":");
	wline_int(l, j->id);
	WLINE_PUT(l, ",\"queue\":");
	wline_str(l, j->queue);
	WLINE_PUT(l, ",\"kind\":");
	wline_str(l, j->kind);
	WLINE_PUT(l, ",\"state\":\"");
	wline_put(l, store_state_name(j->state), strlen(store_state_name(j->state)));
	WLINE_PUT(l, "\",\"args\":");
	put_args(l, j, c);
	WLINE_PUT(l, ",\"name\":");
	wline_str(l, j->name);
	WLINE_PUT(l, ",\"attempts\":");
	wline_int(l, j->attempts);
	WLINE_PUT(l, ",\"max_attempts\":");
	wline_int(l, j->max_attempts);
	WLINE_PUT(l, ",\"timeout\":");
	put_real(l, j->timeout, false);
	WLINE_PUT(l, ",\"created_at\":");
	put_kept_time(l, j->created_at, c ? &c->created : NULL,
	    c ? c->created_t : NULL);
	WLINE_PUT(l, ",\"started_at\":");
	put_kept_time(l, j->started_at, c ? &c->started : NULL,
	    c ? c->started_t : NULL);
	WLINE_PUT(l, ",\"finished_at\":");
	put_real(l, j->finished_at, true);
	WLINE_PUT(l, ",\"result\":");
	if (j->result != NULL)
		wline_put(l, j->result, strlen(j->result));
	else
		WLINE_PUT(l, "null");
	WLINE_PUT(l, ",\"error\":");
	wline_str(l, j->error);
	WLINE_PUT(l, ",\"cancel_reason\":");
	wline_str(l, j->cancel_reason);
	WLINE_PUT(l, ",\"group\":");
	if (j->group != 0)
		wline_int(l, j->group);
	else
		WLINE_PUT(l, "null");
	WLINE_PUT(l, ",\"run_at\":");
	put_real(l, j->run_at, true);
	WLINE_PUT(l, ",\"priority\":");
	wline_int(l, j->priority);
	WLINE_PUT(l, ",\"retries\":");
	wline_int(l, j->retries);
	WLINE_PUT(l, "}");
}

/* The event line into l->buf (l->len bytes, '\n' included); false when
 * out of memory. */
bool
wline_job_event(struct wline *l, const struct watch_job *j)
{
	wline_begin(l);
	WLINE_PUT(l, "{\"event\":\"job\",\"job\":");
	put_job(l, j);
	WLINE_PUT(l, "}\n");
	return !l->oom;
}

void
wline_free(struct wline *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}
