/*
 * proto_fast.c — the lean submit parser (proto.h: proto_fast_submit).
 *
 * Most lines a busy jobd reads are plain submits, and the full parser
 * (proto.c: prescan, a jansson tree of the whole line, the field helpers)
 * spends most of its time building and freeing the envelope's tree.  This
 * file reads a submit straight into the request: the envelope's strings
 * are decoded into one buffer the request owns, only args (and a tag) are
 * built as jansson values, and args' compact text is written on the way,
 * so the store needs no second serialisation (proto_submit.args_text).
 *
 * It is only an accelerator: it accepts a line only when it is sure the
 * full parser would accept it with the same result, and says "not mine"
 * for everything else — any field it does not know (a new one keeps
 * working through the full parser without a change here), a duplicate
 * key, an escape \u, a byte outside printable ASCII in a string, a number
 * that is not plain, nesting deeper than LEAN_DEPTH, anything wrong.  All
 * errors therefore come from the full parser, the reference; fuzz_submit
 * checks that both agree on every line this one takes.
 *
 * The lifecycle's and unique jobs' fields (priority, delay, ...) are
 * gathered into a small object and checked by the same functions the
 * full parser uses (proto_life.c, proto_deps.c), so their rules live in
 * one place; without them, their defaults are those functions' answer for
 * an object that has none, computed once.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Nesting the lean path follows inside args (the full parser's bound is
 * PROTO_DEPTH_MAX for the line, the envelope included). */
#define LEAN_DEPTH 16
/* Bytes of an escaped string inside args or a tag, decoded. */
#define LEAN_TMP 1024
/* Bytes of a real's token. */
#define LEAN_NUM 64

struct lean {
	const char *p, *end;    /* what is left of the line */
	char *out, *oend;       /* the request's text buffer, free part */
	char *canon;            /* args' compact text so far; NULL: none */
	char tmp[LEAN_TMP];     /* an escaped string, decoded */
};

/* The envelope's fields (bits of a mask, for duplicates). */
enum {
	F_OP, F_KIND, F_ARGS, F_QUEUE, F_NAME, F_TIMEOUT, F_ATTEMPTS,
	F_NOWAIT, F_TAG, F_REST, NFIELDS
};

static const char *const fields[NFIELDS] = {
	"op", "kind", "args", "queue", "name", "timeout", "max_attempts",
	"nowait", "tag", NULL,
};

/* The fields checked by proto_submit_life_parse and
 * proto_submit_deps_parse: gathered and handed to them. */
static const char *const rest_fields[] = {
	"run_at", "delay", "priority", "retries", "retry_delay",
	"retry_max_delay", "retry_backoff", "idempotent", "unique_key",
	"unique_for",
};

static void
ws(struct lean *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
	    *l->p == '\r' || *l->p == '\n'))
		l->p++;
}

static bool
take(struct lean *l, char c)
{
	ws(l);
	if (l->p >= l->end || *l->p != c)
		return false;
	l->p++;
	return true;
}

/* What may follow a literal or a number. */
static bool
delimited(const struct lean *l)
{
	return l->p >= l->end || strchr(" \t\r\n,}]", *l->p) != NULL;
}

/* The word at l->p, and l->p past it; false (l->p left alone) if it is
 * not there whole. */
static bool
literal(struct lean *l, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, word, n) != 0)
		return false;
	l->p += n;
	if (delimited(l))
		return true;
	l->p -= n;
	return false;
}

/*
 * The string at l->p (just past its opening quote), decoded into buf (room
 * for cap bytes, no NUL added).  Its length, or -1 for what is not lean:
 * \u, a byte outside 0x20..0x7e, longer than cap, unterminated.  l->p is
 * left past the closing quote; *plain says the raw bytes were the text.
 */
static ssize_t
lean_string(struct lean *l, char *buf, size_t cap, bool *plain)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *q;
	size_t n = 0;
	unsigned char c;

	*plain = true;
	while (l->p < l->end) {
		c = (unsigned char)*l->p++;
		if (c == '"')
			return (ssize_t)n;
		if (c < 0x20 || c > 0x7e || n >= cap)
			return -1;
		if (c == '\\') {
			if (l->p >= l->end || *l->p == 'u' || *l->p == '\0' ||
			    (q = strchr(from, *l->p)) == NULL)
				return -1;
			c = (unsigned char)to[q - from];
			l->p++;
			*plain = false;
		}
		buf[n++] = (char)c;
	}
	return -1;
}

/* A string as jansson writes it (s holds no byte below 0x20 but the
 * short escapes' and none above 0x7e): into l->canon. */
static void
canon_string(struct lean *l, const char *s, size_t n)
{
	static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
	const char *q;

	*l->canon++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\0' && (q = strchr(from, s[i])) != NULL) {
			*l->canon++ = '\\';
			*l->canon++ = to[q - from];
		} else
			*l->canon++ = s[i];
	}
	*l->canon++ = '"';
}

/*
 * The number at l->p: an integer of at most 18 digits (so it fits, as
 * jansson's strtoll needs), or a real strtod reads finite.  The grammar is
 * JSON's, exactly.  0, or -1 for what is not lean.
 */
static int
lean_number(struct lean *l, bool *is_int, int64_t *i, double *d)
{
	const char *s = l->p, *digits;
	char tok[LEAN_NUM];
	int64_t v = 0;
	bool real = false;

	if (l->p < l->end && *l->p == '-')
		l->p++;
	digits = l->p;
	if (l->p < l->end && *l->p == '0')
		l->p++;
	else
		while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
			if (l->p - digits >= 18)
				return -1;      /* may not fit: jansson's */
			v = v * 10 + (*l->p++ - '0');
		}
	if (l->p == digits)
		return -1;
	if (l->p < l->end && *l->p == '.') {
		real = true;
		if (++l->p >= l->end || *l->p < '0' || *l->p > '9')
			return -1;
		while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
			l->p++;
	}
	if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
		real = true;
		if (++l->p < l->end && (*l->p == '+' || *l->p == '-'))
			l->p++;
		if (l->p >= l->end || *l->p < '0' || *l->p > '9')
			return -1;
		while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
			l->p++;
	}
	if (!delimited(l))
		return -1;
	*is_int = !real;
	if (!real) {
		*i = *s == '-' ? -v : v;
		return 0;
	}
	if ((size_t)(l->p - s) >= sizeof(tok))
		return -1;
	memcpy(tok, s, (size_t)(l->p - s));
	tok[l->p - s] = '\0';
	*d = strtod(tok, NULL);
	return isfinite(*d) ? 0 : -1;
}

static int lean_value(struct lean *l, json_t **out, int depth);

/* An object's members after its '{' into o. */
static int
lean_members(struct lean *l, json_t *o, int depth)
{
	const char *key;
	ssize_t klen;
	bool plain, first = true;
	json_t *v;

	if (l->canon != NULL)
		*l->canon++ = '{';
	if (take(l, '}'))
		goto done;
	do {
		if (!take(l, '"'))
			return -1;
		key = l->p;
		if ((klen = lean_string(l, l->tmp, sizeof(l->tmp), &plain)) < 0 ||
		    !plain || json_object_getn(o, key, (size_t)klen) != NULL)
			return -1;      /* an escaped key, a duplicate */
		if (l->canon != NULL) {
			if (!first)
				*l->canon++ = ',';
			canon_string(l, key, (size_t)klen);
			*l->canon++ = ':';
		}
		first = false;
		if (!take(l, ':') || lean_value(l, &v, depth) < 0)
			return -1;
		if (json_object_setn_new_nocheck(o, key, (size_t)klen, v) < 0)
			return -1;
	} while (take(l, ','));
	if (!take(l, '}'))
		return -1;
done:
	if (l->canon != NULL)
		*l->canon++ = '}';
	return 0;
}

/* An array's elements after its '[' into a. */
static int
lean_elements(struct lean *l, json_t *a, int depth)
{
	bool first = true;
	json_t *v;

	if (l->canon != NULL)
		*l->canon++ = '[';
	if (take(l, ']'))
		goto done;
	do {
		if (l->canon != NULL && !first)
			*l->canon++ = ',';
		first = false;
		if (lean_value(l, &v, depth) < 0)
			return -1;
		if (json_array_append_new(a, v) < 0)
			return -1;
	} while (take(l, ','));
	if (!take(l, ']'))
		return -1;
done:
	if (l->canon != NULL)
		*l->canon++ = ']';
	return 0;
}

/* A string value: its json_t, and its text into l->canon. */
static json_t *
lean_string_value(struct lean *l)
{
	const char *raw = l->p;
	ssize_t n;
	bool plain;

	if ((n = lean_string(l, l->tmp, sizeof(l->tmp), &plain)) < 0)
		return NULL;
	if (l->canon != NULL)
		canon_string(l, plain ? raw : l->tmp, (size_t)n);
	return json_stringn_nocheck(plain ? raw : l->tmp, (size_t)n);
}

static json_t *
lean_number_value(struct lean *l)
{
	int64_t i;
	double d;
	bool is_int;
	int n;

	if (lean_number(l, &is_int, &i, &d) < 0)
		return NULL;
	if (!is_int) {
		l->canon = NULL;        /* reals: proto_dumps spells them */
		return json_real(d);
	}
	if (l->canon != NULL && (n = sprintf(l->canon, "%lld",
	    (long long)i)) > 0)
		l->canon += n;
	return json_integer(i);
}

static json_t *
lean_word(struct lean *l)
{
	static const char *const words[] = { "true", "false", "null" };
	json_t *v = NULL;

	for (size_t i = 0; i < 3 && v == NULL; i++)
		if (literal(l, words[i]))
			v = i == 0 ? json_true() : i == 1 ? json_false() :
			    json_null();
	if (v != NULL && l->canon != NULL) {
		memcpy(l->canon, json_is_true(v) ? "true" : json_is_false(v) ?
		    "false" : "null", json_is_null(v) ? 4 : json_is_true(v) ?
		    4 : 5);
		l->canon += json_is_false(v) ? 5 : 4;
	}
	return v;
}

/* Any JSON value at l->p into *out (a new reference).  0 or -1. */
static int
lean_value(struct lean *l, json_t **out, int depth)
{
	json_t *v = NULL;
	int rc = 0;

	ws(l);
	*out = NULL;
	if (l->p >= l->end)
		return -1;
	if (*l->p == '{' || *l->p == '[') {
		if (depth >= LEAN_DEPTH)
			return -1;
		v = *l->p == '{' ? json_object() : json_array();
		l->p++;
		if (v != NULL)
			rc = json_is_object(v) ? lean_members(l, v, depth + 1) :
			    lean_elements(l, v, depth + 1);
	} else if (*l->p == '"') {
		l->p++;
		v = lean_string_value(l);
	} else if (*l->p == '-' || (*l->p >= '0' && *l->p <= '9'))
		v = lean_number_value(l);
	else
		v = lean_word(l);
	if (v == NULL || rc < 0) {
		json_decref(v);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- the envelope ---------------------------------------------------------- */

/* A short string field into the request's buffer, NUL-terminated. */
static int
lean_field_string(struct lean *l, const char **out)
{
	ssize_t n;
	bool plain;

	if (literal(l, "null"))
		return 0;
	if (!take(l, '"'))
		return -1;
	n = lean_string(l, l->out, (size_t)(l->oend - l->out) - 1, &plain);
	if (n < 0 || n > PROTO_STR_MAX)
		return -1;
	*out = l->out;
	l->out += n;
	*l->out++ = '\0';
	return 1;
}

/* The defaults of the lifecycle's and deps' fields: what their parsers
 * make of an object without any. */
static struct proto_submit defaults;
static bool defaults_ok;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void
defaults_init(void)
{
	struct proto_err err;
	json_t *none = json_object();

	defaults_ok = none != NULL &&
	    proto_submit_life_parse(none, &defaults, &err) == 0 &&
	    proto_submit_deps_parse(none, &defaults, &err) == 0;
	json_decref(none);
}

struct lean_env {
	struct proto_submit *s;
	unsigned seen;
	json_t **rest, **args, **tag;
};

static int
field_index(const char *key, size_t n)
{
	for (int i = 0; i < F_REST; i++)
		if (strlen(fields[i]) == n && memcmp(fields[i], key, n) == 0)
			return i;
	for (size_t i = 0; i < sizeof(rest_fields) / sizeof(rest_fields[0]);
	    i++)
		if (strlen(rest_fields[i]) == n &&
		    memcmp(rest_fields[i], key, n) == 0)
			return F_REST;
	return -1;
}

/* A bool field; null: absent. */
static int
lean_bool(struct lean *l, bool *out)
{
	if (literal(l, "null"))
		return 0;
	if (literal(l, "true"))
		return (*out = true, 0);
	return literal(l, "false") ? (*out = false, 0) : -1;
}

/* A number field in [min, max] (an integer may be asked for); null:
 * absent. */
static int
lean_bounded(struct lean *l, bool want_int, double min, double max,
    double *d)
{
	int64_t i;
	bool is_int;

	if (literal(l, "null"))
		return 0;
	if (lean_number(l, &is_int, &i, d) < 0 || (want_int && !is_int))
		return -1;
	if (is_int)
		*d = (double)i;
	return *d >= min && *d <= max ? 1 : -1;
}

/* The value of one envelope field (key, klen) at l->p. */
static int
lean_field(struct lean *l, struct lean_env *v, const char *key, size_t klen)
{
	struct proto_submit *s = v->s;
	const char *op = NULL;
	double d;
	int f = field_index(key, klen), rc = 0;
	json_t *x;

	if (f < 0 || (f != F_REST && (v->seen & (1u << f))))
		return -1;
	v->seen |= 1u << f;
	ws(l);
	switch (f) {
	case F_OP:
		rc = lean_field_string(l, &op) > 0 &&
		    strcmp(op, "submit") == 0 ? 0 : -1;
		break;
	case F_KIND:
		rc = lean_field_string(l, &s->kind) > 0 ? 0 : -1;
		break;
	case F_QUEUE:
		rc = lean_field_string(l, &s->queue);
		break;
	case F_NAME:
		rc = lean_field_string(l, &s->name);
		break;
	case F_ARGS:
		if (l->p >= l->end || *l->p != '{')
			return -1;
		l->canon = l->out;
		rc = lean_value(l, v->args, 1);
		if (rc == 0 && l->canon != NULL) {
			*l->canon++ = '\0';
			s->args_text = l->out;
			l->out = l->canon;
		}
		l->canon = NULL;
		s->args = *v->args;
		break;
	case F_TIMEOUT:
		if ((rc = lean_bounded(l, false, 0, PROTO_TIMEOUT_MAX, &d)) > 0)
			s->timeout = d == 0 ? 0 : d;    /* -0.0: 0 */
		break;
	case F_ATTEMPTS:
		if ((rc = lean_bounded(l, true, 1, PROTO_ATTEMPTS_MAX, &d)) > 0)
			s->max_attempts = (int64_t)d;
		break;
	case F_NOWAIT:
		rc = lean_bool(l, &s->nowait);
		break;
	case F_TAG:
		rc = lean_value(l, v->tag, 1);
		break;
	default:                        /* F_REST */
		if (*v->rest == NULL && (*v->rest = json_object()) == NULL)
			return -1;
		if (json_object_getn(*v->rest, key, klen) != NULL ||
		    lean_value(l, &x, 1) < 0)
			return -1;
		rc = json_object_setn_new_nocheck(*v->rest, key, klen, x);
		break;
	}
	return rc < 0 ? -1 : 0;
}

/* The object of the line into req; -1 when it is not lean. */
static int
lean_envelope(struct lean *l, struct proto_req *req)
{
	struct proto_submit *s = &req->u.submit;
	struct lean_env v = { s, 0, &req->lean.rest, &req->lean.args,
	    &req->lean.tag };
	const char *key;
	char kbuf[32];
	ssize_t klen;
	bool plain;

	s->queue = "default";
	s->timeout = PROTO_UNSET;
	if (!take(l, '{'))
		return -1;
	do {
		if (!take(l, '"'))
			return -1;
		key = l->p;
		if ((klen = lean_string(l, kbuf, sizeof(kbuf), &plain)) < 0 ||
		    !take(l, ':') ||
		    lean_field(l, &v, plain ? key : kbuf, (size_t)klen) < 0)
			return -1;
	} while (take(l, ','));
	if (!take(l, '}') || (ws(l), l->p != l->end))
		return -1;
	if ((v.seen & (1u << F_OP | 1u << F_KIND | 1u << F_ARGS)) !=
	    (1u << F_OP | 1u << F_KIND | 1u << F_ARGS))
		return -1;
	return 0;
}

/* The lifecycle's and deps' fields: their own parsers on what was
 * gathered, or their defaults. */
static int
lean_rest(struct proto_req *req)
{
	struct proto_submit *s = &req->u.submit;
	struct proto_err err;
	struct proto_submit keep;

	if (req->lean.rest == NULL) {
		keep = *s;
		*s = defaults;
		s->kind = keep.kind;
		s->args = keep.args;
		s->args_text = keep.args_text;
		s->queue = keep.queue;
		s->name = keep.name;
		s->timeout = keep.timeout;
		s->max_attempts = keep.max_attempts;
		s->nowait = keep.nowait;
		return 0;
	}
	return proto_submit_life_parse(req->lean.rest, s, &err) < 0 ||
	    proto_submit_deps_parse(req->lean.rest, s, &err) < 0 ? -1 : 0;
}

bool
proto_fast_submit(const char *line, size_t len, struct proto_req *req)
{
	struct lean lean, *l = &lean;
	bool ok;

	memset(req, 0, offsetof(struct proto_req, lean.small));
	if (pthread_once(&defaults_once, defaults_init) != 0 || !defaults_ok)
		return false;
	/* A cheap look first: most lines that are not submits go at once. */
	if (len < 16 || memmem(line, len, "\"submit\"", 8) == NULL)
		return false;
	l->p = line;
	l->end = line + len;
	l->canon = NULL;
	/* Decoded strings and args' text are never longer than their
	 * spans of the line, each followed by at least one byte (a ':' or
	 * a quote) that their NUL can take. */
	if (len + 1 <= sizeof(req->lean.small))
		l->out = req->lean.small;
	else if ((l->out = req->lean.text = malloc(len + 1)) == NULL)
		return false;
	l->oend = l->out + len + 1;
	ok = lean_envelope(l, req) == 0 && lean_rest(req) == 0;
	if (!ok) {
		proto_req_clear(req);
		return false;
	}
	req->op = PROTO_OP_SUBMIT;
	req->tag = req->lean.tag;
	return true;
}
