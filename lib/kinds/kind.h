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
 * its awaits (and clean up first, in a shield when clean-up awaits).  What
 * a stopped run leaves in run->result is kept (a stopped exec keeps the
 * output it had).
 *
 * State shared by all the jobs of a kind (exec's semaphore, http's
 * connection pool) lives in a struct kind_env: one per daemon, made from
 * the [daemon] settings the kinds read (struct kind_conf), handed to each
 * run.  The kinds never read the config file themselves.
 */
#ifndef JOBD_KIND_H
#define JOBD_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto.h"

struct event_base;
struct exec_iso;
struct netacl;

/* kind_run.uid of a job with no recorded submitter (eng_who's NOBODY). */
#define KIND_NOBODY ((uid_t)-1)

/* Longest error text a kind reports. */
#define KIND_ERROR_MAX 512

/* The settings the kinds read: [daemon] keys of the same names
 * (docs/CONFIG.md), copied at start and on every reload. */
struct kind_conf {
	size_t max_output;      /* bytes kept per captured stream / body */
	double kill_grace;      /* seconds from SIGTERM to SIGKILL */
	int exec_concurrency;   /* exec jobs at once; >= 1 (resolved) */
	int http_per_host;      /* http requests at once per host:port */
	bool allow_exec;        /* accept exec jobs */
	bool allow_http;        /* accept http jobs */
	bool run_as_submitter;  /* run_as resolved: exec jobs as their
	                         * submitter (exec_user.h), else as jobd */
	/* Where http jobs may connect (netacl.h); borrowed from the loaded
	 * config, valid until the next reconf; NULL is an empty list. */
	const struct netacl *http_allow;
	const struct netacl *http_deny;
	double http_max_time;   /* seconds one http request may take; > 0 */
	/* How exec jobs are contained (exec_iso.h), set up by jobd at
	 * start; borrowed.  NULL (a kind run outside jobd): process groups
	 * only, no limits. */
	struct exec_iso *iso;
};

/* Resource limits of a run, from its queue ([queue.*] exec_*_max): the
 * default and the most its args may ask for; 0 = none. */
struct kind_limits {
	long pids;
	uint64_t memory;        /* bytes */
	double cpus;
};

/* One run of a job: args in, result and error out. */
struct kind_run {
	int64_t job_id;         /* the job's id; 0 when run outside jobd */
	uid_t uid;              /* its submitter; KIND_NOBODY: not recorded */
	const json_t *args;     /* borrowed; already passed check() */
	struct kind_limits limits;      /* its queue's */
	void *state;            /* the kind's shared state (open()), or NULL */
	const struct kind_conf *conf;   /* the settings now; read-only */
	json_t *result;         /* out: owned by the caller once run returns */
	char error[KIND_ERROR_MAX];     /* out: why it failed, "" if none */
	/* out: the failure is in the job itself (an http destination that
	 * the config denies, a program that cannot start, an http 4xx
	 * other than 408, 425, 429): running it again would fail the same
	 * way, so it is not retried. */
	bool permanent;
	/* out: the server asked for this many seconds before a retry (an
	 * http Retry-After); 0: none. */
	double retry_after;
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
	/* Optional: make the kind's shared state (*state) for one daemon,
	 * on base's loop.  0 or a negative errno (the daemon does not
	 * start).  Called outside any task. */
	int (*open)(struct event_base *base, const struct kind_conf *kc,
	    void **state);
	/* Optional: the settings changed (reload); kc stays valid until the
	 * next reconf or close.  Keys that take effect only at start
	 * (exec_concurrency, http_per_host) may be ignored. */
	void (*reconf)(void *state, const struct kind_conf *kc);
	/* Optional: free the state.  No run of the kind is in progress.
	 * Called outside any task. */
	void (*close)(void *state);
	/* The run has no effect outside jobd (sleep): it may begin before
	 * its start is committed.  Any other kind's run waits for that
	 * commit, so attempts counts every run, a crash notwithstanding. */
	bool pure;
	/* Optional: whether kc lets jobs of the kind in (the key that turns
	 * kind NAME off is allow_NAME).  NULL: always. */
	bool (*allowed)(const struct kind_conf *kc);
	/* Optional: the kind's rule for a run a crash interrupted: may a
	 * job with these args (checked at submit) run again?  true, or
	 * false with why filled ("POST is not idempotent").  NULL: always
	 * (sleep, exec).  The submit field idempotent overrides it (see
	 * kind_rerun).  Pure: called on the store's writer thread, inside
	 * the recovery's transaction. */
	bool (*rerun)(const json_t *args, char *why, size_t len);
	/* Optional, for a run that is only a wait (sleep), so that jobd can
	 * hold it without a worker's stack (docs/PERF.md).  wait() says how
	 * long: 0 and *seconds, or a negative errno (jobd then calls run(),
	 * which reports it).  After the wait done() finishes the run and
	 * returns what run() would have.  Neither may await; run() must
	 * still do the whole job on its own (outside jobd, and for waits of
	 * no length). */
	int (*wait)(struct kind_run *run, double *seconds);
	int (*done)(struct kind_run *run);
};

/* What a job's submit said about runs after a crash (jobs.idempotent). */
enum kind_idem {
	KIND_IDEM_UNSET,        /* the kind's rule (rerun) decides */
	KIND_IDEM_NO,           /* "idempotent": false: never run again */
	KIND_IDEM_YES,          /* "idempotent": true: always */
};

/* Longest reason kind_rerun gives. */
#define KIND_WHY_MAX 128

/* May a run of kind k with args that a crash or stop interrupted run
 * again?  idem overrides the kind's rule.  true, or false with why
 * filled (no prefix: "POST is not idempotent").  k NULL (an unknown
 * kind) or args NULL: true (recovery ends those jobs for their own
 * reason).  Thread-safe. */
bool kind_rerun(const struct kind *k, const json_t *args, enum kind_idem idem,
    char *why, size_t len);

/* The error of a job kind_rerun refused, into buf: "interrupted by a crash
 * or stop; not run again: WHY" (the contract's text). */
void kind_rerun_error(char *buf, size_t len, const char *why);

/* Every kind's shared state, for one daemon. */
struct kind_env;

/* Open every kind's state with kc (copied).  0 and *out, or the first
 * error of a kind's open() (the others are closed again). */
int kind_env_open(struct event_base *base, const struct kind_conf *kc,
    struct kind_env **out);

/* New settings (a reload): copied, and passed to each kind's reconf(). */
void kind_env_reconf(struct kind_env *ke, const struct kind_conf *kc);

/* Close every kind's state; no job may be running.  NULL is a no-op. */
void kind_env_close(struct kind_env *ke);

/* The settings now (valid until the next reconf or close). */
const struct kind_conf *kind_env_conf(const struct kind_env *ke);

/* 0 if ke's settings allow jobs of kind k, or -EPERM with err filled
 * (code forbidden, naming the key that turned it off). */
int kind_env_allowed(const struct kind_env *ke, const struct kind *k,
    struct proto_err *err);

/* Fill run's state and conf for a run of kind k. */
void kind_env_prepare(const struct kind_env *ke, const struct kind *k,
    struct kind_run *run);

/* The kind named name, or NULL (the daemon answers unknown_kind). */
const struct kind *kind_find(const char *name);

/* Kind number i of the table, or NULL past the end (for listing them). */
const struct kind *kind_at(size_t i);


/* For check(): 0 if every key of the object args is one of the n names
 * the kind takes, else -EINVAL with err naming the first stranger and
 * listing the names (so a misspelt optional field is not ignored). */
int kind_fields_known(const json_t *args, const char *const *names,
    size_t n, struct proto_err *err);

/* Set run->error, printf-style, truncating to KIND_ERROR_MAX. */
void kind_error(struct kind_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* JOBD_KIND_H */
