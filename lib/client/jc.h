/*
 * jc.h — the jobd client library (libjobdclient, docs/CLIENT.md): one
 * connection to jobd's Unix socket speaking its line protocol
 * (docs/PROTOCOL.md), and every op as a call.  A request is one line
 * of JSON, jobd answers each with one line, in order, so a client may
 * send many requests before it reads (pipelining).
 *
 * jobctl, the test harness (tests/tu_jobd.c) and the benchmarks all talk
 * to jobd through this.  The connection is an opaque struct jc_conn; the
 * functions return 0 (or a count), JC_EJOBD for an error answer (the
 * calls), or a negative errno.  Its socket is
 * non-blocking, and every wait goes through poll(2) with a timeout in
 * seconds (JC_FOREVER: none), so a caller is never stuck on a peer that
 * stopped reading or answering.  Writes never raise SIGPIPE.
 *
 * Two layers, both here: the wire part (jc_open ... jc_recv: lines), and
 * the calls (jc_submit ... jc_watch: requests and answers as jansson
 * values, docs/CLIENT.md).  The one place the wire part waits can be
 * replaced (jc_set_wait): jc_co.h plugs in libjobd's runtime, so a
 * coroutine waits without blocking its loop.
 */
#ifndef JOBD_JC_H
#define JOBD_JC_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest answer line a connection accepts unless jc_set_line_max
 * says otherwise (bytes, '\n' excluded): far past anything jobd sends
 * (its biggest answer, a list of 10,000 jobs, is bounded by max_output per
 * job), but a ceiling all the same. */
#define JC_LINE_MAX ((size_t)1 << 30)

/* A timeout that never ends. */
#define JC_FOREVER (-1.0)

struct jc_conn;

/* Where jobd listens unless told otherwise (the socket key's default in
 * its config, conf/jobd.conf). */
#define JC_DEFAULT_SOCKET "/run/jobd/jobd.sock"

/* The socket a client uses when nobody names one: $JOBD_SOCKET when set
 * and not empty, else JC_DEFAULT_SOCKET.  Not a copy: the environment's
 * string or a static one. */
const char *jc_default_path(void);

/* Connect to the Unix socket at path (NULL: jc_default_path()).  0 and
 * *out (close with jc_close), or a negative errno with *out = NULL:
 * -ENAMETOOLONG when path is empty or does not fit a socket address,
 * -ENOMEM, else connect(2)'s error (-ENOENT: no socket there,
 * -ECONNREFUSED: nobody listening, -EACCES: not permitted, ...). */
int jc_open(const char *path, struct jc_conn **out)
    __attribute__((warn_unused_result));

/* Wrap an already connected stream socket fd (tests use a socketpair); it
 * is made non-blocking.  The connection owns fd from then on, also on
 * failure.  0 or -ENOMEM. */
int jc_fdopen(int fd, struct jc_conn **out)
    __attribute__((warn_unused_result));

/* Close the socket and free c.  NULL is a no-op. */
void jc_close(struct jc_conn *c);

/* The socket, for poll(2) or getsockopt(2); still c's to close. */
int jc_fd(const struct jc_conn *c);

/* Accept answer lines of up to max bytes from now on (max > 0). */
void jc_set_line_max(struct jc_conn *c, size_t max);

/* How a connection waits: return once fd is ready for events (POLLIN,
 * POLLOUT) or timeout seconds have passed (< 0: no limit).  The ready
 * events (more than are ready is fine: the socket is non-blocking and
 * every read and write is retried), or a negative errno, which the call
 * that waited returns (-ETIMEDOUT when the time is up; -ECANCELED from a
 * cancelled coroutine, ...). */
typedef int (*jc_wait_fn)(int fd, short events, double timeout, void *arg);

/* Wait with fn(arg) from now on; fn NULL: poll(2), the default. */
void jc_set_wait(struct jc_conn *c, jc_wait_fn fn, void *arg);

/* Send the len bytes of line followed by '\n' (line must not contain
 * one).  While the socket is full the answers that arrive are read into
 * c's buffer, for jc_recv, so any number of requests can be sent ahead
 * without both sides waiting on each other.  0, or a negative errno:
 * -EPIPE/-ECONNRESET when the peer closed the connection, -ETIMEDOUT when
 * it took no byte for timeout seconds. */
int jc_send(struct jc_conn *c, const char *line, size_t len, double timeout)
    __attribute__((warn_unused_result));

/* Send len raw bytes as they are (partial or several lines), reading
 * answers meanwhile as jc_send does.  Same returns. */
int jc_send_raw(struct jc_conn *c, const void *buf, size_t len,
    double timeout) __attribute__((warn_unused_result));

/* Send len raw bytes and touch nothing but the socket: one thread may
 * call this while another reads with jc_recv (but then the peer must keep
 * reading).  Same returns as jc_send. */
int jc_write(struct jc_conn *c, const void *buf, size_t len, double timeout)
    __attribute__((warn_unused_result));

/* Send what the socket takes now, without waiting: the bytes taken (0 when
 * it is full), or a negative errno (-EPIPE/-ECONNRESET: peer closed). */
ssize_t jc_write_some(struct jc_conn *c, const void *buf, size_t len);

/* Close the sending side (shutdown SHUT_WR): the peer sees the end of the
 * requests; answers can still be read.  0 or a negative errno. */
int jc_shutdown(struct jc_conn *c);

/* Read the next line within timeout seconds.  0 with *line (NUL-terminated,
 * without its '\n') and *len; the line is borrowed and valid until the next
 * call on c other than jc_write, jc_write_some or jc_fd.  Negative errno
 * otherwise: -ETIMEDOUT (try again later: nothing is lost), -EPIPE when
 * the connection ended before any byte of a line, -EBADMSG when it ended
 * in the middle of one, -EMSGSIZE for a line past the bound (jc_set_line_max), -ENOMEM, or
 * read(2)'s error (-ECONNRESET, ...).  After any of these but -ETIMEDOUT
 * and -ENOMEM the connection answers the same error again: the stream has
 * ended, or no line boundary can be trusted any more. */
int jc_recv(struct jc_conn *c, double timeout, char **line, size_t *len)
    __attribute__((warn_unused_result));

/* ---- calls: requests and answers ------------------------------------------
 *
 * Every call below is one request and its answer on c, in order, so calls
 * may be mixed with pipelined ones (jc_req_send, jc_answer_recv) as long
 * as each answer is read.  A call returns
 *   0          jobd answered ok; outputs are set (json_t values are new
 *              references the caller json_decref's);
 *   JC_EJOBD   jobd answered an error: jc_last_error(c) has its code and
 *              message; the connection stays usable (but after
 *              line_too_long jobd closes it);
 *   < 0        a negative errno, no answer: what jc_recv returns (-EPIPE,
 *              -EBADMSG, -EMSGSIZE, -ETIMEDOUT, ...), -EPROTO for a line
 *              that is not a jobd answer (or an ok answer without what
 *              the call needs), -EINVAL for an argument that cannot be
 *              sent (NULL kind, a string that is not UTF-8), -ENOMEM;
 *              jc_last_error(c)->message says what happened.
 * Outputs are untouched unless 0 is returned.  Jobs ({JOB}) are handed out
 * as jansson objects, whole: the contract adds fields over time, and a
 * client built today shows tomorrow's fields too (docs/CLIENT.md).
 */

/* jobd answered ok:false (jc_last_error says why).  Positive, so it never
 * collides with a negative errno. */
#define JC_EJOBD 1

/* The contract's error codes (and two jobd sends besides: the refusal of
 * a connection past max_connections, and its own failures).  JC_E_OTHER:
 * a code this library does not know (a newer jobd); its name is in
 * jc_error.name all the same. */
enum jc_code {
	JC_E_NONE,               /* no error answer: a local one, or none */
	JC_E_BAD_REQUEST,
	JC_E_LINE_TOO_LONG,
	JC_E_UNKNOWN_OP,
	JC_E_UNKNOWN_KIND,
	JC_E_UNKNOWN_QUEUE,
	JC_E_NOT_FOUND,
	JC_E_QUEUE_FULL,
	JC_E_NOT_CANCELLABLE,
	JC_E_TIMEOUT,
	JC_E_SHUTTING_DOWN,
	JC_E_FORBIDDEN,
	JC_E_NOT_RETRYABLE,
	JC_E_STORAGE_ERROR,
	JC_E_INTERNAL,
	JC_E_TOO_MANY_CONNECTIONS,
	JC_E_OTHER
};

/* Bytes kept of an error code's name and of a message, NUL included:
 * jobd's messages are shorter (proto.h, PROTO_MSG_MAX). */
#define JC_NAME_MAX 64
#define JC_MSG_MAX  512

struct jc_error {
	enum jc_code code;        /* JC_E_NONE for a local error */
	char name[JC_NAME_MAX];   /* the wire code ("queue_full"), or "" */
	char message[JC_MSG_MAX]; /* jobd's message, or the local error's */
};

/* What the last call (or jc_answer_recv) on c went wrong with; code
 * JC_E_NONE and an empty message after a success.  Valid until the next
 * call on c. */
const struct jc_error *jc_last_error(const struct jc_conn *c);

/* The code of a wire name ("not_found"), JC_E_OTHER when unknown. */
enum jc_code jc_code_lookup(const char *name);

/* The wire name of code, "" for JC_E_NONE and JC_E_OTHER.  Static. */
const char *jc_code_name(enum jc_code code);

/* Seconds the calls wait for room to send and for their answer (a wait
 * call adds its own timeout to it); JC_FOREVER (the default): no limit.
 * A call that runs out returns -ETIMEDOUT, and its answer, when it comes,
 * is the next one read: a connection that timed out is best closed. */
void jc_set_timeout(struct jc_conn *c, double timeout);

/* Call fn(line, len, arg) with every answer line the calls read, as it
 * came, before it is parsed (jobctl --json prints them).  NULL: none. */
typedef void (*jc_line_fn)(const char *line, size_t len, void *arg);
void jc_on_answer(struct jc_conn *c, jc_line_fn fn, void *arg);

/* ---- submit fields -------------------------------------------------------- */

/* "Not given", for the number fields of struct jc_submit_opts (a NaN:
 * never a value on the wire) and for the integer and boolean ones. */
#define JC_UNSET     (__builtin_nan(""))
#define JC_UNSET_INT (-1)

/* In an after list of a submit_group member: the i-th job (from 0) of the
 * same request (job ids are >= 1, so these never clash). */
#define JC_MEMBER(i) (-(int64_t)(i) - 1)

/* The optional fields of a job (CONTRACT.md, submit and stage two): every
 * field unset sends nothing and jobd's default applies.  Start from
 * JC_SUBMIT_INIT (or jc_submit_opts_init): zero is a value for several of
 * them.  Strings and arrays are borrowed for the call. */
struct jc_submit_opts {
	const char *queue;     /* NULL: "default" */
	const char *name;
	double timeout;        /* s, 0 = none; JC_UNSET: the queue's */
	int max_attempts;      /* 1..1000; JC_UNSET_INT */
	int nowait;            /* 0/1; JC_UNSET_INT (= false) */
	double run_at;         /* epoch s */
	double delay;          /* s (not with run_at) */
	int priority;          /* 0..9, lower first */
	int retries;           /* 0..100 */
	double retry_delay;    /* s */
	double retry_max_delay;
	const char *retry_backoff;         /* "exponential", "fixed" */
	const int64_t *after;              /* job ids, or JC_MEMBER(i) */
	size_t nafter;                     /* 0: no after field */
	const char *on_dependency_failure; /* "cancel", "run" */
	const char *unique_key;
	double unique_for;     /* s */
	int idempotent;        /* 0/1; JC_UNSET_INT */
	const json_t *extra;   /* an object: more fields, sent as they are
	                        * (one this library does not know yet) */
};

#define JC_SUBMIT_INIT { .timeout = JC_UNSET, .max_attempts = JC_UNSET_INT, \
	.nowait = JC_UNSET_INT, .run_at = JC_UNSET, .delay = JC_UNSET,      \
	.priority = JC_UNSET_INT, .retries = JC_UNSET_INT,                  \
	.retry_delay = JC_UNSET, .retry_max_delay = JC_UNSET,               \
	.unique_for = JC_UNSET, .idempotent = JC_UNSET_INT }

void jc_submit_opts_init(struct jc_submit_opts *o);

/* ---- requests, for pipelining ----------------------------------------------
 *
 * Each jc_req_* builds one request object (a new reference), or NULL with
 * errno EINVAL (an argument jansson cannot hold: NULL, not UTF-8) or
 * ENOMEM.  Fields go out in a fixed order: op, then the call's arguments
 * in the order of the contract.  Add a "tag" (json_object_set_new) to have
 * it echoed.
 */
json_t *jc_req_ping(void);
/* args: an object (borrowed; NULL is {}).  o may be NULL. */
json_t *jc_req_submit(const char *kind, const json_t *args,
    const struct jc_submit_opts *o);
/* The fields of one job, {"kind","args",...}, for a group's jobs array. */
json_t *jc_job_spec(const char *kind, const json_t *args,
    const struct jc_submit_opts *o);
/* jobs: an array of job specs (borrowed); mode NULL (all) or "all",
 * "fail_fast". */
json_t *jc_req_submit_group(const json_t *jobs, const char *mode,
    bool nowait);
json_t *jc_req_get(int64_t id, bool history);
/* Exactly one of id and group is non-zero; timeout < 0: none. */
json_t *jc_req_wait(int64_t id, int64_t group, double timeout);
json_t *jc_req_cancel(int64_t id, int64_t group, const char *reason);

/* list's filters: zero (NULL) fields are not sent. */
struct jc_list_opts {
	const char *state;
	const char *const *states; /* NULL-terminated */
	const char *queue;
	const char *schedule;
	const char *unique_key;
	int limit;                 /* 1..10000; 0: jobd's (100) */
};
json_t *jc_req_list(const struct jc_list_opts *o);
json_t *jc_req_stats(void);
/* op "pause" or "resume". */
json_t *jc_req_pause(const char *queue, bool pause);
json_t *jc_req_retry(int64_t id);
/* states: NULL-terminated, or NULL for jobd's default. */
json_t *jc_req_prune(double before, const char *const *states);
json_t *jc_req_schedules(void);
/* Filters 0/NULL: not sent. */
json_t *jc_req_watch(const char *queue, int64_t id, int64_t group);

/* Send req (borrowed) as one line, without reading its answer (answers
 * that arrive meanwhile are kept for jc_answer_recv).  0 or a negative
 * errno, as jc_send; -ENOMEM. */
int jc_req_send(struct jc_conn *c, const json_t *req)
    __attribute__((warn_unused_result));

/* submit without waiting: jc_req_submit and jc_req_send. */
int jc_submit_send(struct jc_conn *c, const char *kind, const json_t *args,
    const struct jc_submit_opts *o) __attribute__((warn_unused_result));

/* Read the next answer: 0 with *ans (the whole answer object, owned), or
 * JC_EJOBD with *ans too (an error answer: its tag is there), or a
 * negative errno with *ans NULL.  Waits up to jc_set_timeout's time. */
int jc_answer_recv(struct jc_conn *c, json_t **ans)
    __attribute__((warn_unused_result));

/* Send req (borrowed) and read its answer: jc_answer_recv's returns.  When
 * the send fails because jobd closed the connection, the answer it may
 * have sent first (why it refused) is read all the same. */
int jc_request(struct jc_conn *c, const json_t *req, json_t **ans)
    __attribute__((warn_unused_result));

/* ---- blocking calls ------------------------------------------------------- */

/* version: jobd's version (malloc'ed, the caller frees), NULL if it sent
 * none; version itself may be NULL. */
int jc_ping(struct jc_conn *c, char **version)
    __attribute__((warn_unused_result));

/* *id: the job's id; *duplicate (may be NULL): a unique_key matched a job
 * that exists, and *id is that one. */
int jc_submit(struct jc_conn *c, const char *kind, const json_t *args,
    const struct jc_submit_opts *o, int64_t *id, bool *duplicate)
    __attribute__((warn_unused_result));

/* *group and *ids (an array of the jobs' ids, owned; ids may be NULL). */
int jc_submit_group(struct jc_conn *c, const json_t *jobs, const char *mode,
    bool nowait, int64_t *group, json_t **ids)
    __attribute__((warn_unused_result));

/* *job: the {JOB} object (with "history" when asked). */
int jc_get(struct jc_conn *c, int64_t id, bool history, json_t **job)
    __attribute__((warn_unused_result));

/* Wait up to timeout seconds (< 0: as long as it takes; 0: a poll) for
 * job id to end: *job.  Past the timeout: JC_EJOBD, code JC_E_TIMEOUT. */
int jc_wait(struct jc_conn *c, int64_t id, double timeout, json_t **job)
    __attribute__((warn_unused_result));

/* The same for every job of group: *jobs, an array in submission order. */
int jc_wait_group(struct jc_conn *c, int64_t group, double timeout,
    json_t **jobs) __attribute__((warn_unused_result));

/* Cancel job id (reason may be NULL); answers once it has stopped. */
int jc_cancel(struct jc_conn *c, int64_t id, const char *reason)
    __attribute__((warn_unused_result));

/* Cancel every job of group not yet ended: *ids (owned; may be NULL) the
 * ones cancelled. */
int jc_cancel_group(struct jc_conn *c, int64_t group, const char *reason,
    json_t **ids) __attribute__((warn_unused_result));

/* *jobs: an array of {JOB}, newest first.  o may be NULL. */
int jc_list(struct jc_conn *c, const struct jc_list_opts *o, json_t **jobs)
    __attribute__((warn_unused_result));

/* *stats: the whole answer (queues, counters). */
int jc_stats(struct jc_conn *c, json_t **stats)
    __attribute__((warn_unused_result));

int jc_pause(struct jc_conn *c, const char *queue)
    __attribute__((warn_unused_result));
int jc_resume(struct jc_conn *c, const char *queue)
    __attribute__((warn_unused_result));
int jc_retry(struct jc_conn *c, int64_t id)
    __attribute__((warn_unused_result));
/* *deleted (may be NULL): how many jobs went. */
int jc_prune(struct jc_conn *c, double before, const char *const *states,
    int64_t *deleted) __attribute__((warn_unused_result));
/* *schedules: an array of schedule objects. */
int jc_schedules(struct jc_conn *c, json_t **schedules)
    __attribute__((warn_unused_result));

/* ---- watch ---------------------------------------------------------------- */

/* Start watching (filters 0/NULL: all jobs).  After 0 the connection
 * carries events only: read them with jc_watch_next; close it to stop. */
int jc_watch(struct jc_conn *c, const char *queue, int64_t id, int64_t group)
    __attribute__((warn_unused_result));

enum jc_event_type {
	JC_EVENT_JOB,     /* a job changed state: job */
	JC_EVENT_DROPPED, /* dropped events were missed (a slow reader) */
	JC_EVENT_OTHER    /* an event this library does not know: raw */
};

struct jc_event {
	enum jc_event_type type;
	json_t *raw;     /* the whole event line's object, owned */
	json_t *job;     /* JC_EVENT_JOB: the {JOB}, borrowed from raw */
	int64_t dropped; /* JC_EVENT_DROPPED: how many */
};

/* The next event, waiting up to timeout seconds (JC_FOREVER: no limit):
 * 0 with *ev (release with jc_event_clear), or a negative errno
 * (-ETIMEDOUT: none came, try again; -EPROTO: a line that is not an
 * event; what jc_recv returns). */
int jc_watch_next(struct jc_conn *c, double timeout, struct jc_event *ev)
    __attribute__((warn_unused_result));

/* Release what ev holds and zero it. */
void jc_event_clear(struct jc_event *ev);

/* ---- JSON text ------------------------------------------------------------ */

/* v as compact JSON text: keys in their order, each real in the fewest
 * digits (15 to 17) that read back as the same double, and always with a
 * '.' or an exponent (0.3 stays 0.3, 2.0 stays a real).  A new string the
 * caller frees, or NULL when out of memory. */
char *jc_json_text(const json_t *v);

/* A number for the wire: an integer when t is whole (and fits), else a
 * real, so timeouts read "timeout":30.  New reference or NULL. */
json_t *jc_json_num(double t);

#ifdef __cplusplus
}
#endif

#endif /* JOBD_JC_H */
