/*
 * conf_sched.c — [schedule.NAME] sections (conf_sched.h, conf.h).
 *
 * A schedule's own keys (cron, timezone, overlap, catch_up, paused) are
 * checked here; every other key is a submit field of the job each slot
 * makes (kind, args, queue, timeout, priority, ...).  Those are gathered
 * into one JSON object and checked by the protocol's own submit parser,
 * key by key as they are read (so the error names the key's line) and
 * whole at the end, so a schedule can never hold a job a client could
 * not submit, and a submit field the protocol gains is checked here
 * without a line in this file beyond its name and type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "conf_sched.h"
#include "conf_type.h"
#include "cron.h"
#include "duration.h"
#include "kind.h"
#include "proto.h"
#include "tz.h"

/* How a key's text becomes its value. */
enum ck_type {
	CK_CRON, CK_ZONE, CK_OVERLAP, CK_CATCH_UP, CK_PAUSED, /* own keys */
	CK_STR,         /* a submit field, the text as a string */
	CK_INT,         /* a submit field, a decimal integer */
	CK_DUR,         /* a submit field, seconds or a duration (5m) */
	CK_BOOL,        /* a submit field, yes/no/true/false/on/off */
	CK_JSON,        /* a submit field, a JSON value (args) */
};

static const struct ck {
	const char *name;
	enum ck_type type;
} ckeys[] = {
	{ "cron", CK_CRON },
	{ "timezone", CK_ZONE },
	{ "overlap", CK_OVERLAP },
	{ "catch_up", CK_CATCH_UP },
	{ "paused", CK_PAUSED },
	{ "kind", CK_STR },
	{ "args", CK_JSON },
	{ "queue", CK_STR },
	{ "name", CK_STR },
	{ "timeout", CK_DUR },
	{ "max_attempts", CK_INT },
	{ "priority", CK_INT },
	{ "retries", CK_INT },
	{ "retry_delay", CK_DUR },
	{ "retry_max_delay", CK_DUR },
	{ "retry_backoff", CK_STR },
	{ "idempotent", CK_BOOL },
	{ "unique_key", CK_STR },
	{ "unique_for", CK_DUR },
};
#define NCKEYS (sizeof(ckeys) / sizeof(ckeys[0]))

static const char *const overlap_names[] = { "skip", "allow" };
static const char *const catch_up_names[] = { "latest", "none", "all" };

struct sched {
	struct conf_schedule pub;       /* its strings owned here */
	json_t *submit;                 /* the submit fields */
	int lines[NCKEYS];              /* where each key was set; 0: not */
};

struct csched_set {
	struct sched *v;
	size_t n;
};

struct csched_set *
csched_new(void)
{
	return calloc(1, sizeof(struct csched_set));
}

static void
sched_clear(struct sched *s)
{
	free((char *)s->pub.name);
	free((char *)s->pub.cron);
	free((char *)s->pub.timezone);
	free((char *)s->pub.submit);
	json_decref(s->submit);
}

void
csched_free(struct csched_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		sched_clear(&set->v[i]);
	free(set->v);
	free(set);
}

int
csched_open(struct csched_set *set, const char *name, int line, char *msg,
    size_t len)
{
	size_t n = strlen(name);
	struct sched *v, *s;

	if (n < 1 || n > CONF_SCHEDULE_NAME_MAX ||
	    strspn(name, CONF_NAMECHARS) != n) {
		snprintf(msg, len, "bad schedule name \"%s\": use 1 to %d of "
		    "A-Z a-z 0-9 _ . -", name, CONF_SCHEDULE_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].pub.name, name) == 0) {
			snprintf(msg, len, "duplicate section [schedule.%s] "
			    "(first at line %d)", name, set->v[i].pub.line);
			return -EINVAL;
		}
	if (set->n == CONF_MAX_SCHEDULES) {
		snprintf(msg, len, "too many schedules (at most %d)",
		    CONF_MAX_SCHEDULES);
		return -EINVAL;
	}
	if ((v = reallocarray(set->v, set->n + 1, sizeof(*v))) == NULL)
		goto nomem;
	set->v = v;
	s = &v[set->n];
	memset(s, 0, sizeof(*s));
	s->pub.line = line;
	if ((s->pub.name = strdup(name)) == NULL ||
	    (s->submit = json_object()) == NULL) {
		sched_clear(s);
		goto nomem;
	}
	set->n++;
	return 0;
nomem:
	snprintf(msg, len, "out of memory");
	return -ENOMEM;
}

/* One of n names: its index, or -EINVAL with msg listing them. */
static int
pick(const char *key, const char *v, const char *const *names, size_t n,
    char *msg, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return (int)i;
	k = (size_t)snprintf(msg, len, "%s: must be ", key);
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(msg + k, len - k, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	if (k < len)
		snprintf(msg + k, len - k, ", not \"%s\"", v);
	return -EINVAL;
}

static int
set_bool(const char *key, const char *v, bool *out, char *msg, size_t len)
{
	static const char *const names[] = { "no", "yes", "false", "true",
	    "off", "on", "0", "1" };
	int i = pick(key, v, names, 8, msg, len);

	if (i >= 0)
		*out = i % 2 == 1;
	return i < 0 ? i : 0;
}

/* The value of submit field k from its text, or NULL with msg. */
static json_t *
field_value(const struct ck *k, const char *v, char *msg, size_t len)
{
	char *end, derr[DUR_ERR_MAX];
	long long i;
	double d;
	bool b;

	switch (k->type) {
	case CK_INT:
		errno = 0;
		i = strtoll(v, &end, 10);
		if (v[0] == '\0' || *end != '\0' || errno != 0) {
			snprintf(msg, len, "%s: must be an integer, not \"%s\"",
			    k->name, v);
			return NULL;
		}
		return json_integer(i);
	case CK_DUR:
		if (dur_parse(v, &d, derr, sizeof(derr)) < 0) {
			snprintf(msg, len, "%s: %s", k->name, derr);
			return NULL;
		}
		return json_real(d);
	case CK_BOOL:
		return set_bool(k->name, v, &b, msg, len) < 0 ? NULL :
		    json_boolean(b);
	case CK_JSON:
		return json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
		    NULL);
	default:
		return json_string(v);
	}
}

/* Check the submit fields o as a client's submit would be checked. */
static int
submit_check(const json_t *o, char *msg, size_t len)
{
	struct proto_submit ps;
	struct proto_err err;

	int rc = proto_submit_parse(o, &ps, &err);

	if (rc == 0 && ps.nafter > 0) {
		snprintf(err.msg, sizeof(err.msg), "after: a schedule's jobs "
		    "cannot depend on other jobs");
		rc = -EINVAL;
	}
	proto_submit_clear(&ps);
	if (rc == 0)
		return 0;
	snprintf(msg, len, "%s", err.msg);
	return -EINVAL;
}

/* Submit field k = v: checked alone (with a stand-in kind and args
 * where it is neither), then kept. */
static int
key_field(struct sched *s, const struct ck *k, const char *v, char *msg,
    size_t len)
{
	json_t *val = field_value(k, v, msg, len), *probe;
	int rc;

	if (val == NULL && k->type == CK_JSON)
		snprintf(msg, len, "%s: not valid JSON: %s", k->name, v);
	if (val == NULL)
		return -EINVAL;
	if ((probe = json_pack("{s:s, s:{}}", "kind", "sleep", "args")) ==
	    NULL || json_object_set(probe, k->name, val) < 0) {
		json_decref(probe);
		json_decref(val);
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	rc = submit_check(probe, msg, len);
	json_decref(probe);
	if (rc == 0 && strcmp(k->name, "kind") == 0 && kind_find(v) == NULL) {
		snprintf(msg, len, "kind: unknown kind \"%s\"", v);
		rc = -EINVAL;
	}
	if (rc == 0 && json_object_set_new(s->submit, k->name, val) < 0)
		return -ENOMEM;
	if (rc < 0)
		json_decref(val);
	return rc;
}

static int
key_own(struct sched *s, const struct ck *k, const char *v, char *msg,
    size_t len)
{
	char err[CRON_ERR_MAX > TZ_NAME_MAX ? CRON_ERR_MAX : TZ_NAME_MAX + 64];
	struct cron *c;
	int rc;

	switch (k->type) {
	case CK_CRON:
		if ((rc = cron_parse(v, &c, err, sizeof(err))) < 0) {
			snprintf(msg, len, "cron: %s", rc == -ENOMEM ?
			    "out of memory" : err);
			return rc;
		}
		cron_free(c);
		return (s->pub.cron = strdup(v)) == NULL ? -ENOMEM : 0;
	case CK_ZONE:
		if (tz_check(v, err, sizeof(err)) < 0) {
			snprintf(msg, len, "timezone: %s", err);
			return -EINVAL;
		}
		return (s->pub.timezone = strdup(v)) == NULL ? -ENOMEM : 0;
	case CK_OVERLAP:
		rc = pick(k->name, v, overlap_names, 2, msg, len);
		s->pub.overlap = rc;
		return rc < 0 ? rc : 0;
	case CK_CATCH_UP:
		rc = pick(k->name, v, catch_up_names, 3, msg, len);
		s->pub.catch_up = rc;
		return rc < 0 ? rc : 0;
	default:
		return set_bool(k->name, v, &s->pub.paused, msg, len);
	}
}

static int
key_unknown(const char *name, char *msg, size_t len)
{
	size_t n = (size_t)snprintf(msg, len, "unknown key \"%s\" in a "
	    "[schedule.NAME] section; known keys: ", name);

	for (size_t i = 0; i < NCKEYS && n < len; i++)
		n += (size_t)snprintf(msg + n, len - n, "%s%s", i ? ", " : "",
		    ckeys[i].name);
	return -EINVAL;
}

int
csched_key(struct csched_set *set, const char *name, const char *value,
    int line, char *msg, size_t len)
{
	struct sched *s = &set->v[set->n - 1];
	size_t i;
	int rc;

	for (i = 0; i < NCKEYS; i++)
		if (strcmp(ckeys[i].name, name) == 0)
			break;
	if (i == NCKEYS)
		return key_unknown(name, msg, len);
	if (s->lines[i] != 0) {
		snprintf(msg, len, "duplicate key \"%s\" in [schedule.%s] "
		    "(first set at line %d)", name, s->pub.name, s->lines[i]);
		return -EINVAL;
	}
	s->lines[i] = line;
	rc = ckeys[i].type >= CK_STR ?
	    key_field(s, &ckeys[i], value, msg, len) :
	    key_own(s, &ckeys[i], value, msg, len);
	if (rc == -ENOMEM)
		snprintf(msg, len, "out of memory");
	return rc;
}

/* The line of key name in s, or its header's. */
static int
key_line(const struct sched *s, const char *name)
{
	for (size_t i = 0; i < NCKEYS; i++)
		if (strcmp(ckeys[i].name, name) == 0 && s->lines[i] != 0)
			return s->lines[i];
	return s->pub.line;
}

/* The kind's own check of the args (a missing args is {}). */
static int
finish_args(struct sched *s, int *line, char *msg, size_t len)
{
	const char *kn = json_string_value(json_object_get(s->submit, "kind"));
	json_t *args = json_object_get(s->submit, "args");
	struct proto_err err;

	if (args == NULL) {
		if ((args = json_object()) == NULL ||
		    json_object_set_new(s->submit, "args", args) < 0)
			return -ENOMEM;
	}
	*line = key_line(s, "args");
	if (kind_find(kn)->check(args, &err) < 0) {
		snprintf(msg, len, "args: %s", err.msg);
		return -EINVAL;
	}
	return submit_check(s->submit, msg, len);
}

static int
finish_one(struct sched *s, bool (*queue_ok)(void *, const char *),
    void *arg, int *line, char *msg, size_t len)
{
	const char *q;
	int rc;

	*line = s->pub.line;
	if (s->pub.cron == NULL || json_object_get(s->submit, "kind") == NULL) {
		snprintf(msg, len, "[schedule.%s] needs %s", s->pub.name,
		    s->pub.cron == NULL ? "a cron line (cron = ...)" :
		    "a kind (kind = ...)");
		return -EINVAL;
	}
	if ((rc = finish_args(s, line, msg, len)) < 0)
		return rc;
	q = json_string_value(json_object_get(s->submit, "queue"));
	if (q != NULL && !queue_ok(arg, q)) {
		*line = key_line(s, "queue");
		snprintf(msg, len, "queue: no [queue.%s] section (a schedule's "
		    "queue must be configured)", q);
		return -EINVAL;
	}
	s->pub.submit = json_dumps(s->submit, JSON_COMPACT | JSON_SORT_KEYS);
	return s->pub.submit == NULL ? -ENOMEM : 0;
}

int
csched_finish(struct csched_set *set,
    bool (*queue_ok)(void *arg, const char *queue), void *arg, int *line,
    char *msg, size_t len)
{
	int rc;

	for (size_t i = 0; i < set->n; i++)
		if ((rc = finish_one(&set->v[i], queue_ok, arg, line, msg,
		    len)) < 0) {
			if (rc == -ENOMEM)
				snprintf(msg, len, "out of memory");
			return rc;
		}
	return 0;
}

size_t
csched_count(const struct csched_set *set)
{
	return set->n;
}

const struct conf_schedule *
csched_at(const struct csched_set *set, size_t i)
{
	return i < set->n ? &set->v[i].pub : NULL;
}

/* A submit field as its key's text. */
static void
dump_field(FILE *f, const char *key, const json_t *v)
{
	char *t;

	if (json_is_string(v)) {
		fprintf(f, "%s = %s\n", key, json_string_value(v));
	} else if (json_is_boolean(v)) {
		fprintf(f, "%s = %s\n", key, json_is_true(v) ? "yes" : "no");
	} else if ((t = proto_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) !=
	    NULL) {
		fprintf(f, "%s = %s\n", key, t);
		free(t);
	}
}

void
csched_dump(FILE *f, const struct csched_set *set)
{
	const char *key;
	json_t *v;

	for (size_t i = 0; i < set->n; i++) {
		const struct sched *s = &set->v[i];

		fprintf(f, "\n[schedule.%s]\ncron = %s\n", s->pub.name,
		    s->pub.cron);
		if (s->pub.timezone != NULL)
			fprintf(f, "timezone = %s\n", s->pub.timezone);
		fprintf(f, "overlap = %s\ncatch_up = %s\npaused = %s\n",
		    overlap_names[s->pub.overlap],
		    catch_up_names[s->pub.catch_up],
		    s->pub.paused ? "yes" : "no");
		json_object_foreach((json_t *)s->submit, key, v)
			dump_field(f, key, v);
	}
}
