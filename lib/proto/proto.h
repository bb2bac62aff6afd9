/*
 * proto.h — jobd's wire protocol: one JSON object per line, each way.
 *
 * This module turns one request line into a checked C struct, and builds
 * and serialises the response objects.  It owns the protocol's vocabulary:
 * the error codes (one table), the op names (one table) and the fields of
 * every op with their types and bounds.  It does no I/O: the server reads
 * lines (splitting on '\n' and enforcing max_line itself), hands each to
 * proto_parse, runs the op, and writes what proto_dump produced.
 *
 * Parsing is strict about the shape of a line (valid UTF-8 JSON, one
 * object, no duplicate keys, no NUL, no raw control bytes, bounded nesting)
 * and lenient about content it does not know: unknown fields are ignored,
 * so that clients newer than the daemon keep working.  An optional field
 * given as null counts as absent.
 *
 * Every function that can fail for a reason the client should hear about
 * fills a struct proto_err: the wire code and a message naming the field
 * and what was expected.  Messages are always valid UTF-8.
 */
#ifndef JOBD_PROTO_H
#define JOBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- limits (each is something a client controls) ----------------------- */

/* Nesting of arrays and objects in a request, the request object included.
 * Checked by a scan of the raw line before jansson (which recurses) sees
 * it. */
#define PROTO_DEPTH_MAX 32
/* Bytes in a short string field: op, kind, queue, name, state, mode. */
#define PROTO_STR_MAX 256
/* Bytes in a cancel reason. */
#define PROTO_REASON_MAX 1024
/* Jobs in one submit_group. */
#define PROTO_GROUP_MAX 10000
/* list's limit: the most jobs one list answer carries, and its default. */
#define PROTO_LIST_MAX     10000
#define PROTO_LIST_DEFAULT 100
/* Every timeout field, in seconds: 0 to about 31 years.  Larger values
 * would overflow timer arithmetic further down. */
#define PROTO_TIMEOUT_MAX 1e9
/* submit's max_attempts. */
#define PROTO_ATTEMPTS_MAX 1000
/* Bytes in an error message, NUL included. */
#define PROTO_MSG_MAX 384

/* ---- error codes ---------------------------------------------------------- */

/* The wire error codes.  proto_code_name gives the name sent on the wire;
 * the names are part of the user-facing contract and never change. */
enum proto_code {
	PROTO_BAD_REQUEST,   /* not JSON, not an object, bad field */
	PROTO_LINE_TOO_LONG, /* line over max_line; connection closed */
	PROTO_UNKNOWN_OP,
	PROTO_UNKNOWN_KIND,
	PROTO_UNKNOWN_QUEUE,
	PROTO_NOT_FOUND,
	PROTO_QUEUE_FULL,
	PROTO_NOT_CANCELLABLE,
	PROTO_TIMEOUT,
	PROTO_SHUTTING_DOWN,
	PROTO_FORBIDDEN,
	PROTO_STORAGE_ERROR,
	PROTO_INTERNAL,
	PROTO_NOT_RETRYABLE, /* retry of a job that is queued, running... */
	PROTO_NCODES
};

/* The wire name of code ("bad_request", ...); "internal" for a value
 * outside the enum.  A static string. */
const char *proto_code_name(enum proto_code code);

/* The default message of code, used when a caller has nothing better.  A
 * static string. */
const char *proto_code_message(enum proto_code code);

/* The code whose wire name is name (for clients mapping answers back), or
 * -ENOENT. */
int proto_code_lookup(const char *name);

/* An error to report to the client: what proto_parse and the field helpers
 * fill on failure. */
struct proto_err {
	enum proto_code code;
	char msg[PROTO_MSG_MAX];
};

/* Set err to code and a printf-formatted message.  The message is cut to
 * fit and any invalid UTF-8 in it (from a client's string, say) is replaced
 * by '?', so it can always go into a JSON string. */
void proto_err_set(struct proto_err *err, enum proto_code code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* proto_err_set(err, PROTO_BAD_REQUEST, ...), returning -EINVAL: for
 * `return proto_bad(err, ...)` in a validator. */
int proto_bad(struct proto_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepend printf-formatted context to err's message, e.g. "jobs[3]: ". */
void proto_err_prefix(struct proto_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- field helpers -------------------------------------------------------- */

/*
 * Each helper reads obj[key], checks its type and bounds, and returns
 *   1        present and valid: *out is set;
 *   0        optional and absent (or null): *out is left alone, so the
 *            caller puts the default there first;
 *   -EINVAL  missing when required, wrong type or out of bounds: err is
 *            set to bad_request with a message naming the field and what
 *            was expected.
 * Strings and JSON values handed out are borrowed from obj.
 */
enum proto_need { PROTO_OPTIONAL, PROTO_REQUIRED };

/* An integer (a JSON number without fraction or exponent) in [min, max]. */
int proto_field_int(const json_t *obj, const char *key, enum proto_need need,
    int64_t min, int64_t max, int64_t *out, struct proto_err *err);

/* A finite number (integer or real) in [min, max]. */
int proto_field_number(const json_t *obj, const char *key, enum proto_need need,
    double min, double max, double *out, struct proto_err *err);

/* A string of at most maxlen bytes without NUL. */
int proto_field_string(const json_t *obj, const char *key, enum proto_need need,
    size_t maxlen, const char **out, struct proto_err *err);

/* One of the n strings names[]; *out is its index. */
int proto_field_enum(const json_t *obj, const char *key, enum proto_need need,
    const char *const *names, size_t n, int *out, struct proto_err *err);

int proto_field_bool(const json_t *obj, const char *key, enum proto_need need,
    bool *out, struct proto_err *err);

int proto_field_object(const json_t *obj, const char *key, enum proto_need need,
    json_t **out, struct proto_err *err);

/* An array of min to max elements. */
int proto_field_array(const json_t *obj, const char *key, enum proto_need need,
    size_t min, size_t max, json_t **out, struct proto_err *err);

/* ---- requests ------------------------------------------------------------- */

/* The ops, in the order of the op table.  The daemon dispatches through a
 * table of its own indexed by these. */
enum proto_op {
	PROTO_OP_PING,
	PROTO_OP_SUBMIT,
	PROTO_OP_SUBMIT_GROUP,
	PROTO_OP_GET,
	PROTO_OP_WAIT,
	PROTO_OP_CANCEL,
	PROTO_OP_LIST,
	PROTO_OP_STATS,
	PROTO_OP_PAUSE,
	PROTO_OP_RESUME,
	PROTO_OP_RETRY,
	PROTO_OP_PRUNE,
	PROTO_OP_WATCH,
	PROTO_OP_SCHEDULES,
	PROTO_NOPS
};

/* The wire name of op ("submit", ...), or NULL outside the enum. */
const char *proto_op_name(enum proto_op op);

/* The job states, in the contract's order (queued, running, succeeded,
 * failed, timed_out, cancelled, then the lifecycle's scheduled, waiting). */
#define PROTO_NSTATES 8
extern const char *const proto_state_names[PROTO_NSTATES];

/* "Not given" for double fields (timeouts). */
#define PROTO_UNSET (-1.0)

/* The fields of one job to submit: a submit request, or one member of a
 * submit_group.  Whether kind and queue exist is the daemon's to check. */
struct proto_submit {
	const char *kind;     /* required */
	json_t *args;         /* required, an object; borrowed */
	const char *args_text; /* args as proto_dumps(JSON_COMPACT) writes
				* them, when the lean parser made it; NULL:
				* not made (dump args) */
	const char *queue;    /* "default" when absent */
	const char *name;     /* NULL when absent or null */
	double timeout;       /* seconds, 0 = none; PROTO_UNSET: the queue's */
	int64_t max_attempts; /* 1..PROTO_ATTEMPTS_MAX; 0: the queue's */
	bool nowait;          /* default false */
	/* The lifecycle (proto_life.c); "the queue's" where not given. */
	double run_at;        /* epoch s; 0: at once (delay folded in) */
	bool has_run_at;      /* run_at or delay was given */
	int priority;         /* 0..9; -1: the queue's */
	int retries;          /* 0..PROTO_RETRIES_MAX; -1: the queue's */
	double retry_delay;   /* > 0; PROTO_UNSET: the queue's */
	double retry_max_delay; /* > 0; PROTO_UNSET: the queue's */
	int retry_backoff;    /* 0 exponential, 1 fixed; -1: the queue's */
	int idempotent;       /* 0, 1; -1: the kind's rule */
	/* Unique jobs (proto_deps.c). */
	const char *unique_key; /* 1..PROTO_UNIQUE_KEY_MAX bytes; NULL: none */
	double unique_for;    /* >= 0 s; 0: only jobs not ended */
	/* Dependencies (proto_deps.c): the after list, malloc'd, owned by
	 * the proto_req.  An entry > 0 is a job id; < 0 is {"member":i} of
	 * submit_group, encoded as -(i + 1). */
	int64_t *after;       /* NULL: none */
	size_t nafter;        /* 0..PROTO_AFTER_MAX */
	bool dep_run;         /* on_dependency_failure = "run" */
	/* Not wire fields (never parsed): jobd's schedules set them on the
	 * submits they make. */
	const char *schedule; /* NULL: none */
	double slot;
};

/* Entries of an after list. */
#define PROTO_AFTER_MAX 10000

/* Bytes of a unique_key. */
#define PROTO_UNIQUE_KEY_MAX 255

/* Bounds of the lifecycle's submit fields. */
#define PROTO_RETRIES_MAX 100
#define PROTO_RUN_AT_MAX  1e11  /* epoch s: past the year 5000 */
#define PROTO_DELAY_MAX   3.1536e9      /* 100 years (duration.h) */

enum proto_group_mode { PROTO_GROUP_ALL, PROTO_GROUP_FAIL_FAST };

struct proto_submit_group {
	enum proto_group_mode mode; /* default all */
	bool nowait;               /* the whole group fits now, or queue_full */
	size_t njobs;              /* 1..PROTO_GROUP_MAX */
	struct proto_submit *jobs; /* owned by the proto_req */
	/* Once parsed, the members' strings are copied here and their args
	 * held, and the members' objects are dropped from the tree (the
	 * line's tree is most of a big group's memory); NULL: the strings
	 * still point into the tree, args borrowed from it.  Owned. */
	char *text;
};

/* get. */
struct proto_get {
	int64_t id;
	bool history;   /* add the job's attempts */
};

/* wait and cancel name exactly one of id and group; the other is 0. */
struct proto_wait {
	int64_t id, group;
	double timeout; /* PROTO_UNSET: wait as long as it takes */
};

struct proto_cancel {
	int64_t id, group;
	const char *reason; /* NULL when absent or null */
};

/* pause and resume. */
struct proto_pause {
	const char *queue;
};

/* retry. */
struct proto_retry {
	int64_t id;
};

/* prune: ended jobs finished before `before`, of the states in the mask
 * (bit 1 << index in proto_state_names; 0: every ended state). */
struct proto_prune {
	double before;
	unsigned states;
};

struct proto_list {
	const char *state; /* NULL: any; else one of proto_state_names */
	const char *queue; /* NULL: any */
	int64_t limit;     /* 1..PROTO_LIST_MAX, default PROTO_LIST_DEFAULT */
};

/* watch: every filter optional (NULL / 0: any). */
struct proto_watch {
	const char *queue;
	int64_t id, group;
};

/* One parsed request.  Strings and JSON values in it are borrowed from
 * root and live as long as it does. */
struct proto_req {
	json_t *root;     /* the request object, owned; NULL if none */
	json_t *tag;      /* borrowed from root; NULL when not given */
	enum proto_op op; /* valid when proto_parse returned 0 */
	union {
		struct proto_submit submit;
		struct proto_submit_group group;
		struct proto_get get;
		struct proto_wait wait;
		struct proto_cancel cancel;
		struct proto_list list;
		struct proto_pause pause;
		struct proto_retry retry;
		struct proto_prune prune;
		struct proto_watch watch;
	} u; /* the member named by op; none for ping, stats */
	/* What the lean parser (proto_fast.c) made instead of root, owned:
	 * a submit's args and tag, its lifecycle's fields gathered, and the
	 * text its strings point into. */
	struct {
		json_t *args, *tag, *rest;
		char *text;             /* malloc'd when small is too small */
		char small[256];
	} lean;
};

/* Parse and check one request line of len bytes (without its '\n'; the
 * line need not be NUL-terminated).  Returns 0 with *req filled, or a
 * negative errno with err set: -EINVAL for a bad request (err->code is
 * bad_request or unknown_op), -ENOMEM (internal).  Either way the caller
 * calls proto_req_clear(req) afterwards: on failure req->tag is still set
 * whenever the line held an object with a "tag", so the error answer can
 * echo it. */
int proto_parse(const char *line, size_t len, struct proto_req *req,
    struct proto_err *err) __attribute__((warn_unused_result));

/* The two halves of proto_parse, for the tests and fuzz_submit that hold
 * them against each other.  proto_fast_submit reads the common submit
 * line straight into *req (root stays NULL; strings point into
 * req->lean) and returns true, or returns false with *req zeroed for any
 * line it is not sure of: a field it does not know, anything unusual,
 * anything wrong.  It takes only lines proto_parse_full accepts, with the
 * same result.  proto_parse_full is the reference: jansson and the field
 * helpers, for every line. */
bool proto_fast_submit(const char *line, size_t len, struct proto_req *req);
int proto_parse_full(const char *line, size_t len, struct proto_req *req,
    struct proto_err *err) __attribute__((warn_unused_result));

/* The lifecycle's fields of a submit (run_at, delay, priority, retries,
 * retry_*, idempotent) into *s: 0 or -EINVAL with err naming the field
 * and its range.  Called by proto_submit_parse. */
/* The submit fields of dependencies and unique jobs (unique_key,
 * unique_for) of obj into *s: 0 or -EINVAL (err set). */
int proto_submit_deps_parse(const json_t *obj, struct proto_submit *s,
    struct proto_err *err);

/* submit_group: the member references of every job's after list are in
 * range, none names its own job, and they make no cycle.  0 or -EINVAL. */
int proto_group_deps_check(const struct proto_submit_group *g,
    struct proto_err *err);
/* Free what proto_submit_parse allocated in *s. */
void proto_submit_clear(struct proto_submit *s);

int proto_submit_life_parse(const json_t *obj, struct proto_submit *s,
    struct proto_err *err);

/* The lifecycle ops' fields (the op table's parsers). */
int proto_parse_pause(struct proto_req *req, struct proto_err *err);
int proto_parse_retry(struct proto_req *req, struct proto_err *err);
int proto_parse_prune(struct proto_req *req, struct proto_err *err);
/* get: an optional "history" (bool). */
int proto_parse_history(const json_t *obj, bool *history,
    struct proto_err *err);

/* Check the submit fields of obj (a JSON object) into *s, defaults filled
 * in.  Returns 0 or -EINVAL (err set).  Strings and args borrowed from
 * obj. */
int proto_submit_parse(const json_t *obj, struct proto_submit *s,
    struct proto_err *err);

/* Release what req owns and zero it.  Safe on a zeroed or cleared req. */
void proto_req_clear(struct proto_req *req);

/* ---- responses ------------------------------------------------------------ */

/* A new response {"ok":true} carrying req's tag when it had one; the caller
 * adds its fields (json_object_set_new) and owns the reference.  req may be
 * NULL.  NULL on -ENOMEM. */
json_t *proto_ok(const struct proto_req *req);

/* A new response {"ok":false,"error":{"code":...,"message":msg}} with req's
 * tag when it had one.  msg NULL: the code's default message; invalid
 * UTF-8 in msg goes out as '?' (a proto_err's message is always valid).
 * req may be NULL.  NULL on -ENOMEM. */
json_t *proto_error(const struct proto_req *req, enum proto_code code,
    const char *msg);

/* Serialise resp compactly as one line (reals as proto_dumps writes them):
 * *out (malloc'd, the caller frees it) holds *len bytes ending in '\n',
 * then a NUL.  The line never holds
 * another '\n': JSON strings escape it.  Returns 0, -ENOMEM, or -EINVAL if
 * resp cannot be serialised (a NULL or a non-object). */
int proto_dump(const json_t *resp, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* v as JSON text (jansson's flags: JSON_COMPACT, ...), every real in its
 * shortest form that reads back to the same double (0.1, not
 * 0.10000000000000001; 0.30000000000000004 kept whole).  malloc'd, the
 * caller frees it; NULL on -ENOMEM or a value jansson cannot write. */
char *proto_dumps(const json_t *v, size_t flags);

/* proto_dumps by jansson's printer alone (the reference that jobd's own
 * compact writer must match byte for byte: fuzz_answer): 0 and *out
 * malloc'd, or -1. */
int proto_dumps_jansson(const json_t *v, size_t flags, char **out);

/* The shortest text of d that strtod reads back as d, spelt as jansson
 * spells reals ("1.0", "1e-07", "1e22").  Its length, or -ENOSPC. */
int proto_real_text(double d, char *buf, size_t len);

/* d as proto_dumps spells it (as short as proto_real_text, the last digit
 * may differ): one %.17g, then its digits rounded as text and read back,
 * a third of proto_real_text's time, for hot paths that spell reals one
 * by one.  Its length, or -ENOSPC. */
int proto_real_spell(double d, char *buf, size_t len);

/* An answer line written without jansson, for the hot answers: head,
 * then ',"tag":' and tag when tag is not NULL, then tail and '\n', into
 * buf (cap bytes; not NUL-terminated).  head and tail are JSON text the
 * caller vouches for ("{\"ok\":true,\"id\":5", "}").  The bytes are
 * those proto_dump writes of the same object built in that order.  The
 * length, or 0 when it does not fit or tag is not a plain one (an integer,
 * or a string of printable ASCII without '"' and '\\'): the caller then
 * builds the object. */
size_t proto_line(char *buf, size_t cap, const char *head, const json_t *tag,
    const char *tail);

/* What the server writes when it cannot even build an error response. */
#define PROTO_OOM_LINE                                    \
	"{\"ok\":false,\"error\":{\"code\":\"internal\"," \
	"\"message\":\"out of memory\"}}\n"

/* A time as the protocol shows it: a JSON real of Unix epoch seconds (with
 * the sub-second part), or null for a time not yet reached — t <= 0 or not
 * finite.  A new reference; NULL on -ENOMEM. */
json_t *proto_time(double t);

#endif /* JOBD_PROTO_H */
