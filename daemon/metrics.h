/*
 * metrics.h — jobd's counters and histograms, and the Prometheus page.
 *
 * The engine counts on its hot path into a struct met_queue per queue
 * (submitted and ended jobs per kind, job durations per kind, queue waits):
 * a few additions and a short bucket search, no allocation, no lock (all
 * on the loop thread).  Nothing here reads the database, so a scrape costs
 * the same at any database size.
 *
 * met_write renders the text exposition format (version 0.0.4) for the
 * queues the caller names, so a queue removed by a reload (and drained)
 * drops out of the page even though its counters are kept.  Label values
 * are escaped (\\, \", \n), so any name stays a valid page.
 */
#ifndef JOBD_METRICS_H
#define JOBD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

struct kind;
struct met;
struct met_queue;

/* A new, empty set of counters, or NULL (ENOMEM). */
struct met *met_new(void);

/* Free m and its queues.  NULL is a no-op. */
void met_free(struct met *m);

/* The counters of queue name, made on first use; valid until met_free.
 * NULL (ENOMEM). */
struct met_queue *met_queue(struct met *m, const char *name);

/* The counters of queue name, or NULL if never made. */
struct met_queue *met_queue_find(const struct met *m, const char *name);

/* ---- the hot path (each mq may be NULL: metrics off) -------------------- */

/* A job of kind k was accepted (its insert committed). */
void met_submitted(struct met_queue *mq, const struct kind *k);

/* A job started after waiting `wait` seconds since it became ready. */
void met_started(struct met_queue *mq, double wait);

/* A job of kind k ended in state (enum store_state) after running
 * `duration` seconds (its last start to its end; negative: it never ran,
 * and no duration is counted). */
void met_ended(struct met_queue *mq, const struct kind *k, int state,
    double duration);

/* ---- the page ------------------------------------------------------------ */

/* What the daemon knows at scrape time, besides the counters. */
struct met_qstate {
	const char *name;
	size_t queued, running;
	int workers;            /* the configured bound */
	int busy;               /* workers running a job now */
};

struct met_view {
	const struct met_qstate *queues;   /* the queues to show */
	size_t nqueues;
	size_t connections;                /* socket clients now */
	size_t watchers;                   /* watch ops and /events clients */
	uint64_t watch_dropped;            /* events dropped for slow ones */
	const struct hist *commit_seconds; /* NULL: not shown */
	const struct hist *commit_jobs;
	double start_time;                 /* Unix time jobd started */
};

/* A growable output buffer. */
struct met_buf {
	char *p;
	size_t len, cap;
	bool oom;               /* an append failed: the page is incomplete */
};

/* Render the whole page into b (appended).  0 or -ENOMEM. */
int met_write(const struct met *m, const struct met_view *v,
    struct met_buf *b);

/* Append the label value s to b, escaped as the exposition format says. */
void met_escape(struct met_buf *b, const char *s);

void met_buf_free(struct met_buf *b);

#endif /* JOBD_METRICS_H */
