/*
 * watch.c — the fan-out of job events (see watch.h).
 *
 * Each watcher owns one buffer that grows by doubling up to its bound and
 * shrinks back when taken while small, so a thousand idle watchers cost a
 * thousand small buffers, and a stalled one at most its bound.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "proto.h"
#include "store.h"
#include "utf8.h"
#include "watch.h"

#define BUF_START 4096          /* a watcher's first buffer */
#define LINE_START 1024         /* the hub's line buffer, at first */
#define DROPPED_MAX 64          /* the dropped line's length, at most */

struct watcher {
	struct watch_hub *h;
	char *queue;            /* filter: NULL any */
	int64_t id, group;
	bool own;               /* filter: only uid's jobs */
	uid_t uid;
	char *buf;
	size_t len, cap, max;
	uint64_t dropped;       /* since the last take */
	watch_notify_fn notify;
	void *arg;
	LIST_ENTRY(watcher) link;
};

struct watch_hub {
	LIST_HEAD(, watcher) ws;
	size_t n;
	uint64_t dropped;
	char *line;             /* the event being published, reused */
	size_t len, cap;
	bool oom;               /* the line could not be made */
};

struct watch_hub *
watch_hub_new(void)
{
	struct watch_hub *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	LIST_INIT(&h->ws);
	return h;
}

void
watch_hub_free(struct watch_hub *h)
{
	struct watcher *w;

	if (h == NULL)
		return;
	while ((w = LIST_FIRST(&h->ws)) != NULL)
		watch_remove(w);
	free(h->line);
	free(h);
}

struct watcher *
watch_add(struct watch_hub *h, const struct watch_filter *f, size_t max,
    watch_notify_fn notify, void *arg)
{
	struct watcher *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if (f != NULL && f->queue != NULL &&
	    (w->queue = strdup(f->queue)) == NULL) {
		free(w);
		return NULL;
	}
	if (f != NULL) {
		w->id = f->id;
		w->group = f->group;
		w->own = f->own;
		w->uid = f->uid;
	}
	w->h = h;
	w->max = max > DROPPED_MAX ? max : DROPPED_MAX;
	w->notify = notify;
	w->arg = arg;
	LIST_INSERT_HEAD(&h->ws, w, link);
	h->n++;
	return w;
}

void
watch_remove(struct watcher *w)
{
	if (w == NULL)
		return;
	LIST_REMOVE(w, link);
	w->h->n--;
	free(w->queue);
	free(w->buf);
	free(w);
}

static bool
matches(const struct watcher *w, const struct watch_job *j)
{
	if (w->own && (j->uid != w->uid || j->uid == (uid_t)-1))
		return false;
	return (w->id == 0 || w->id == j->id) &&
	    (w->group == 0 || w->group == j->group) &&
	    (w->queue == NULL || strcmp(w->queue, j->queue) == 0);
}

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
line_room(struct watch_hub *h, size_t n)
{
	size_t cap = h->cap ? h->cap : LINE_START;
	char *p;

	if (h->oom)
		return false;
	while (cap - h->len < n)
		cap *= 2;
	if (cap != h->cap) {
		if ((p = realloc(h->line, cap)) == NULL)
			return !(h->oom = true);
		h->line = p;
		h->cap = cap;
	}
	return true;
}

/* A new line in h's buffer. */
static void
line_begin(struct watch_hub *h)
{
	h->len = 0;
	h->oom = false;
}

static void
put(struct watch_hub *h, const char *s, size_t n)
{
	if (line_room(h, n)) {
		memcpy(h->line + h->len, s, n);
		h->len += n;
	}
}

#define PUT(h, lit) put((h), (lit), sizeof(lit) - 1)

static void
put_int(struct watch_hub *h, int64_t v)
{
	char b[24], *e = b + sizeof(b), *q = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--q = '-';
	put(h, q, (size_t)(e - q));
}

/* A real as the answers spell it; an integral one (a timeout, mostly)
 * without the printf. */
static int
real_text(double d, char *b, size_t len)
{
	if (d == (double)(int64_t)d && d > -1e15 && d < 1e15 &&
	    !(d == 0 && signbit(d)))
		return snprintf(b, len, "%" PRId64 ".0", (int64_t)d);
	return proto_real_spell(d, b, len);
}

/* A time: null when not yet reached (as proto_time). */
static int
time_text(double t, char *b, size_t len)
{
	if (!isfinite(t) || t <= 0)
		return snprintf(b, len, "null");
	return real_text(t, b, len);
}

/* A real, or a time (null when not yet reached). */
static void
put_real(struct watch_hub *h, double d, bool is_time)
{
	char b[32];
	int n = is_time ? time_text(d, b, sizeof(b)) : real_text(d, b,
	    sizeof(b));

	if (n > 0)
		put(h, b, (size_t)n);
	else
		h->oom = true;
}

/* s as a JSON string (jansson's escapes), ill-formed UTF-8 and NUL as
 * U+FFFD (utf8.h); NULL as null. */
static void
put_str(struct watch_hub *h, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t left;
	bool partial;
	int k;

	if (s == NULL) {
		PUT(h, "null");
		return;
	}
	PUT(h, "\"");
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
		put(h, (const char *)run, (size_t)(p - run));
		if (*p >= 0x80) {
			k = utf8_char(p, left, &partial);
			PUT(h, "\xef\xbf\xbd");
			p += -k, left -= (size_t)-k;
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4],
			    hex[*p & 15] };

			if (*p == '"' || *p == '\\')
				e[1] = (char)*p, put(h, e, 2);
			else if (*p == '\n')
				PUT(h, "\\n");
			else if (*p == '\t')
				PUT(h, "\\t");
			else if (*p == '\r')
				PUT(h, "\\r");
			else if (*p == '\b')
				PUT(h, "\\b");
			else if (*p == '\f')
				PUT(h, "\\f");
			else
				put(h, e, 6);
			p++, left--;
		}
		run = p;
	}
	put(h, (const char *)run, (size_t)(p - run));
	PUT(h, "\"");
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
put_args(struct watch_hub *h, const struct watch_job *j,
    struct watch_cache *c)
{
	char *text;

	if (j->args == NULL) {
		PUT(h, "null");
		return;
	}
	if (c != NULL && c->args != NULL) {
		put(h, c->args, strlen(c->args));
		return;
	}
	if ((text = proto_dumps(j->args, JSON_COMPACT)) == NULL) {
		h->oom = true;
		return;
	}
	put(h, text, strlen(text));
	if (c != NULL)
		c->args = text;
	else
		free(text);
}

/* A time the job keeps (created_at, started_at), spelt once. */
static void
put_kept_time(struct watch_hub *h, double t, double *was, char *text)
{
	if (was == NULL) {
		put_real(h, t, true);
		return;
	}
	if (*was != t) {
		if (time_text(t, text, 32) <= 0)
			snprintf(text, 32, "null");
		*was = t;
	}
	put(h, text, strlen(text));
}

/* The {JOB} object of j, as ops_job_json has it, into the line. */
static void
put_job(struct watch_hub *h, const struct watch_job *j)
{
	struct watch_cache *c = cache_of(j);

	PUT(h, "{\"id\":");
	put_int(h, j->id);
	PUT(h, ",\"queue\":");
	put_str(h, j->queue);
	PUT(h, ",\"kind\":");
	put_str(h, j->kind);
	PUT(h, ",\"state\":\"");
	put(h, store_state_name(j->state), strlen(store_state_name(j->state)));
	PUT(h, "\",\"args\":");
	put_args(h, j, c);
	PUT(h, ",\"name\":");
	put_str(h, j->name);
	PUT(h, ",\"attempts\":");
	put_int(h, j->attempts);
	PUT(h, ",\"max_attempts\":");
	put_int(h, j->max_attempts);
	PUT(h, ",\"timeout\":");
	put_real(h, j->timeout, false);
	PUT(h, ",\"created_at\":");
	put_kept_time(h, j->created_at, c ? &c->created : NULL,
	    c ? c->created_t : NULL);
	PUT(h, ",\"started_at\":");
	put_kept_time(h, j->started_at, c ? &c->started : NULL,
	    c ? c->started_t : NULL);
	PUT(h, ",\"finished_at\":");
	put_real(h, j->finished_at, true);
	PUT(h, ",\"result\":");
	if (j->result != NULL)
		put(h, j->result, strlen(j->result));
	else
		PUT(h, "null");
	PUT(h, ",\"error\":");
	put_str(h, j->error);
	PUT(h, ",\"cancel_reason\":");
	put_str(h, j->cancel_reason);
	PUT(h, ",\"group\":");
	if (j->group != 0)
		put_int(h, j->group);
	else
		PUT(h, "null");
	PUT(h, ",\"run_at\":");
	put_real(h, j->run_at, true);
	PUT(h, ",\"priority\":");
	put_int(h, j->priority);
	PUT(h, ",\"retries\":");
	put_int(h, j->retries);
	PUT(h, "}");
}

/* The event line into h->line (h->len bytes, '\n' included); false when
 * out of memory. */
static bool
event_line(struct watch_hub *h, const struct watch_job *j)
{
	line_begin(h);
	PUT(h, "{\"event\":\"job\",\"job\":");
	put_job(h, j);
	PUT(h, "}\n");
	return !h->oom;
}

/* Room for n more bytes, keeping DROPPED_MAX for the dropped line. */
static bool
buf_fit(struct watcher *w, size_t n)
{
	size_t cap;
	char *p;

	if (w->dropped > 0 || w->len + n + DROPPED_MAX > w->max)
		return false;
	if (w->len + n <= w->cap)
		return true;
	for (cap = w->cap ? w->cap : BUF_START; cap < w->len + n; cap *= 2)
		;
	if (cap > w->max)
		cap = w->max;
	if ((p = realloc(w->buf, cap)) == NULL)
		return false;
	w->buf = p;
	w->cap = cap;
	return true;
}

static void
deliver(struct watcher *w, const char *line, size_t len)
{
	if (line != NULL && buf_fit(w, len)) {
		memcpy(w->buf + w->len, line, len);
		w->len += len;
	} else {
		w->dropped++;
		w->h->dropped++;
	}
	w->notify(w->arg);
}

void
watch_publish(struct watch_hub *h, const struct watch_job *j)
{
	struct watcher *w, *next;
	bool made = false, ok = false;

	if (h == NULL || h->n == 0)
		return;
	/* notify may remove its own watcher (a writer that fails): step
	 * with a saved next. */
	for (w = LIST_FIRST(&h->ws); w != NULL; w = next) {
		next = LIST_NEXT(w, link);
		if (!matches(w, j))
			continue;
		if (!made) {
			ok = event_line(h, j);
			made = true;
		}
		deliver(w, ok ? h->line : NULL, h->len);
	}
}

/* ---- the events about no one job's state ------------------------------ */

/* Hand the line made in h to every watcher ok(w, a) says wants it. */
static void
publish_made(struct watch_hub *h, bool (*ok)(const struct watcher *,
    const void *), const void *a)
{
	struct watcher *w, *next;
	bool made = !h->oom;

	for (w = LIST_FIRST(&h->ws); w != NULL; w = next) {
		next = LIST_NEXT(w, link);
		if (ok(w, a))
			deliver(w, made ? h->line : NULL, h->len);
	}
}

/* An aggregate about queue (NULL: every queue). */
static bool
wants_queue(const struct watcher *w, const void *a)
{
	const char *queue = a;

	return w->id == 0 && w->group == 0 && (w->queue == NULL ||
	    queue == NULL || strcmp(w->queue, queue) == 0);
}

void
watch_publish_queue(struct watch_hub *h, const char *queue, bool paused)
{
	if (h == NULL || h->n == 0)
		return;
	line_begin(h);
	PUT(h, "{\"event\":\"queue\",\"queue\":");
	put_str(h, queue);
	if (paused)
		PUT(h, ",\"paused\":true}\n");
	else
		PUT(h, ",\"paused\":false}\n");
	publish_made(h, wants_queue, queue);
}

void
watch_publish_pruned(struct watch_hub *h, const char *queue,
    uint64_t deleted)
{
	if (h == NULL || h->n == 0 || deleted == 0)
		return;
	line_begin(h);
	PUT(h, "{\"event\":\"pruned\",\"queue\":");
	put_str(h, queue);
	PUT(h, ",\"deleted\":");
	put_int(h, (int64_t)deleted);
	PUT(h, "}\n");
	publish_made(h, wants_queue, queue);
}

struct dup_of {
	const struct watch_job *j;
	int64_t existing;
};

static bool
wants_dup(const struct watcher *w, const void *a)
{
	const struct dup_of *d = a;
	struct watch_job as = *d->j;

	as.id = w->id == d->existing ? d->existing : d->j->id;
	return matches(w, &as);
}

void
watch_publish_duplicate(struct watch_hub *h, const struct watch_job *j,
    int64_t existing)
{
	struct dup_of d = { j, existing };

	if (h == NULL || h->n == 0)
		return;
	line_begin(h);
	PUT(h, "{\"event\":\"duplicate\",\"id\":");
	put_int(h, existing);
	PUT(h, ",\"queue\":");
	put_str(h, j->queue);
	PUT(h, ",\"kind\":");
	put_str(h, j->kind);
	PUT(h, ",\"name\":");
	put_str(h, j->name);
	PUT(h, "}\n");
	publish_made(h, wants_dup, &d);
}

size_t
watch_take(struct watcher *w, watch_take_fn fn, void *arg)
{
	char d[DROPPED_MAX];
	size_t n;
	int k;

	if (w->len == 0 && w->dropped == 0)
		return 0;
	if (w->dropped > 0) {
		/* buf_fit kept DROPPED_MAX free past len, but the buffer
		 * itself may be smaller: make sure it has the room. */
		k = snprintf(d, sizeof(d), "{\"event\":\"dropped\",\"count\":%"
		    PRIu64 "}\n", w->dropped);
		if (w->cap < w->len + (size_t)k) {
			char *p = realloc(w->buf, w->len + (size_t)k);

			if (p == NULL)
				return 0;       /* try again at the next take */
			w->buf = p;
			w->cap = w->len + (size_t)k;
		}
		memcpy(w->buf + w->len, d, (size_t)k);
		w->len += (size_t)k;
		w->dropped = 0;
	}
	n = w->len;
	fn(arg, w->buf, n);
	w->len = 0;
	if (w->cap > 4 * BUF_START && n < BUF_START) {
		free(w->buf);           /* a burst is over: give it back */
		w->buf = NULL;
		w->cap = 0;
	}
	return n;
}

size_t
watch_pending(const struct watcher *w)
{
	return w->len + (w->dropped > 0);
}

size_t
watch_count(const struct watch_hub *h)
{
	return h->n;
}

uint64_t
watch_dropped(const struct watch_hub *h)
{
	return h->dropped;
}
