/*
 * proto.c — jobd's wire protocol (see proto.h).
 *
 * A request line goes through three gates, cheapest first:
 *   1. prescan: one pass over the raw bytes for what jansson either accepts
 *      or reports poorly, and for nesting depth — jansson's parser
 *      recurses, so depth is bounded before it runs;
 *   2. jansson, strict: UTF-8, syntax, one value, no duplicate keys, no
 *      \u0000, integers that fit int64_t;
 *   3. the op table: "op" picks an entry whose parser checks that op's
 *      fields into the request's union.
 * A line rejected at gate 2 for duplicate keys or trailing data still holds
 * an object; it is parsed again leniently, only to recover its tag.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "utf8.h"

/* ---- error codes ---------------------------------------------------------- */

static const struct {
	const char *name;
	const char *message;
} codes[PROTO_NCODES] = {
	[PROTO_BAD_REQUEST] = { "bad_request", "malformed request" },
	[PROTO_LINE_TOO_LONG] = { "line_too_long",
	    "request line longer than max_line" },
	[PROTO_UNKNOWN_OP] = { "unknown_op", "no such op" },
	[PROTO_UNKNOWN_KIND] = { "unknown_kind", "no such job kind" },
	[PROTO_UNKNOWN_QUEUE] = { "unknown_queue", "no such queue" },
	[PROTO_NOT_FOUND] = { "not_found", "no such job or group" },
	[PROTO_QUEUE_FULL] = { "queue_full", "the queue is at capacity" },
	[PROTO_NOT_CANCELLABLE] = { "not_cancellable", "the job has ended" },
	[PROTO_TIMEOUT] = { "timeout", "timed out" },
	[PROTO_SHUTTING_DOWN] = { "shutting_down", "jobd is shutting down" },
	[PROTO_FORBIDDEN] = { "forbidden", "not permitted" },
	[PROTO_STORAGE_ERROR] = { "storage_error", "the job store failed" },
	[PROTO_INTERNAL] = { "internal", "internal error" },
	[PROTO_NOT_RETRYABLE] = { "not_retryable",
	    "the job is not failed, timed_out, cancelled or scheduled" },
};

const char *
proto_code_name(enum proto_code code)
{
	if ((unsigned)code >= PROTO_NCODES)
		code = PROTO_INTERNAL;
	return codes[code].name;
}

const char *
proto_code_message(enum proto_code code)
{
	if ((unsigned)code >= PROTO_NCODES)
		code = PROTO_INTERNAL;
	return codes[code].message;
}

int
proto_code_lookup(const char *name)
{
	for (int i = 0; i < PROTO_NCODES; i++)
		if (strcmp(codes[i].name, name) == 0)
			return i;
	return -ENOENT;
}

/* ---- messages ------------------------------------------------------------- */

/* Replace every byte that does not start a well-formed UTF-8 sequence by
 * '?': a message quoting a client's string may have been cut mid-character
 * by snprintf. */
static void
utf8_fix(char *s)
{
	size_t n = strlen(s), i = 0;
	bool partial;
	int k;

	while (i < n) {
		if ((k = utf8_char((unsigned char *)s + i, n - i,
		    &partial)) <= 0)
			s[i] = '?', k = 1;
		i += (size_t)k;
	}
}

static void
err_vset(struct proto_err *err, enum proto_code code, const char *fmt,
    va_list ap)
{
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	utf8_fix(err->msg);
}

void
proto_err_set(struct proto_err *err, enum proto_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, code, fmt, ap);
	va_end(ap);
}

void
proto_err_prefix(struct proto_err *err, const char *fmt, ...)
{
	char old[PROTO_MSG_MAX];
	va_list ap;
	int n;

	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, "%s", old);
	utf8_fix(err->msg);
}

int
proto_bad(struct proto_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, PROTO_BAD_REQUEST, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- field helpers -------------------------------------------------------- */

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* Look obj[key] up.  Returns 1 with *v set, 0 if absent and optional (null
 * counts as absent), -EINVAL if absent and required. */
static int
field(const json_t *obj, const char *key, enum proto_need need,
    const char *what, json_t **v, struct proto_err *err)
{
	*v = json_object_get(obj, key);
	if (*v != NULL && (need == PROTO_REQUIRED || !json_is_null(*v)))
		return 1;
	if (need == PROTO_OPTIONAL)
		return 0;
	return proto_bad(err, "missing field \"%s\" (%s)", key, what);
}

static int
wrong_type(const char *key, const char *what, const json_t *v,
    struct proto_err *err)
{
	return proto_bad(err, "field \"%s\": expected %s, got %s", key, what,
	    type_name(v));
}

int
proto_field_int(const json_t *obj, const char *key, enum proto_need need,
    int64_t min, int64_t max, int64_t *out, struct proto_err *err)
{
	json_t *v;
	json_int_t i;
	int rc;

	if ((rc = field(obj, key, need, "an integer", &v, err)) <= 0)
		return rc;
	if (!json_is_integer(v))
		return proto_bad(err,
		    "field \"%s\": expected an integer from %lld "
		    "to %lld, got %s",
		    key, (long long)min, (long long)max, type_name(v));
	i = json_integer_value(v);
	if (i < min || i > max)
		return proto_bad(err,
		    "field \"%s\": %lld is out of range (%lld to %lld)", key,
		    (long long)i, (long long)min, (long long)max);
	*out = i;
	return 1;
}

int
proto_field_number(const json_t *obj, const char *key, enum proto_need need,
    double min, double max, double *out, struct proto_err *err)
{
	json_t *v;
	double d;
	int rc;

	if ((rc = field(obj, key, need, "a number", &v, err)) <= 0)
		return rc;
	if (!json_is_number(v))
		return proto_bad(err,
		    "field \"%s\": expected a number from %g to %g, got %s",
		    key, min, max, type_name(v));
	d = json_number_value(v);
	if (!isfinite(d) || d < min || d > max)
		return proto_bad(err, "field \"%s\": %g is out of range (%g to %g)",
		    key, d, min, max);
	*out = d;
	return 1;
}

int
proto_field_string(const json_t *obj, const char *key, enum proto_need need,
    size_t maxlen, const char **out, struct proto_err *err)
{
	json_t *v;
	const char *s;
	size_t len;
	int rc;

	if ((rc = field(obj, key, need, "a string", &v, err)) <= 0)
		return rc;
	if (!json_is_string(v))
		return wrong_type(key, "a string", v, err);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > maxlen)
		return proto_bad(err, "field \"%s\": longer than %zu bytes", key,
		    maxlen);
	/* jansson refuses \u0000 without JSON_ALLOW_NUL; values built by
	 * other code might still hold one. */
	if (memchr(s, '\0', len) != NULL)
		return proto_bad(err, "field \"%s\": contains a NUL character", key);
	*out = s;
	return 1;
}

int
proto_field_enum(const json_t *obj, const char *key, enum proto_need need,
    const char *const *names, size_t n, int *out, struct proto_err *err)
{
	char list[PROTO_MSG_MAX / 2] = "";
	const char *s;
	int rc;

	rc = proto_field_string(obj, key, need, PROTO_STR_MAX, &s, err);
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = (int)i;
			return 1;
		}
	}
	for (size_t i = 0, len = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i ? ", " : "", names[i]);
	return proto_bad(err, "field \"%s\": expected one of %s, got \"%.64s\"", key,
	    list, s);
}

int
proto_field_bool(const json_t *obj, const char *key, enum proto_need need,
    bool *out, struct proto_err *err)
{
	json_t *v;
	int rc;

	if ((rc = field(obj, key, need, "true or false", &v, err)) <= 0)
		return rc;
	if (!json_is_boolean(v))
		return wrong_type(key, "true or false", v, err);
	*out = json_is_true(v);
	return 1;
}

int
proto_field_object(const json_t *obj, const char *key, enum proto_need need,
    json_t **out, struct proto_err *err)
{
	json_t *v;
	int rc;

	if ((rc = field(obj, key, need, "an object", &v, err)) <= 0)
		return rc;
	if (!json_is_object(v))
		return wrong_type(key, "an object", v, err);
	*out = v;
	return 1;
}

int
proto_field_array(const json_t *obj, const char *key, enum proto_need need,
    size_t min, size_t max, json_t **out, struct proto_err *err)
{
	json_t *v;
	size_t n;
	int rc;

	if ((rc = field(obj, key, need, "an array", &v, err)) <= 0)
		return rc;
	if (!json_is_array(v))
		return wrong_type(key, "an array", v, err);
	n = json_array_size(v);
	if (n < min || n > max)
		return proto_bad(err,
		    "field \"%s\": expected %zu to %zu elements, got %zu", key,
		    min, max, n);
	*out = v;
	return 1;
}

/* ---- the ops' fields ------------------------------------------------------ */

const char *const proto_state_names[PROTO_NSTATES] = {
	"queued",
	"running",
	"succeeded",
	"failed",
	"timed_out",
	"cancelled",
	"scheduled",
	"waiting",
};

static const char *const group_modes[] = { "all", "fail_fast" };

int
proto_submit_parse(const json_t *o, struct proto_submit *s,
    struct proto_err *err)
{
	memset(s, 0, sizeof(*s));
	s->queue = "default";
	s->timeout = PROTO_UNSET;
	if (proto_field_string(o, "kind", PROTO_REQUIRED, PROTO_STR_MAX,
	        &s->kind, err) < 0 ||
	    proto_field_object(o, "args", PROTO_REQUIRED, &s->args, err) < 0 ||
	    proto_field_string(o, "queue", PROTO_OPTIONAL, PROTO_STR_MAX,
	        &s->queue, err) < 0 ||
	    proto_field_string(o, "name", PROTO_OPTIONAL, PROTO_STR_MAX,
	        &s->name, err) < 0 ||
	    proto_field_number(o, "timeout", PROTO_OPTIONAL, 0,
	        PROTO_TIMEOUT_MAX, &s->timeout, err) < 0 ||
	    proto_field_int(o, "max_attempts", PROTO_OPTIONAL, 1,
	        PROTO_ATTEMPTS_MAX, &s->max_attempts, err) < 0 ||
	    proto_field_bool(o, "nowait", PROTO_OPTIONAL, &s->nowait, err) < 0)
		return -EINVAL;
	/* -0.0 passes the >= 0 check; make it a plain 0 ("none"). */
	if (s->timeout == 0)
		s->timeout = 0;
	if (proto_submit_life_parse(o, s, err) < 0)
		return -EINVAL;
	return proto_submit_deps_parse(o, s, err);
}

static int
parse_nothing(struct proto_req *req, struct proto_err *err)
{
	return 0;
}

static int
parse_submit(struct proto_req *req, struct proto_err *err)
{
	struct proto_submit *s = &req->u.submit;

	if (proto_submit_parse(req->root, s, err) < 0)
		return -EINVAL;
	for (size_t k = 0; k < s->nafter; k++)
		if (s->after[k] < 0)
			return proto_bad(err, "field \"after\": "
			    "{\"member\":i} is for submit_group only");
	return 0;
}

static int
parse_group_jobs(struct proto_submit_group *g, const json_t *jobs,
    struct proto_err *err)
{
	json_t *v;

	g->njobs = json_array_size(jobs);
	if ((g->jobs = calloc(g->njobs, sizeof(*g->jobs))) == NULL) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->njobs; i++) {
		v = json_array_get(jobs, i);
		if (!json_is_object(v))
			return proto_bad(err, "jobs[%zu]: expected an object, got %s",
			    i, type_name(v));
		if (proto_submit_parse(v, &g->jobs[i], err) < 0) {
			proto_err_prefix(err, "jobs[%zu]: ", i);
			return -EINVAL;
		}
	}
	return 0;
}

static size_t
str_room(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static const char *
str_keep(char **p, const char *s)
{
	size_t n = str_room(s);
	char *d = *p;

	if (s == NULL)
		return NULL;
	memcpy(d, s, n);
	*p += n;
	return d;
}

/* Let the members stand alone (proto_submit_group.text) and drop their
 * objects from the tree: what is left of a 10,000-job line's tree is
 * the args, about half.  Without memory for the copy they stay as they
 * are (it only saves memory). */
static void
group_detach(struct proto_submit_group *g, json_t *jobs)
{
	struct proto_submit *s;
	size_t need = 0;
	char *p;

	for (size_t i = 0; i < g->njobs; i++) {
		s = &g->jobs[i];
		need += str_room(s->kind) + str_room(s->queue) +
		    str_room(s->name) + str_room(s->unique_key);
	}
	if ((g->text = p = malloc(need)) == NULL)
		return;
	for (size_t i = 0; i < g->njobs; i++) {
		s = &g->jobs[i];
		s->kind = str_keep(&p, s->kind);
		s->queue = str_keep(&p, s->queue);
		s->name = str_keep(&p, s->name);
		s->unique_key = str_keep(&p, s->unique_key);
		json_incref(s->args);
	}
	json_array_clear(jobs);
}

static int
parse_submit_group(struct proto_req *req, struct proto_err *err)
{
	struct proto_submit_group *g = &req->u.group;
	json_t *jobs;
	int mode = PROTO_GROUP_ALL, rc;

	if (proto_field_enum(req->root, "mode", PROTO_OPTIONAL, group_modes, 2,
	        &mode, err) < 0 ||
	    proto_field_bool(req->root, "nowait", PROTO_OPTIONAL, &g->nowait,
	        err) < 0 ||
	    proto_field_array(req->root, "jobs", PROTO_REQUIRED, 1,
	        PROTO_GROUP_MAX, &jobs, err) < 0)
		return -EINVAL;
	g->mode = mode;
	if (parse_group_jobs(g, jobs, err) < 0)
		return -EINVAL;
	if ((rc = proto_group_deps_check(g, err)) < 0)
		return rc;
	group_detach(g, jobs);
	return 0;
}

static int
parse_get(struct proto_req *req, struct proto_err *err)
{
	if (proto_field_int(req->root, "id", PROTO_REQUIRED, 1, INT64_MAX,
	        &req->u.get.id, err) < 0)
		return -EINVAL;
	return proto_parse_history(req->root, &req->u.get.history, err);
}

/* wait and cancel: exactly one of "id" and "group". */
static int
parse_target(const json_t *obj, int64_t *id, int64_t *group,
    struct proto_err *err)
{
	int has_id, has_group;

	if ((has_id = proto_field_int(obj, "id", PROTO_OPTIONAL, 1, INT64_MAX,
	         id, err)) < 0 ||
	    (has_group = proto_field_int(obj, "group", PROTO_OPTIONAL, 1,
	         INT64_MAX, group, err)) < 0)
		return -EINVAL;
	if (has_id == has_group)
		return proto_bad(err,
		    "give exactly one of the fields \"id\" and \"group\"");
	return 0;
}

static int
parse_wait(struct proto_req *req, struct proto_err *err)
{
	struct proto_wait *w = &req->u.wait;

	w->timeout = PROTO_UNSET;
	if (parse_target(req->root, &w->id, &w->group, err) < 0 ||
	    proto_field_number(req->root, "timeout", PROTO_OPTIONAL, 0,
	        PROTO_TIMEOUT_MAX, &w->timeout, err) < 0)
		return -EINVAL;
	if (w->timeout == 0)
		w->timeout = 0; /* -0.0 */
	return 0;
}

static int
parse_cancel(struct proto_req *req, struct proto_err *err)
{
	struct proto_cancel *c = &req->u.cancel;

	if (parse_target(req->root, &c->id, &c->group, err) < 0 ||
	    proto_field_string(req->root, "reason", PROTO_OPTIONAL,
	        PROTO_REASON_MAX, &c->reason, err) < 0)
		return -EINVAL;
	return 0;
}

static int
parse_list(struct proto_req *req, struct proto_err *err)
{
	struct proto_list *l = &req->u.list;
	int state = -1;

	l->limit = PROTO_LIST_DEFAULT;
	if (proto_field_enum(req->root, "state", PROTO_OPTIONAL,
	        proto_state_names, PROTO_NSTATES, &state, err) < 0 ||
	    proto_field_string(req->root, "queue", PROTO_OPTIONAL,
	        PROTO_STR_MAX, &l->queue, err) < 0 ||
	    proto_field_int(req->root, "limit", PROTO_OPTIONAL, 1,
	        PROTO_LIST_MAX, &l->limit, err) < 0)
		return -EINVAL;
	if (state >= 0)
		l->state = proto_state_names[state];
	return 0;
}

static int
parse_watch(struct proto_req *req, struct proto_err *err)
{
	struct proto_watch *w = &req->u.watch;

	if (proto_field_string(req->root, "queue", PROTO_OPTIONAL,
	        PROTO_STR_MAX, &w->queue, err) < 0 ||
	    proto_field_int(req->root, "id", PROTO_OPTIONAL, 1, INT64_MAX,
	        &w->id, err) < 0 ||
	    proto_field_int(req->root, "group", PROTO_OPTIONAL, 1, INT64_MAX,
	        &w->group, err) < 0)
		return -EINVAL;
	return 0;
}

/* The op table: wire name and the parser of the op's fields. */
static const struct {
	const char *name;
	int (*parse)(struct proto_req *, struct proto_err *);
} ops[PROTO_NOPS] = {
	[PROTO_OP_PING] = { "ping", parse_nothing },
	[PROTO_OP_SUBMIT] = { "submit", parse_submit },
	[PROTO_OP_SUBMIT_GROUP] = { "submit_group", parse_submit_group },
	[PROTO_OP_GET] = { "get", parse_get },
	[PROTO_OP_WAIT] = { "wait", parse_wait },
	[PROTO_OP_CANCEL] = { "cancel", parse_cancel },
	[PROTO_OP_LIST] = { "list", parse_list },
	[PROTO_OP_STATS] = { "stats", parse_nothing },
	[PROTO_OP_PAUSE] = { "pause", proto_parse_pause },
	[PROTO_OP_RESUME] = { "resume", proto_parse_pause },
	[PROTO_OP_RETRY] = { "retry", proto_parse_retry },
	[PROTO_OP_PRUNE] = { "prune", proto_parse_prune },
	[PROTO_OP_WATCH] = { "watch", parse_watch },
	[PROTO_OP_SCHEDULES] = { "schedules", parse_nothing },
};

const char *
proto_op_name(enum proto_op op)
{
	if ((unsigned)op >= PROTO_NOPS)
		return NULL;
	return ops[op].name;
}

/* ---- parsing a line ------------------------------------------------------- */

static int
control_char(unsigned c, size_t i, bool in_string, struct proto_err *err)
{
	if (c == 0)
		return proto_bad(err, "NUL byte at byte %zu", i + 1);
	return proto_bad(err, "raw control character 0x%02x at byte %zu%s", c, i + 1,
	    in_string ? " (inside a string it must be escaped)" : "");
}

/*
 * Gate 1: a BOM, NUL and raw control bytes get a clear message here, and
 * nesting is bounded before jansson recurses.  Brackets count only outside
 * strings; a string is tracked with its escapes.  Anything else malformed
 * is left to jansson.  The count can be fooled only after the line has
 * stopped being valid JSON (a stray ']'), and jansson stops there too, so
 * it never nests deeper than the count allowed.
 */
static int
prescan(const char *line, size_t len, struct proto_err *err)
{
	const unsigned char *s = (const unsigned char *)line;
	bool in_string = false, escaped = false, blank = true;
	int depth = 0;

	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		return proto_bad(err,
		    "byte order mark (U+FEFF) at the start of the line");
	for (size_t i = 0; i < len; i++) {
		unsigned c = s[i];

		if (c < 0x20 &&
		    (in_string ||
		        (c != ' ' && c != '\t' && c != '\r' && c != '\n')))
			return control_char(c, i, in_string, err);
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		blank = false;
		if (c == '"')
			in_string = true;
		else if ((c == '[' || c == '{') && ++depth > PROTO_DEPTH_MAX)
			return proto_bad(err,
			    "nested deeper than %d levels at byte %zu",
			    PROTO_DEPTH_MAX, i + 1);
		else if (c == ']' || c == '}')
			depth--;
	}
	if (blank)
		return proto_bad(err, "empty line: expected a JSON object");
	return 0;
}

static void
req_set_root(struct proto_req *req, json_t *root)
{
	req->root = root;
	req->tag = json_object_get(root, "tag");
}

/* Gate 2 failed: report jansson's reason; if the line still holds an object
 * (it failed only for a duplicate key or trailing data), keep that object
 * for its tag. */
static int
load_error(const char *line, size_t len, const json_error_t *je,
    struct proto_req *req, struct proto_err *err)
{
	enum json_error_code code = json_error_code(je);
	json_t *root;

	/* No code at all means jansson failed before parsing: its lexer could
	 * not allocate.  (An allocation failure mid-parse comes back as a
	 * syntax error; jansson leaves no way to tell.) */
	if (code == json_error_out_of_memory || code == json_error_unknown) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	if (code == json_error_end_of_input_expected)
		proto_bad(err,
		    "trailing data after the JSON value at byte %d (one "
		    "object per line)",
		    je->position);
	else
		proto_bad(err, "invalid JSON at byte %d: %s", je->position, je->text);
	if (code != json_error_duplicate_key &&
	    code != json_error_end_of_input_expected)
		return -EINVAL;
	root = json_loadb(line, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK,
	    NULL);
	if (json_is_object(root))
		req_set_root(req, root);
	else
		json_decref(root);
	return -EINVAL;
}

/* Gate 2: jansson, strict. */
static int
load(const char *line, size_t len, struct proto_req *req, struct proto_err *err)
{
	json_error_t je;
	json_t *root;

	/* jansson sets the code only when it reports an error; its lexer
	 * failing to start up reports none. */
	je.text[JSON_ERROR_TEXT_LENGTH - 1] = json_error_unknown;
	root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    &je);
	if (root == NULL)
		return load_error(line, len, &je, req, err);
	if (!json_is_object(root)) {
		proto_bad(err, "a request must be a JSON object, not %s",
		    type_name(root));
		json_decref(root);
		return -EINVAL;
	}
	req_set_root(req, root);
	return 0;
}

/* Gate 3, first half: the op, looked up in the op table. */
static int
find_op(struct proto_req *req, struct proto_err *err)
{
	const char *name;

	if (proto_field_string(req->root, "op", PROTO_REQUIRED, PROTO_STR_MAX,
	        &name, err) < 0)
		return -EINVAL;
	for (int i = 0; i < PROTO_NOPS; i++) {
		if (strcmp(ops[i].name, name) == 0) {
			req->op = i;
			return 0;
		}
	}
	proto_err_set(err, PROTO_UNKNOWN_OP, "unknown op \"%.64s\"", name);
	return -EINVAL;
}

int
proto_parse(const char *line, size_t len, struct proto_req *req,
    struct proto_err *err)
{
	if (proto_fast_submit(line, len, req))
		return 0;
	return proto_parse_full(line, len, req, err);
}

int
proto_parse_full(const char *line, size_t len, struct proto_req *req,
    struct proto_err *err)
{
	int rc;

	memset(req, 0, offsetof(struct proto_req, lean.small));
	if ((rc = prescan(line, len, err)) < 0 ||
	    (rc = load(line, len, req, err)) < 0 ||
	    (rc = find_op(req, err)) < 0)
		return rc;
	return ops[req->op].parse(req, err);
}

void
proto_req_clear(struct proto_req *req)
{
	if (req->root != NULL && req->op == PROTO_OP_SUBMIT_GROUP) {
		for (size_t i = 0; req->u.group.jobs != NULL &&
		    i < req->u.group.njobs; i++) {
			if (req->u.group.text != NULL)
				json_decref(req->u.group.jobs[i].args);
			proto_submit_clear(&req->u.group.jobs[i]);
		}
		free(req->u.group.jobs);
		free(req->u.group.text);
	} else if (req->root != NULL && req->op == PROTO_OP_SUBMIT)
		proto_submit_clear(&req->u.submit);
	json_decref(req->root);
	json_decref(req->lean.args);
	json_decref(req->lean.tag);
	json_decref(req->lean.rest);
	free(req->lean.text);
	memset(req, 0, offsetof(struct proto_req, lean.small));
}

/* ---- responses ------------------------------------------------------------ */

/* {"ok":ok} plus req's tag. */
static json_t *
response(const struct proto_req *req, bool ok)
{
	json_t *r = json_object();

	if (r == NULL)
		return NULL;
	if (json_object_set_new(r, "ok", json_boolean(ok)) < 0 ||
	    (req != NULL && req->tag != NULL &&
	        json_object_set(r, "tag", req->tag) < 0)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *
proto_ok(const struct proto_req *req)
{
	return response(req, true);
}

/* A JSON string of msg, which should be UTF-8; a copy with invalid bytes
 * replaced if it is not, so that a careless message still goes out. */
static json_t *
message_string(const char *msg)
{
	json_t *s = json_string(msg);
	char *copy;

	if (s != NULL || (copy = strdup(msg)) == NULL)
		return s;
	utf8_fix(copy);
	s = json_string(copy);
	free(copy);
	return s;
}

json_t *
proto_error(const struct proto_req *req, enum proto_code code, const char *msg)
{
	json_t *r = response(req, false), *e = json_object();

	if (r == NULL || e == NULL ||
	    json_object_set_new(e, "code",
	        json_string(proto_code_name(code))) ||
	    json_object_set_new(e, "message",
	        message_string(msg ? msg : proto_code_message(code))) ||
	    json_object_set(r, "error", e)) {
		json_decref(r);
		r = NULL;
	}
	json_decref(e);
	return r;
}

json_t *
proto_time(double t)
{
	if (!isfinite(t) || t <= 0)
		return json_null();
	return json_real(t);
}
