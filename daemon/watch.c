/*
 * watch.c — the fan-out of job events (see watch.h).
 *
 * A watcher with a filter owns one buffer that grows by doubling up to its
 * bound and shrinks back when taken while small, so a thousand idle
 * watchers cost a thousand small buffers, and a stalled one at most its
 * bound.  Watchers without a filter share one log of the events instead
 * (below: one copy per event whatever their number).  The lines
 * themselves are made by watch_line.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "watch.h"
#include "watch_line.h"

#define BUF_START 4096          /* a watcher's first buffer */
#define DROPPED_MAX 64          /* the dropped line's length, at most */

struct watcher {
	struct watch_hub *h;
	char *queue;            /* filter: NULL any */
	int64_t id, group;
	bool own;               /* filter: only uid's jobs */
	uid_t uid;
	char *buf;
	size_t len, cap, max;
	size_t hint;            /* the next buffer's size (watch_take_buf) */
	uint64_t dropped;       /* since the last take */
	bool full;              /* no filter: every event (the log's) */
	bool inlog;             /* full, and reading the hub's log at pos */
	uint64_t pos;
	watch_notify_fn notify;
	void *arg;
	LIST_ENTRY(watcher) link;
};

struct watch_hub {
	LIST_HEAD(, watcher) ws;
	size_t n;
	uint64_t dropped;
	struct wline l;         /* the event being published, reused */
	char *log;              /* the full watchers' events (below) */
	size_t loglen, logcap;
	uint64_t logbase;       /* the offset of log[0] */
	size_t ninlog;          /* watchers reading it */
};

static void log_trim(struct watch_hub *h);

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
	wline_free(&h->l);
	free(h->log);
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
	w->full = w->inlog = w->queue == NULL && w->id == 0 &&
	    w->group == 0 && !w->own;
	w->pos = h->logbase + h->loglen;
	h->ninlog += w->inlog;
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
	if (w->inlog) {
		w->h->ninlog--;
		log_trim(w->h);
	}
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
	cap = w->cap ? w->cap : w->hint ? w->hint : BUF_START;
	for (; cap < w->len + n; cap *= 2)
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

/* ---- the log of the full watchers ---------------------------------------- *
 *
 * A watcher without a filter (jobctl top, a dashboard, a watch of all)
 * takes every event.  The hub keeps those events once, in one log, and
 * each such watcher only its place in it (pos, counted from the hub's
 * first event): one copy per event, not one per watcher, and a take
 * copies the watcher's part out in one piece.  A full watcher that would
 * fall past its bound leaves the log: its part moves to its own buffer,
 * it loses events as any watcher does until its next take, and then
 * rejoins at the log's end.  So the log holds at most the largest bound
 * of those in it, and twice that before it is compacted. */

static uint64_t
log_end(const struct watch_hub *h)
{
	return h->logbase + h->loglen;
}

/* Give back the head of the log every watcher in it has taken, once it
 * is half the log (a memmove of the rest) or all of it. */
static void
log_trim(struct watch_hub *h)
{
	uint64_t min = log_end(h);
	struct watcher *w;
	size_t drop;

	LIST_FOREACH(w, &h->ws, link)
		if (w->inlog && w->pos < min)
			min = w->pos;
	drop = (size_t)(min - h->logbase);
	if (drop == h->loglen) {
		h->logbase = min;
		h->loglen = 0;
		if (h->ninlog == 0) {
			free(h->log);
			h->log = NULL;
			h->logcap = 0;
		}
	} else if (drop > 0 && drop >= h->loglen - drop) {
		memmove(h->log, h->log + drop, h->loglen - drop);
		h->loglen -= drop;
		h->logbase = min;
	}
}

static bool
log_append(struct watch_hub *h, const char *line, size_t len)
{
	size_t cap = h->logcap ? h->logcap : BUF_START;
	char *p;

	while (cap < h->loglen + len)
		cap *= 2;
	if (cap != h->logcap) {
		if ((p = realloc(h->log, cap)) == NULL)
			return false;
		h->log = p;
		h->logcap = cap;
	}
	memcpy(h->log + h->loglen, line, len);
	h->loglen += len;
	return true;
}

/* w leaves the log: its part, up to end, into its own buffer (where it
 * fits: it kept within its bound; out of memory, its events are lost and
 * counted). */
static void
log_spill(struct watcher *w, uint64_t end)
{
	struct watch_hub *h = w->h;
	size_t n = (size_t)(end - w->pos);
	const char *from = n > 0 ? h->log + (w->pos - h->logbase) : NULL;

	w->inlog = false;
	h->ninlog--;
	if (n > 0 && buf_fit(w, n)) {
		memcpy(w->buf + w->len, from, n);
		w->len += n;
	} else {
		for (const char *p = from; n > 0 && p < from + n; p++)
			if (*p == '\n')
				w->dropped++, h->dropped++;
	}
	log_trim(h);
}

/* The event at before in the log (logged: it is there) for w, in it. */
static void
deliver_log(struct watcher *w, bool logged, uint64_t before, size_t len)
{
	if (!logged || (size_t)(before - w->pos) + len + DROPPED_MAX >
	    w->max) {
		log_spill(w, before);
		w->dropped++;
		w->h->dropped++;
	}
	w->notify(w->arg);
}

/* The line made in h into the log, if some watcher reads it: *before is
 * where it begins; false when it is not there (none, or no memory). */
static bool
log_line(struct watch_hub *h, bool made, uint64_t *before)
{
	*before = log_end(h);
	return h->ninlog > 0 && made && log_append(h, h->l.buf, h->l.len);
}

void
watch_publish(struct watch_hub *h, const struct watch_job *j)
{
	struct watcher *w, *next;
	bool made = false, ok = false, logged = false;
	uint64_t before = 0;

	if (h == NULL || h->n == 0)
		return;
	if (h->ninlog > 0) {
		ok = wline_job_event(&h->l, j);
		made = true;
		logged = log_line(h, ok, &before);
	}
	/* notify may remove its own watcher (a writer that fails): step
	 * with a saved next. */
	for (w = LIST_FIRST(&h->ws); w != NULL; w = next) {
		next = LIST_NEXT(w, link);
		if (w->inlog) {
			deliver_log(w, logged, before, h->l.len);
			continue;
		}
		if (!matches(w, j))
			continue;
		if (!made) {
			ok = wline_job_event(&h->l, j);
			made = true;
		}
		deliver(w, ok ? h->l.buf : NULL, h->l.len);
	}
}

/* ---- the events about no one job's state ------------------------------ */

/* Hand the line made in h to every watcher ok(w, a) says wants it. */
static void
publish_made(struct watch_hub *h, bool (*ok)(const struct watcher *,
    const void *), const void *a)
{
	struct watcher *w, *next;
	bool made = !h->l.oom;
	uint64_t before;
	bool logged = log_line(h, made, &before);

	for (w = LIST_FIRST(&h->ws); w != NULL; w = next) {
		next = LIST_NEXT(w, link);
		if (w->inlog)           /* no filter: wants them all */
			deliver_log(w, logged, before, h->l.len);
		else if (ok(w, a))
			deliver(w, made ? h->l.buf : NULL, h->l.len);
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
	wline_begin(&h->l);
	WLINE_PUT(&h->l, "{\"event\":\"queue\",\"queue\":");
	wline_str(&h->l, queue);
	if (paused)
		WLINE_PUT(&h->l, ",\"paused\":true}\n");
	else
		WLINE_PUT(&h->l, ",\"paused\":false}\n");
	publish_made(h, wants_queue, queue);
}

void
watch_publish_pruned(struct watch_hub *h, const char *queue,
    uint64_t deleted)
{
	if (h == NULL || h->n == 0 || deleted == 0)
		return;
	wline_begin(&h->l);
	WLINE_PUT(&h->l, "{\"event\":\"pruned\",\"queue\":");
	wline_str(&h->l, queue);
	WLINE_PUT(&h->l, ",\"deleted\":");
	wline_int(&h->l, (int64_t)deleted);
	WLINE_PUT(&h->l, "}\n");
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
	wline_begin(&h->l);
	WLINE_PUT(&h->l, "{\"event\":\"duplicate\",\"id\":");
	wline_int(&h->l, existing);
	WLINE_PUT(&h->l, ",\"queue\":");
	wline_str(&h->l, j->queue);
	WLINE_PUT(&h->l, ",\"kind\":");
	wline_str(&h->l, j->kind);
	WLINE_PUT(&h->l, ",\"name\":");
	wline_str(&h->l, j->name);
	WLINE_PUT(&h->l, "}\n");
	publish_made(h, wants_dup, &d);
}

/* Before a take: the dropped line after the lines, if events were lost;
 * false when there is nothing to take (or no memory for that line). */
static bool
take_ready(struct watcher *w)
{
	char d[DROPPED_MAX];
	int k;

	if (w->len == 0 && w->dropped == 0)
		return false;
	if (w->dropped > 0) {
		/* buf_fit kept DROPPED_MAX free past len, but the buffer
		 * itself may be smaller: make sure it has the room. */
		k = snprintf(d, sizeof(d), "{\"event\":\"dropped\",\"count\":%"
		    PRIu64 "}\n", w->dropped);
		if (w->cap < w->len + (size_t)k) {
			char *p = realloc(w->buf, w->len + (size_t)k);

			if (p == NULL)
				return false;   /* try again at the next take */
			w->buf = p;
			w->cap = w->len + (size_t)k;
		}
		memcpy(w->buf + w->len, d, (size_t)k);
		w->len += (size_t)k;
		w->dropped = 0;
	}
	return true;
}

/* A take from w's own buffer is over: a full watcher that had left the
 * log rejoins it at its end. */
static void
take_rejoin(struct watcher *w)
{
	if (w->full && !w->inlog) {
		w->inlog = true;
		w->h->ninlog++;
		w->pos = log_end(w->h);
	}
}

/* The part of the log w has not taken: *p, the length returned. */
static size_t
log_part(const struct watcher *w, const char **p)
{
	size_t n = (size_t)(log_end(w->h) - w->pos);

	*p = n > 0 ? w->h->log + (w->pos - w->h->logbase) : NULL;
	return n;
}

static void
log_taken(struct watcher *w, size_t n)
{
	w->pos += n;
	log_trim(w->h);
}

size_t
watch_take(struct watcher *w, watch_take_fn fn, void *arg)
{
	const char *part;
	size_t n;

	if (w->inlog) {
		if ((n = log_part(w, &part)) > 0) {
			fn(arg, part, n);
			log_taken(w, n);
		}
		return n;
	}
	if (!take_ready(w))
		return 0;
	n = w->len;
	fn(arg, w->buf, n);
	w->len = 0;
	if (w->cap > 4 * BUF_START && n < BUF_START) {
		free(w->buf);           /* a burst is over: give it back */
		w->buf = NULL;
		w->cap = 0;
	}
	take_rejoin(w);
	return n;
}

size_t
watch_take_buf(struct watcher *w, char **bufp)
{
	const char *part;
	size_t n;

	*bufp = NULL;
	if (w->inlog) {
		if ((n = log_part(w, &part)) == 0 ||
		    (*bufp = malloc(n)) == NULL)
			return 0;       /* out of memory: at the next take */
		memcpy(*bufp, part, n);
		log_taken(w, n);
		return n;
	}
	if (!take_ready(w))
		return 0;
	n = w->len;
	*bufp = w->buf;
	/* The next buffer starts at this one's size (no doubling again
	 * through a steady stream), or small once a burst is over. */
	w->hint = n < BUF_START ? 0 : w->cap;
	w->buf = NULL;
	w->cap = w->len = 0;
	take_rejoin(w);
	return n;
}

size_t
watch_pending(const struct watcher *w)
{
	if (w->inlog)
		return (size_t)(log_end(w->h) - w->pos);
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
