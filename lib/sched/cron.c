/*
 * cron.c — parse cron expressions, find their slots (see cron.h).
 *
 * An expression is five bit sets, one per field.  The search walks wall
 * time in the zone (civil arithmetic, no zone involved) from field to
 * field — a month not in the set skips to the next month, a day to the
 * next day, an hour to the next hour — and only a matching minute is
 * turned into an instant.  That mapping is monotone (tz.h), so the first
 * match whose instant is past the bound is the answer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "tz.h"

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

struct cron {
	uint64_t bits[F_COUNT]; /* bit v: value v matches */
	bool dom_star, dow_star;        /* the field starts with '*' */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr",
	"may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu",
	"fri", "sat", NULL };

static const struct field {
	const char *name;
	int lo, hi;
	const char *const *names;       /* names[i] is value lo + i */
} fields[F_COUNT] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, day_names },
};

static const struct macro {
	const char *name, *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* ---- parsing ------------------------------------------------------------ */

/* A number or (for month and day-of-week) a name at *p, into *v. */
static int
parse_value(const struct field *f, const char **p, int *v, char *err,
    size_t errlen)
{
	const char *s = *p;
	size_t n;
	int i;

	if (isdigit((unsigned char)*s)) {
		for (*v = 0; isdigit((unsigned char)*s); s++)
			if ((*v = *v * 10 + (*s - '0')) > 1000)
				break;
		if (*v < f->lo || *v > f->hi) {
			snprintf(err, errlen, "%s: %.*s is out of range %d-%d",
			    f->name, (int)strspn(*p, "0123456789"), *p, f->lo,
			    f->hi);
			return -EINVAL;
		}
		*p = s + strspn(s, "0123456789");
		return 0;
	}
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	for (i = 0; f->names != NULL && n == 3 && f->names[i] != NULL; i++)
		if (strncasecmp(s, f->names[i], 3) == 0) {
			*v = f->lo + i;
			*p = s + n;
			return 0;
		}
	if (n > 0)
		snprintf(err, errlen, "%s: unknown name \"%.*s\"%s", f->name,
		    (int)n, s, f->names == NULL ? " (numbers only)" :
		    f == &fields[F_MON] ? " (use jan-dec)" : " (use sun-sat)");
	else
		snprintf(err, errlen, "%s: expected a number%s, got \"%s\"",
		    f->name, f->names != NULL ? " or a name" : "", s);
	return -EINVAL;
}

/* One list item: '*', a value or a range, then optionally '/' step. */
static int
parse_item(const struct field *f, const char *item, uint64_t *bits,
    char *err, size_t errlen)
{
	const char *p = item;
	int lo = f->lo, hi = f->hi, step = 1, v, r;
	bool range = true;

	if (*p == '*') {
		p++;
	} else {
		if ((r = parse_value(f, &p, &lo, err, errlen)) != 0)
			return r;
		hi = lo;
		range = *p == '-';
		if (range && (p++, (r = parse_value(f, &p, &hi, err, errlen)))
		    != 0)
			return r;
		if (hi < lo) {
			snprintf(err, errlen, "%s: range %s is backwards",
			    f->name, item);
			return -EINVAL;
		}
	}
	if (*p == '/') {
		if (!range) {
			snprintf(err, errlen, "%s: a step needs * or a range "
			    "before it: \"%s\"", f->name, item);
			return -EINVAL;
		}
		p++;
		for (step = 0; isdigit((unsigned char)*p) && step <= 1000; p++)
			step = step * 10 + (*p - '0');
		if (step == 0 || step > 1000 || *p != '\0') {
			snprintf(err, errlen, "%s: bad step in \"%s\" (a "
			    "number from 1)", f->name, item);
			return -EINVAL;
		}
	}
	if (*p != '\0') {
		snprintf(err, errlen, "%s: unexpected \"%s\" in \"%s\"",
		    f->name, p, item);
		return -EINVAL;
	}
	for (v = lo; v <= hi; v += step)
		*bits |= 1ull << v;
	return 0;
}

/* A field: items separated by ','. */
static int
parse_field(const struct field *f, char *text, uint64_t *bits, char *err,
    size_t errlen)
{
	char *item, *next;
	int r;

	*bits = 0;
	for (item = text; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*item == '\0') {
			snprintf(err, errlen, "%s: empty list item", f->name);
			return -EINVAL;
		}
		if ((r = parse_item(f, item, bits, err, errlen)) != 0)
			return r;
	}
	return 0;
}

/* Split buf in place into at most F_COUNT + 1 fields; their number. */
static int
split(char *buf, char *field[F_COUNT + 1])
{
	int n = 0;
	char *p = buf;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return n;
		if (n == F_COUNT + 1)
			return n + 1;
		field[n++] = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
	}
}

static int
parse_fields(struct cron *c, char *buf, char *err, size_t errlen)
{
	char *field[F_COUNT + 1];
	int n = split(buf, field), i, r;

	if (n > F_COUNT) {
		snprintf(err, errlen, "%s fields, expected 5 (minute hour "
		    "day-of-month month day-of-week)", n > F_COUNT + 1 ?
		    "more than 6" : "6");
		return -EINVAL;
	}
	if (n < F_COUNT) {
		snprintf(err, errlen, "%d field%s, expected 5 (minute hour "
		    "day-of-month month day-of-week) or @hourly, @daily, "
		    "@weekly, @monthly, @yearly", n, n == 1 ? "" : "s");
		return -EINVAL;
	}
	for (i = 0; i < F_COUNT; i++)
		if ((r = parse_field(&fields[i], field[i], &c->bits[i], err,
		    errlen)) != 0)
			return r;
	c->dom_star = field[F_DOM][0] == '*';
	c->dow_star = field[F_DOW][0] == '*';
	if (c->bits[F_DOW] & (1ull << 7))       /* 7 is Sunday too */
		c->bits[F_DOW] = (c->bits[F_DOW] | 1) & 0x7f;
	return 0;
}

/* The expansion of an @ macro, or NULL (err filled). */
static const char *
macro_expr(const char *s, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < sizeof(macros) / sizeof(*macros); i++)
		if (strcasecmp(s, macros[i].name) == 0)
			return macros[i].expr;
	snprintf(err, errlen, "unknown \"%s\" (use @hourly, @daily, "
	    "@midnight, @weekly, @monthly or @yearly)", s);
	return NULL;
}

int
cron_parse(const char *expr, struct cron **out, char *err, size_t errlen)
{
	char buf[CRON_EXPR_MAX + 1];
	const char *s;
	struct cron *c;
	size_t n;
	int r;

	*out = NULL;
	s = expr == NULL ? "" : expr + strspn(expr, " \t");
	if ((n = strlen(s)) > CRON_EXPR_MAX) {
		snprintf(err, errlen, "longer than %d characters",
		    CRON_EXPR_MAX);
		return -EINVAL;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '@' && (s = macro_expr(buf, err, errlen)) == NULL)
		return -EINVAL;
	if (buf[0] == '@')
		snprintf(buf, sizeof(buf), "%s", s);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	if ((r = parse_fields(c, buf, err, errlen)) != 0) {
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

void
cron_free(struct cron *c)
{
	free(c);
}

/* ---- the search ---------------------------------------------------------- */

static bool
has(const struct cron *c, int f, int v)
{
	return (c->bits[f] >> v) & 1;
}

/* Does day y-m-d fire?  Vixie cron's rule (cron.h). */
static bool
day_ok(const struct cron *c, const struct tz_wall *w)
{
	int wd = tz_weekday(tz_days_from_civil(w->year, w->mon, w->day));
	bool dom = has(c, F_DOM, w->day), dow = has(c, F_DOW, wd);

	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/* Step w to the first minute of the next day, or the last minute of
 * the day before (dir < 0). */
static void
step_day(struct tz_wall *w, int dir)
{
	int64_t d = tz_days_from_civil(w->year, w->mon, w->day) + dir;

	tz_civil_from_days(d, &w->year, &w->mon, &w->day);
	w->hour = dir > 0 ? 0 : 23;
	w->min = dir > 0 ? 0 : 59;
}

/* Step w to the first minute of the next month (or last of the one
 * before). */
static void
step_month(struct tz_wall *w, int dir)
{
	w->mon += dir;
	if (w->mon > 12 || w->mon < 1) {
		w->year += dir;
		w->mon = dir > 0 ? 1 : 12;
	}
	w->day = dir > 0 ? 1 : tz_days_in_month(w->year, w->mon);
	w->hour = dir > 0 ? 0 : 23;
	w->min = dir > 0 ? 0 : 59;
}

/* Step w one hour (to its first minute, or last going back). */
static void
step_hour(struct tz_wall *w, int dir)
{
	w->hour += dir;
	if (w->hour > 23 || w->hour < 0)
		step_day(w, dir);
	else
		w->min = dir > 0 ? 0 : 59;
}

static void
step_minute(struct tz_wall *w, int dir)
{
	w->min += dir;
	if (w->min > 59 || w->min < 0)
		step_hour(w, dir);
}

/* Move w (sec 0) to the nearest matching minute in direction dir (1 or
 * -1), w itself included.  0, or -ENOENT past year limit. */
static int
find(const struct cron *c, struct tz_wall *w, int dir, int limit)
{
	for (;;) {
		if (dir > 0 ? w->year > limit : w->year < limit)
			return -ENOENT;
		if (!has(c, F_MON, w->mon))
			step_month(w, dir);
		else if (!day_ok(c, w))
			step_day(w, dir);
		else if (!has(c, F_HOUR, w->hour))
			step_hour(w, dir);
		else if (!has(c, F_MIN, w->min))
			step_minute(w, dir);
		else
			return 0;
	}
}

/* cron_next (dir 1: the first slot > t) or cron_prev (dir -1: the last
 * slot <= t) inside a tz scope. */
static int
search(const struct cron *c, int64_t t, int dir, int64_t *slot)
{
	struct tz_wall w;
	int64_t s;
	int limit, r;

	if ((r = tz_to_wall(t, &w, NULL)) != 0)
		return r;
	if (w.year < 1 || w.year > 1000000)
		return -EOVERFLOW;
	w.sec = 0;
	limit = w.year + dir * CRON_SEARCH_YEARS;
	for (;;) {
		if ((r = find(c, &w, dir, limit)) != 0)
			return r;
		s = tz_from_wall(&w);
		if (dir > 0 ? s > t : s <= t) {
			*slot = s;
			return 0;
		}
		step_minute(&w, dir);
	}
}

static int
search_in(const struct cron *c, const char *zone, int64_t t, int dir,
    int64_t *slot)
{
	struct tz_scope sc;
	int r;

	if ((r = tz_enter(&sc, zone)) != 0)
		return r;
	r = search(c, t, dir, slot);
	tz_leave(&sc);
	return r;
}

int
cron_next(const struct cron *c, const char *zone, int64_t after,
    int64_t *slot)
{
	return search_in(c, zone, after, 1, slot);
}

int
cron_prev(const struct cron *c, const char *zone, int64_t before,
    int64_t *slot)
{
	return search_in(c, zone, before, -1, slot);
}

/* Walk back from now, then put the slots in time order. */
int
cron_catch_up(const struct cron *c, const char *zone, int64_t last,
    int64_t now, size_t max, int64_t *slots, size_t *n, bool *more)
{
	struct tz_scope sc;
	int64_t t = now, s, tmp;
	size_t i;
	int r;

	*n = 0;
	if (more != NULL)
		*more = false;
	if (max > CRON_CATCH_UP_MAX)
		max = CRON_CATCH_UP_MAX;
	if ((r = tz_enter(&sc, zone)) != 0)
		return r;
	while (t > last && (r = search(c, t, -1, &s)) == 0 && s > last) {
		if (*n == max) {
			if (more != NULL)
				*more = true;
			break;
		}
		slots[(*n)++] = s;
		t = s - 1;
	}
	tz_leave(&sc);
	if (r != 0 && r != -ENOENT)
		return r;
	for (i = 0; i < *n / 2; i++) {
		tmp = slots[i];
		slots[i] = slots[*n - 1 - i];
		slots[*n - 1 - i] = tmp;
	}
	return 0;
}
