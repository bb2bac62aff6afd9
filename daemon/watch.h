/*
 * watch.h — job events fanned out to watchers with bounded buffers.
 *
 * The engine publishes every committed state change of a job once, here;
 * each watcher (a `watch` op on the socket, an /events client on the HTTP
 * listener) whose filter matches gets the event as one JSON line
 * {"event":"job","job":{JOB}} appended to its own buffer, and its notify
 * callback is called so its writer can take the buffer.  The line is made
 * once per event, by hand into one buffer the hub reuses (no allocation
 * per event), and only when some watcher wants it: with no watcher a
 * publish is a test of a counter.
 *
 * A watcher's buffer never grows past the bound given at watch_add.  An
 * event that does not fit is dropped and counted; the watcher's next
 * watch_take ends with {"event":"dropped","count":n} in their place, so a
 * slow reader loses events (and knows it) instead of holding jobd back or
 * growing its memory.  Everything runs on the loop thread.
 */
#ifndef JOBD_WATCH_H
#define JOBD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct watch_hub;
struct watcher;

/* A job as an event shows it: the fields of {JOB}, borrowed for the call.
 * args is the job's JSON value; result is JSON text or NULL. */
struct watch_job {
	int64_t id;
	int64_t group;          /* 0: none */
	const char *queue, *kind, *name;
	int state;              /* enum store_state */
	const json_t *args;
	int attempts, max_attempts;
	double timeout, created_at, started_at, finished_at; /* 0: null */
	double run_at;          /* 0: null */
	int priority, retries;
	const char *result, *error, *cancel_reason;
	struct watch_cache **cache;     /* the job's; NULL: none */
	uid_t uid;              /* its submitter; (uid_t)-1: none known */
};

/* What a job's events share (its args' text, its times spelt), made at
 * its first event and kept with the job; the job frees it with
 * watch_cache_free (NULL is a no-op). */
struct watch_cache;
void watch_cache_free(struct watch_cache *c);

/* Which events a watcher wants; zero fields match everything. */
struct watch_filter {
	const char *queue;      /* copied at watch_add */
	int64_t id;
	int64_t group;
	/* Visibility (engine.h, eng_sees_only): with own set, only the jobs
	 * submitted by uid; (uid_t)-1 matches no job at all. */
	bool own;
	uid_t uid;
};

/* New data in a watcher's buffer (called once per publish that added
 * some, or that dropped some). */
typedef void (*watch_notify_fn)(void *arg);

struct watch_hub *watch_hub_new(void);

/* Free the hub; every watcher must be gone.  NULL is a no-op. */
void watch_hub_free(struct watch_hub *h);

/* A watcher with filter f (NULL: all), a buffer bound of max bytes, and
 * notify(arg).  NULL (ENOMEM). */
struct watcher *watch_add(struct watch_hub *h, const struct watch_filter *f,
    size_t max, watch_notify_fn notify, void *arg);

/* Remove and free w.  NULL is a no-op. */
void watch_remove(struct watcher *w);

/* Publish one change.  Cheap when nobody watches. */
void watch_publish(struct watch_hub *h, const struct watch_job *j);

/* The events about no one job's state, for the watchers without an id or
 * group filter whose queue filter is empty or names queue (NULL: every
 * queue).  Counts and names only, so visibility = own hides none:
 *   {"event":"queue","queue":Q,"paused":B}      a pause or resume
 *   {"event":"pruned","queue":Q|null,"deleted":N}  ended jobs deleted
 *                                               (one batch of a prune) */
void watch_publish_queue(struct watch_hub *h, const char *queue, bool paused);
void watch_publish_pruned(struct watch_hub *h, const char *queue,
    uint64_t deleted);

/* A submit that made nothing: its unique key or schedule slot is held by
 * job existing.  {"event":"duplicate","id":EXISTING,"queue":Q,"kind":K,
 * "name":N}, to the watchers that would have seen j's events (an id
 * filter matches existing). */
void watch_publish_duplicate(struct watch_hub *h, const struct watch_job *j,
    int64_t existing);

/* Hand w's buffered lines (and the dropped line, if events were lost) to
 * fn as one block of len bytes, then empty the buffer.  Returns the bytes
 * handed over (0: nothing was pending; fn not called). */
typedef void (*watch_take_fn)(void *arg, const char *data, size_t len);
size_t watch_take(struct watcher *w, watch_take_fn fn, void *arg);

/* The same, handing over the buffer itself instead of a copy: *bufp
 * (the caller frees it) holds the returned number of bytes; 0 and NULL:
 * nothing was pending.  w starts a new buffer at the next event. */
size_t watch_take_buf(struct watcher *w, char **bufp);

/* Bytes waiting in w's buffer, plus one when a dropped line is due: 0
 * means watch_take has nothing to hand over. */
size_t watch_pending(const struct watcher *w);

/* Watchers now; events dropped since start, all watchers together. */
size_t watch_count(const struct watch_hub *h);
uint64_t watch_dropped(const struct watch_hub *h);

#endif /* JOBD_WATCH_H */
