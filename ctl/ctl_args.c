/*
 * ctl_args.c — jobctl's command-line values (see ctl_args.h).
 *
 * Numbers are parsed by hand-picked rules rather than bare strtod/strtoll,
 * which would take " 5", "0x10", "inf" and "nan": a value the user typed
 * must read the same to a person as it does to jobctl.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_args.h"
#include "duration.h"
#include "proto.h"

static void __attribute__((format(printf, 3, 4)))
err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "an object", "a string", ... for messages. */
static const char *
json_type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "a JSON object";
	case JSON_ARRAY:
		return "a JSON array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

int
ctl_json_parse(const char *text, size_t len, const char *what,
    json_type want, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;

	*out = NULL;
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (v == NULL) {
		err_set(err, errlen, "%s: invalid JSON at line %d, column "
		    "%d: %s", what, je.line, je.column, je.text);
		return -EINVAL;
	}
	if (json_typeof(v) != want) {
		err_set(err, errlen, "%s: expected %s, got %s", what,
		    json_type_name(want), json_type_name(json_typeof(v)));
		json_decref(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Whether s looks like a plain decimal number: digits, at most one '.',
 * an optional exponent; no sign, space, hex, inf or nan. */
static bool
is_decimal(const char *s)
{
	bool digits = false, dot = false;

	for (; *s != '\0' && *s != 'e' && *s != 'E'; s++) {
		if (*s >= '0' && *s <= '9')
			digits = true;
		else if (*s == '.' && !dot)
			dot = true;
		else
			return false;
	}
	if (!digits)
		return false;
	if (*s == '\0')
		return true;
	s++;
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int
ctl_parse_seconds(const char *s, const char *what, json_t **out, char *err,
    size_t errlen)
{
	double v = 0;

	*out = NULL;
	if (is_decimal(s))
		v = strtod(s, NULL);
	if (!is_decimal(s) || !isfinite(v) || v > PROTO_TIMEOUT_MAX) {
		err_set(err, errlen,
		    "%s: expected a number of seconds from 0 to %g, got \"%s\"",
		    what, PROTO_TIMEOUT_MAX, s);
		return -EINVAL;
	}
	/* Whole values go as integers; jansson writes a real 30 as 30.0. */
	if (v == floor(v))
		*out = json_integer((json_int_t)v);
	else
		*out = json_real(v);
	return *out == NULL ? -ENOMEM : 0;
}

int
ctl_parse_int(const char *s, const char *what, int64_t min, int64_t max,
    int64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	long long v;
	char *end;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno == ERANGE || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	err_set(err, errlen, "%s: expected an integer from %lld to %lld, "
	    "got \"%s\"", what, (long long)min, (long long)max, s);
	return -EINVAL;
}

int
ctl_parse_id(const char *s, const char *what, int64_t *out, char *err,
    size_t errlen)
{
	return ctl_parse_int(s, what, 1, INT64_MAX, out, err, errlen);
}

int
ctl_check_string(const char *s, const char *what, size_t max, char *err,
    size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0 || len > max) {
		err_set(err, errlen, "%s: expected 1 to %zu bytes, got %zu",
		    what, max, len);
		return -EINVAL;
	}
	return 0;
}

/* ---- submit shorthands --------------------------------------------------- */

/* Shorthands take the words after KIND; each returns 0 and *out, or
 * -EINVAL. */
typedef int (*shorthand_fn)(int, char *const *, json_t **, char *, size_t);

static int
short_sleep(int n, char *const *w, json_t **out, char *err, size_t errlen)
{
	json_t *secs;

	if (n != 1) {
		err_set(err, errlen, "submit sleep: expected SECONDS or "
		    "ARGS-JSON, e.g. `submit sleep 0.5`");
		return -EINVAL;
	}
	if (ctl_parse_seconds(w[0], "submit sleep", &secs, err, errlen) < 0)
		return -EINVAL;
	*out = json_pack("{s:o}", "seconds", secs);
	return *out == NULL ? -ENOMEM : 0;
}

static int
short_exec(int n, char *const *w, json_t **out, char *err, size_t errlen)
{
	json_t *argv;

	if (n < 1) {
		err_set(err, errlen, "submit exec: expected a command, e.g. "
		    "`submit exec -- ls -l /tmp`");
		return -EINVAL;
	}
	if ((argv = json_array()) == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (json_array_append_new(argv, json_string(w[i])) < 0) {
			err_set(err, errlen, "submit exec: argument %d is not "
			    "valid UTF-8", i + 1);
			json_decref(argv);
			return -EINVAL;
		}
	}
	*out = json_pack("{s:o}", "argv", argv);
	return *out == NULL ? -ENOMEM : 0;
}

static int
short_http(int n, char *const *w, json_t **out, char *err, size_t errlen)
{
	json_t *url;

	if (n != 1) {
		err_set(err, errlen, "submit http: expected one URL or "
		    "ARGS-JSON, e.g. `submit http http://localhost/`");
		return -EINVAL;
	}
	if ((url = json_string(w[0])) == NULL) {
		err_set(err, errlen, "submit http: URL is not valid UTF-8");
		return -EINVAL;
	}
	*out = json_pack("{s:o}", "url", url);
	return *out == NULL ? -ENOMEM : 0;
}

static const struct {
	const char *kind;
	shorthand_fn fn;
} shorthands[] = {
	{ "sleep", short_sleep },
	{ "exec", short_exec },
	{ "http", short_http },
};

int
ctl_args_build(const char *kind, int nwords, char *const *words,
    json_t **out, char *err, size_t errlen)
{
	const char *p;
	size_t i;

	*out = NULL;
	if (nwords == 1) {
		p = words[0] + strspn(words[0], " \t\r\n");
		if (*p == '{')
			return ctl_json_parse(words[0], strlen(words[0]),
			    "ARGS-JSON", JSON_OBJECT, out, err, errlen);
	}
	for (i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
		if (strcmp(kind, shorthands[i].kind) == 0)
			return shorthands[i].fn(nwords, words, out, err,
			    errlen);
	err_set(err, errlen, "submit %s: expected ARGS-JSON, one JSON object "
	    "such as '{\"key\":\"value\"}'", kind);
	return -EINVAL;
}

/* ---- submit-group files -------------------------------------------------- */

/* Read all of f into a NUL-terminated buffer (owned): 0, -EFBIG past max
 * bytes, or -errno. */
static int
read_all(FILE *f, size_t max, char **out, size_t *len)
{
	size_t cap = 0, n = 0, got;
	char *buf = NULL, *nb;

	do {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 64 * 1024;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - 1 - n, f);
		n += got;
	} while (got > 0 && n <= max);
	if (ferror(f) || n > max) {
		free(buf);
		return ferror(f) ? -EIO : -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int
ctl_read_jobs(const char *path, size_t max, json_t **jobs, char *err,
    size_t errlen)
{
	bool in = strcmp(path, "-") == 0;
	const char *what = in ? "stdin" : path;
	FILE *f = in ? stdin : fopen(path, "r");
	size_t len = 0;
	char *text;
	int rc;

	*jobs = NULL;
	if (f == NULL) {
		err_set(err, errlen, "%s: %s", what, strerror(errno));
		return -EINVAL;
	}
	rc = read_all(f, max, &text, &len);
	if (!in)
		fclose(f);
	if (rc < 0) {
		err_set(err, errlen, "%s: %s", what, rc == -EFBIG ?
		    "file too large" : strerror(-rc));
		return -EINVAL;
	}
	rc = ctl_json_parse(text, len, what, JSON_ARRAY, jobs, err, errlen);
	free(text);
	for (size_t i = 0; rc == 0 && i < json_array_size(*jobs); i++)
		if (!json_is_object(json_array_get(*jobs, i))) {
			err_set(err, errlen, "%s: jobs[%zu] is not a JSON "
			    "object", what, i);
			json_decref(*jobs);
			*jobs = NULL;
			rc = -EINVAL;
		}
	return rc;
}

int
ctl_parse_duration(const char *s, const char *what, double *secs, char *err,
    size_t errlen)
{
	char why[DUR_ERR_MAX];

	if (dur_parse(s, secs, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", what, why);
		return -EINVAL;
	}
	return 0;
}

int
ctl_parse_when(const char *s, const char *what, double *t, char *err,
    size_t errlen)
{
	static const char *const fmts[] = { "%Y-%m-%dT%H:%M:%S",
		"%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M" };
	struct tm tm;
	const char *end;
	char *e;

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_isdst = -1;
		if ((end = strptime(s, fmts[i], &tm)) != NULL && *end == '\0') {
			*t = (double)mktime(&tm);
			return 0;
		}
	}
	errno = 0;
	*t = strtod(s, &e);
	if (e != s && *e == '\0' && errno == 0 && *t >= 0 && *t <= 1e11)
		return 0;
	snprintf(err, errlen, "%s: expected YYYY-MM-DDTHH:MM[:SS] (local "
	    "time) or epoch seconds, got \"%s\"", what, s);
	return -EINVAL;
}
