/*
 * watch.c — the fan-out of job events (see watch.h).
 *
 * Each watcher owns one buffer that grows by doubling up to its bound and
 * shrinks back when taken while small, so a thousand idle watchers cost a
 * thousand small buffers, and a stalled one at most its bound.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "proto.h"
#include "store.h"
#include "watch.h"

#define BUF_START 4096          /* a watcher's first buffer */
#define DROPPED_MAX 64          /* the dropped line's length, at most */

struct watcher {
	struct watch_hub *h;
	char *queue;            /* filter: NULL any */
	int64_t id, group;
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
	return (w->id == 0 || w->id == j->id) &&
	    (w->group == 0 || w->group == j->group) &&
	    (w->queue == NULL || strcmp(w->queue, j->queue) == 0);
}

static json_t *
text_json(const char *text)
{
	json_t *v;

	if (text == NULL)
		return json_null();
	if ((v = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL)
		v = json_string(text);
	return v;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
watch_job_json(const struct watch_job *j)
{
	return json_pack("{s:I s:s s:s s:s s:O s:o s:i s:i s:f s:o s:o s:o "
	    "s:o s:o s:o s:o}",
	    "id", (json_int_t)j->id,
	    "queue", j->queue,
	    "kind", j->kind,
	    "state", store_state_name(j->state),
	    "args", j->args != NULL ? (json_t *)j->args : json_null(),
	    "name", str_or_null(j->name),
	    "attempts", j->attempts,
	    "max_attempts", j->max_attempts,
	    "timeout", j->timeout,
	    "created_at", proto_time(j->created_at),
	    "started_at", proto_time(j->started_at),
	    "finished_at", proto_time(j->finished_at),
	    "result", text_json(j->result),
	    "error", str_or_null(j->error),
	    "cancel_reason", str_or_null(j->cancel_reason),
	    "group", j->group != 0 ? json_integer(j->group) : json_null());
}

/* The event line, '\n' included (malloc'd), or NULL. */
static char *
event_line(const struct watch_job *j, size_t *lenp)
{
	json_t *ev;
	char *s;

	ev = json_pack("{s:s s:o}", "event", "job", "job", watch_job_json(j));
	if (ev == NULL)
		return NULL;
	s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (s == NULL)
		return NULL;
	*lenp = strlen(s);
	s[(*lenp)++] = '\n';    /* over the NUL: the length says where */
	return s;
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
	char *line = NULL;
	size_t len = 0;
	bool made = false;

	if (h == NULL || h->n == 0)
		return;
	/* notify may remove its own watcher (a writer that fails): step
	 * with a saved next. */
	for (w = LIST_FIRST(&h->ws); w != NULL; w = next) {
		next = LIST_NEXT(w, link);
		if (!matches(w, j))
			continue;
		if (!made) {
			line = event_line(j, &len);
			made = true;
		}
		deliver(w, line, len);
	}
	free(line);
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
