/*
 * kind.h — job kinds, each one entry in one table.
 *
 * A kind is two functions: check() validates a job's args when it is
 * submitted (a bad one is refused with bad_request and never stored), and
 * run() does the job as a coroutine on a worker task.  The daemon's core
 * knows nothing of any kind beyond this table, so exec and http plug in by
 * adding an entry (kind_sleep.c shows the shape).
 *
 * Timeouts and cancellation are the caller's: the worker runs run() inside
 * a deadline scope for the job's timeout and cancels the worker task to
 * cancel the job, so run() only has to pass on -ETIMEDOUT / -ECANCELED from
 * its awaits (and clean up first, in a shield when clean-up awaits).
 */
#ifndef JOBD_KIND_H
#define JOBD_KIND_H

#include <jansson.h>

#include "proto.h"

/* Longest error text a kind reports. */
#define KIND_ERROR_MAX 512

/* One run of a job: args in, result and error out. */
struct kind_run {
	const json_t *args;     /* borrowed; already passed check() */
	json_t *result;         /* out: owned by the caller once run returns */
	char error[KIND_ERROR_MAX];     /* out: why it failed, "" if none */
};

struct kind {
	const char *name;
	/* 0, or -EINVAL with err filled (code bad_request, message naming
	 * the field, e.g. "args: field \"seconds\": ..."). */
	int (*check)(const json_t *args, struct proto_err *err);
	/* Run in a task.  0: succeeded.  -ETIMEDOUT / -ECANCELED: the job's
	 * deadline passed / it was cancelled (passed through from an await).
	 * Any other negative errno: failed, with run->error saying why.
	 * run->result may be set in every case (a failed exec keeps its
	 * output); the caller json_decref()s it. */
	int (*run)(struct kind_run *run);
};

/* The kind named name, or NULL (the daemon answers unknown_kind). */
const struct kind *kind_find(const char *name);

/* Kind number i of the table, or NULL past the end (for listing them). */
const struct kind *kind_at(size_t i);

/* Set run->error, printf-style, truncating to KIND_ERROR_MAX. */
void kind_error(struct kind_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* JOBD_KIND_H */
