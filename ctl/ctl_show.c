/*
 * ctl_show.c — jobctl's human-readable output (see ctl_show.h).
 *
 * Each printer first turns the answer into cells of clean text (escaped,
 * owned strings), then measures and prints them, so alignment is computed
 * on exactly what is shown.  Running out of memory while printing is
 * fatal: jobctl is about to exit anyway, and a half-printed table would
 * mislead.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jc.h"
#include "ctl_show.h"
#include "duration.h"
#include "log.h"
#include "proto.h"

/* ---- text ---------------------------------------------------------------- */

static char * __attribute__((format(printf, 1, 2)))
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	return s;
}

char *
ctl_clean(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) * 6 + 1), *o = out;

	if (out == NULL)
		fatalx("out of memory");
	for (; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r') {
			*o++ = '\\';
			*o++ = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
		} else if (*p < 0x20 || *p == 0x7f) {
			o += sprintf(o, "\\x%c%c", hex[*p >> 4], hex[*p & 15]);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p++;
			o += sprintf(o, "\\u00%c%c", hex[*p >> 4],
			    hex[*p & 15]);
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/* Characters (code points) in the UTF-8 string s. */
static size_t
u8len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Cut s to at most max characters, ending in "..." when cut. */
static void
u8cut(char *s, size_t max)
{
	size_t n = 0;
	char *p;

	if (max < 4 || u8len(s) <= max)
		return;
	for (p = s; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80 && n++ == max - 3)
			break;
	strcpy(p, "...");
}

/* Any JSON value as text: a string as itself, anything else as compact
 * JSON; cleaned either way. */
static char *
value_text(const json_t *v)
{
	char *dump, *s;

	if (json_is_string(v))
		return ctl_clean(json_string_value(v));
	dump = jc_json_text(v);
	if (dump == NULL)
		fatalx("out of memory");
	s = ctl_clean(dump);
	free(dump);
	return s;
}

/* A number: whole values without a fraction, others to 6 digits. */
static char *
number_text(double d)
{
	if (d == floor(d) && fabs(d) < 1e15)
		return xasprintf("%.0f", d);
	return xasprintf("%g", d);
}

static bool
jnum(const json_t *obj, const char *key, double *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

static const char *
jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

void
ctl_fmt_time(double t, bool iso, char *buf, size_t len)
{
	long long ms = llround(t * 1000);
	time_t secs = (time_t)(ms / 1000);
	char date[32], zone[8] = "";
	struct tm tm;

	if (localtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "%.3f", t);
		return;
	}
	if (!iso) {
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
		return;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	/* %z is "+0100"; ISO 8601 extended format wants "+01:00". */
	if (strftime(zone, sizeof(zone), "%z", &tm) == 5)
		memmove(zone + 4, zone + 3, 3), zone[3] = ':';
	snprintf(buf, len, "%s.%03lld%s", date, ms % 1000, zone);
}

static char *
time_text(const json_t *job, const char *key, bool iso)
{
	char buf[64];
	double t;

	if (!jnum(job, key, &t))
		return xasprintf("-");
	ctl_fmt_time(t, iso, buf, sizeof(buf));
	return xasprintf("%s", buf);
}

/* How long job has run: until finished_at, or until now while running.
 * False when it has not started (or was put back in its queue). */
static bool
job_duration(const json_t *job, double now, double *out)
{
	const char *state = jstr(job, "state");
	double start, end;

	if (!jnum(job, "started_at", &start))
		return false;
	if (!jnum(job, "finished_at", &end)) {
		if (state == NULL || strcmp(state, "running") != 0)
			return false;
		end = now;
	}
	*out = end > start ? end - start : 0;
	return true;
}

/* ---- key: value lines ---------------------------------------------------- */

struct kv {
	const char *key;
	char *val; /* owned */
};

struct kvlist {
	struct kv *v;
	size_t n, cap;
};

static void
kv_add(struct kvlist *l, const char *key, char *val)
{
	struct kv *nv;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((nv = realloc(l->v, l->cap * sizeof(*nv))) == NULL)
			fatalx("out of memory");
		l->v = nv;
	}
	l->v[l->n].key = key;
	l->v[l->n++].val = val;
}

/* Print the list aligned on the longest key, and free it.  Keys are
 * cleaned too: an unknown field's name comes from jobd. */
static void
kv_flush(FILE *f, struct kvlist *l)
{
	int w = 0;
	char *k;

	for (size_t i = 0; i < l->n; i++) {
		k = ctl_clean(l->v[i].key);
		if ((int)strlen(k) > w)
			w = (int)strlen(k);
		free(k);
	}
	for (size_t i = 0; i < l->n; i++) {
		k = ctl_clean(l->v[i].key);
		fprintf(f, "%s:%*s %s\n", k, w - (int)strlen(k), "",
		    l->v[i].val);
		free(k);
		free(l->v[i].val);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* The {JOB} fields ctl_show_job lays out itself; others follow as JSON. */
static const char *const job_known[] = { "id", "name", "state", "queue",
	"kind", "args", "attempts", "max_attempts", "timeout", "group",
	"created_at", "started_at", "finished_at", "error", "cancel_reason",
	"result", "submitted_by", "run_at", "priority", "retries", "retried",
	"retry_delay", "retry_max_delay", "retry_backoff", "after",
	"unique_key", "schedule", "slot", "history" };

static bool
job_key_known(const char *key)
{
	for (size_t i = 0; i < sizeof(job_known) / sizeof(job_known[0]); i++)
		if (strcmp(key, job_known[i]) == 0)
			return true;
	return false;
}

/* "key: value" for a field, "-" when null or absent. */
static void
kv_field(struct kvlist *l, const char *label, const json_t *job,
    const char *key)
{
	const json_t *v = json_object_get(job, key);

	kv_add(l, label, v == NULL || json_is_null(v) ? xasprintf("-") :
	    value_text(v));
}

/* The field only when it is there and not null. */
static void
kv_field_opt(struct kvlist *l, const char *label, const json_t *job,
    const char *key)
{
	const json_t *v = json_object_get(job, key);

	if (v != NULL && !json_is_null(v))
		kv_add(l, label, value_text(v));
}

static char *
attempts_text(const json_t *job)
{
	double n = 0, max;

	jnum(job, "attempts", &n);
	if (jnum(job, "max_attempts", &max))
		return xasprintf("%.0f of %.0f", n, max);
	return xasprintf("%.0f", n);
}

/* "2 (1 used), exponential from 1 s", or NULL for a job without. */
static char *
retries_text(const json_t *job)
{
	double n = 0, used = 0, d = 0;
	const char *mode = jstr(job, "retry_backoff");

	if (!jnum(job, "retries", &n) || n == 0)
		return NULL;
	jnum(job, "retried", &used);
	jnum(job, "retry_delay", &d);
	return xasprintf("%.0f (%.0f used), %s from %g s", n, used,
	    mode != NULL ? mode : "exponential", d);
}

/* The starts of a job (get --history), one line each. */
static void
history_lines(struct kvlist *l, const json_t *job)
{
	const json_t *h = json_object_get(job, "history"), *a;
	char when[64];
	const char *err;
	double t = 0, n = 0;
	size_t i;

	json_array_foreach(h, i, a) {
		jnum(a, "attempt", &n);
		jnum(a, "finished_at", &t);
		ctl_fmt_time(t, true, when, sizeof(when));
		err = jstr(a, "error");
		kv_add(l, "history", xasprintf("#%.0f %s %s%s%s",
		    n, when, jstr(a, "state") ? jstr(a, "state") : "?",
		    err ? ": " : "", err ? err : ""));
	}
}

static char *
timeout_text(const json_t *job)
{
	double t;
	char *s, *r;

	if (!jnum(job, "timeout", &t))
		return xasprintf("-");
	if (t == 0)
		return xasprintf("none");
	s = number_text(t);
	r = xasprintf("%s s", s);
	free(s);
	return r;
}

/* "uid 1001 (gid 1001, pid 4242)", or NULL when nobody is recorded. */
static char *
submitter_text(const json_t *job)
{
	const json_t *by = json_object_get(job, "submitted_by");
	double uid, gid, pid;

	if (!jnum(by, "uid", &uid) || !jnum(by, "gid", &gid) ||
	    !jnum(by, "pid", &pid))
		return NULL;
	return xasprintf("uid %.0f (gid %.0f, pid %.0f)", uid, gid, pid);
}

void
ctl_show_job(FILE *f, const json_t *job, double now)
{
	struct kvlist l = { 0 };
	const char *key;
	char *by;
	json_t *v;
	double d;

	kv_field(&l, "id", job, "id");
	kv_field(&l, "name", job, "name");
	kv_field(&l, "state", job, "state");
	kv_field(&l, "queue", job, "queue");
	kv_field_opt(&l, "priority", job, "priority");
	if (json_is_number(json_object_get(job, "run_at")))
		kv_add(&l, "run_at", time_text(job, "run_at", true));
	if ((by = retries_text(job)) != NULL)
		kv_add(&l, "retries", by);
	kv_field(&l, "kind", job, "kind");
	kv_field(&l, "args", job, "args");
	kv_add(&l, "attempts", attempts_text(job));
	kv_add(&l, "timeout", timeout_text(job));
	kv_field_opt(&l, "group", job, "group");
	if ((by = submitter_text(job)) != NULL)
		kv_add(&l, "user", by);
	kv_add(&l, "created", time_text(job, "created_at", true));
	kv_add(&l, "started", time_text(job, "started_at", true));
	kv_add(&l, "finished", time_text(job, "finished_at", true));
	kv_add(&l, "duration", job_duration(job, now, &d) ?
	    xasprintf("%.3f s", d) : xasprintf("-"));
	kv_field_opt(&l, "error", job, "error");
	kv_field_opt(&l, "cancel_reason", job, "cancel_reason");
	kv_field_opt(&l, "result", job, "result");
	history_lines(&l, job);
	json_object_foreach((json_t *)job, key, v)
		if (!job_key_known(key))
			kv_add(&l, key, value_text(v));
	kv_flush(f, &l);
}

/* ---- tables -------------------------------------------------------------- */

/* A table of cells; column c is right-aligned when right[c]. */
struct table {
	int ncols;
	const char *const *head;
	const bool *right;
	size_t nrows;
	char **cells; /* nrows * ncols, owned */
	int *width;
};

static void
table_init(struct table *t, int ncols, const char *const *head,
    const bool *right, size_t nrows)
{
	t->ncols = ncols;
	t->head = head;
	t->right = right;
	t->nrows = nrows;
	t->cells = calloc(nrows * ncols + 1, sizeof(char *));
	t->width = calloc(ncols, sizeof(int));
	if (t->cells == NULL || t->width == NULL)
		fatalx("out of memory");
}

/* Column widths over the header and every cell. */
static void
table_measure(struct table *t)
{
	for (int c = 0; c < t->ncols; c++) {
		t->width[c] = (int)u8len(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			int w = (int)u8len(t->cells[r * t->ncols + c]);
			if (w > t->width[c])
				t->width[c] = w;
		}
	}
}

static void
table_cell(FILE *f, const struct table *t, int c, const char *s)
{
	int pad = t->width[c] - (int)u8len(s);
	bool last = c == t->ncols - 1;

	/* A left-aligned last column gets no trailing blanks. */
	if (t->right[c])
		fprintf(f, "%*s%s%s", pad, "", s, last ? "\n" : "  ");
	else if (last)
		fprintf(f, "%s\n", s);
	else
		fprintf(f, "%s%*s  ", s, pad, "");
}

/* Print and free. */
static void
table_flush(FILE *f, struct table *t)
{
	for (int c = 0; c < t->ncols; c++)
		table_cell(f, t, c, t->head[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++)
			table_cell(f, t, c, t->cells[r * t->ncols + c]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
}

/* ---- jobs ---------------------------------------------------------------- */

enum { COL_ID, COL_QUEUE, COL_KIND, COL_STATE, COL_ATTEMPTS, COL_CREATED,
	COL_DURATION, COL_SUMMARY, NCOLS };

static const char *const job_head[NCOLS] = { "ID", "QUEUE", "KIND", "STATE",
	"ATTEMPTS", "CREATED", "DURATION", "NAME / ERROR" };
static const bool job_right[NCOLS] = { [COL_ID] = true,
	[COL_ATTEMPTS] = true, [COL_DURATION] = true };

/* The last column: the name, then the error or the cancel reason. */
static char *
summary_text(const json_t *job)
{
	const char *name = jstr(job, "name"), *why = jstr(job, "error");
	char *s, *r;

	if (why == NULL)
		why = jstr(job, "cancel_reason");
	if (name != NULL && why != NULL)
		s = xasprintf("%s: %s", name, why);
	else
		s = xasprintf("%s", name ? name : why ? why : "-");
	r = ctl_clean(s);
	free(s);
	return r;
}

/* The STATE cell: "scheduled (in 3m)" for a job waiting for its run_at. */
static char *
state_text(const json_t *job, double now)
{
	const char *s = jstr(job, "state");
	char d[32];
	double at;

	if (s == NULL)
		return xasprintf("-");
	if (strcmp(s, "scheduled") != 0 || !jnum(job, "run_at", &at))
		return xasprintf("%s", s);
	dur_format(at > now ? at - now : 0, d, sizeof(d));
	return xasprintf("scheduled (in %s)", d);
}

static void
job_row(char **cells, const json_t *job, double now)
{
	const json_t *id = json_object_get(job, "id");
	const json_t *queue = json_object_get(job, "queue");
	const json_t *kind = json_object_get(job, "kind");
	double d;

	cells[COL_ID] = id ? value_text(id) : xasprintf("-");
	cells[COL_QUEUE] = queue ? value_text(queue) : xasprintf("-");
	cells[COL_KIND] = kind ? value_text(kind) : xasprintf("-");
	cells[COL_STATE] = state_text(job, now);
	cells[COL_ATTEMPTS] = attempts_text(job);
	cells[COL_CREATED] = time_text(job, "created_at", false);
	cells[COL_DURATION] = job_duration(job, now, &d) ?
	    xasprintf("%.3fs", d) : xasprintf("-");
	cells[COL_SUMMARY] = summary_text(job);
}

void
ctl_show_jobs(FILE *f, const json_t *jobs, double now, int width)
{
	struct table t;
	size_t i, n = json_array_size(jobs);
	int used = 0;

	if (n == 0) {
		fprintf(f, "no jobs\n");
		return;
	}
	table_init(&t, NCOLS, job_head, job_right, n);
	for (i = 0; i < n; i++)
		job_row(t.cells + i * NCOLS, json_array_get(jobs, i), now);
	table_measure(&t);
	for (int c = 0; c < NCOLS - 1; c++)
		used += t.width[c] + 2;
	if (width > 0)
		for (i = 0; i < n; i++)
			u8cut(t.cells[i * NCOLS + COL_SUMMARY],
			    width - used > 16 ? (size_t)(width - used) : 16);
	table_flush(f, &t);
}

void
ctl_show_tally(FILE *f, const json_t *jobs)
{
	size_t n = json_array_size(jobs), count[PROTO_NSTATES] = { 0 };
	size_t other = n;
	const char *sep = ": ", *s;

	for (size_t i = 0; i < n; i++) {
		s = jstr(json_array_get(jobs, i), "state");
		for (int k = 0; s != NULL && k < PROTO_NSTATES; k++)
			if (strcmp(s, proto_state_names[k]) == 0) {
				count[k]++;
				other--;
			}
	}
	fprintf(f, "%zu job%s", n, n == 1 ? "" : "s");
	for (int k = 0; k < PROTO_NSTATES; k++)
		if (count[k] > 0) {
			fprintf(f, "%s%zu %s", sep, count[k],
			    proto_state_names[k]);
			sep = ", ";
		}
	if (other > 0)
		fprintf(f, "%s%zu other", sep, other);
	fputc('\n', f);
}

/* ---- stats --------------------------------------------------------------- */

/* The stats columns every jobd sends; others found are appended. */
static const char *const stats_known[] = { "queued", "running", "workers",
	"capacity" };
#define STATS_NKNOWN 4

/* Column names: QUEUE, the known ones, then any other key of any queue
 * in order of appearance.  Returns how many; *keys is owned by the
 * caller, its strings borrowed from queues. */
static int
stats_columns(const json_t *queues, const char ***keys)
{
	const char *name, *key, **k;
	json_t *q, *v;
	int n = STATS_NKNOWN, i;

	k = malloc((STATS_NKNOWN + 1) * sizeof(*k));
	if (k == NULL)
		fatalx("out of memory");
	memcpy(k, stats_known, sizeof(stats_known));
	json_object_foreach((json_t *)queues, name, q)
		json_object_foreach(q, key, v) {
			for (i = 0; i < n && strcmp(k[i], key) != 0; i++)
				;
			if (i < n)
				continue;
			if ((k = realloc(k, (n + 1) * sizeof(*k))) == NULL)
				fatalx("out of memory");
			k[n++] = key;
		}
	*keys = k;
	return n;
}

static void
stats_queues(FILE *f, const json_t *queues)
{
	const char **keys, **head, *name;
	size_t r = 0, nq = json_object_size(queues);
	int nk = stats_columns(queues, &keys);
	bool *right;
	struct table t;
	json_t *q;

	head = calloc(nk + 1, sizeof(*head));
	right = calloc(nk + 1, sizeof(*right));
	if (head == NULL || right == NULL)
		fatalx("out of memory");
	head[0] = "QUEUE";
	for (int c = 0; c < nk; c++) {
		/* Headers in capitals, like the job table's. */
		char *h = ctl_clean(keys[c]);
		for (char *p = h; *p; p++)
			*p = *p >= 'a' && *p <= 'z' ? *p - 32 : *p;
		head[c + 1] = h;
		right[c + 1] = true;
	}
	table_init(&t, nk + 1, head, right, nq);
	json_object_foreach((json_t *)queues, name, q) {
		t.cells[r * (nk + 1)] = ctl_clean(name);
		for (int c = 0; c < nk; c++) {
			json_t *v = json_object_get(q, keys[c]);
			t.cells[r * (nk + 1) + c + 1] = v ? value_text(v) :
			    xasprintf("-");
		}
		r++;
	}
	table_measure(&t);
	table_flush(f, &t);
	for (int c = 0; c < nk; c++)
		free((char *)head[c + 1]);
	free(head);
	free(right);
	free(keys);
}

/* An object of counters as one value: "10 submitted, 8 succeeded". */
static char *
counters_text(const json_t *obj)
{
	char *s = xasprintf("%s", ""), *v, *k, *n;
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val) {
		v = value_text(val);
		k = ctl_clean(key);
		n = xasprintf("%s%s%s %s", s, *s ? ", " : "", v, k);
		free(v);
		free(k);
		free(s);
		s = n;
	}
	return s;
}

void
ctl_show_stats(FILE *f, const json_t *answer)
{
	const json_t *queues = json_object_get(answer, "queues");
	struct kvlist l = { 0 };
	const char *key;
	json_t *v;

	if (json_is_object(queues) && json_object_size(queues) > 0)
		stats_queues(f, queues);
	json_object_foreach((json_t *)answer, key, v) {
		if (strcmp(key, "ok") == 0 || strcmp(key, "tag") == 0 ||
		    strcmp(key, "queues") == 0)
			continue;
		if (json_is_object(v))
			kv_add(&l, key, counters_text(v));
		else if (strcmp(key, "uptime") == 0 && json_is_number(v))
			kv_add(&l, key, xasprintf("%.1f s",
			    json_number_value(v)));
		else
			kv_add(&l, key, value_text(v));
	}
	if (l.n > 0)
		fputc('\n', f);
	kv_flush(f, &l);
}
