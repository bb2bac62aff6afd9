/*
 * watch_line.h — the event lines of watch.h, written by hand into a
 * reusable buffer (no jansson tree, no allocation per event), in the
 * spelling of the answers (proto_dump: shortest reals, jansson's string
 * escapes).  For watch.c only.
 */
#ifndef JOBD_WATCH_LINE_H
#define JOBD_WATCH_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct watch_job;

/* A line being made; oom: a step found no memory (the line is lost). */
struct wline {
	char *buf;
	size_t len, cap;
	bool oom;
};

void wline_begin(struct wline *l);
void wline_put(struct wline *l, const char *s, size_t n);
#define WLINE_PUT(l, lit) wline_put((l), (lit), sizeof(lit) - 1)
void wline_int(struct wline *l, int64_t v);
/* s as a JSON string; NULL as null. */
void wline_str(struct wline *l, const char *s);

/* {"event":"job","job":{JOB}} and a newline, from the start of l;
 * false when out of memory. */
bool wline_job_event(struct wline *l, const struct watch_job *j);

void wline_free(struct wline *l);

#endif /* JOBD_WATCH_LINE_H */
