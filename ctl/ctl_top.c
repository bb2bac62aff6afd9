/*
 * ctl_top.c — jobctl top: a live, full-screen view of jobd (see
 * ctl_watch.h).
 *
 * Two connections: one watches (every job change, for rates, run times and
 * the latest failures), the other asks `stats` once a second (queue
 * counts, totals).  The screen is redrawn after each stats answer.  The
 * terminal goes to raw mode on the alternate screen and is restored on
 * every way out (q, a signal, jobd going away, an error).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_call.h"
#include "jc.h"
#include "ctl_show.h"
#include "ctl_watch.h"
#include "jc.h"
#include "log.h"

#define ENDS_MAX   65536        /* job ends remembered (a ring) */
#define WINDOW     60.0         /* seconds of ends for p50/p99 */
#define RATE_SPAN  5.0          /* seconds of ends for jobs/s */
#define FAILS      8            /* latest failures shown */
#define TICK       1.0          /* seconds between redraws */

struct end {
	double t, dur;          /* when it ended, its run time (< 0: none) */
	char queue[72];
};

struct fail {
	double t;
	long long id;
	char queue[72], kind[16], state[16], error[160];
};

struct top {
	struct ctl *ctl;
	struct jc_conn *stats;
	json_t *last;           /* the latest stats answer */
	struct end *ends;
	size_t nends, head;     /* ring: head is the next slot */
	struct fail fails[FAILS];
	size_t nfails;
	struct termios saved;
	bool raw;
	int width;
};

/* ---- the terminal -------------------------------------------------------- */

static void
term_enter(struct top *t)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &t->saved) < 0)
		return;
	raw = t->saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return;
	t->raw = true;
	fputs("\033[?1049h\033[?25l", stdout);       /* alternate screen */
	fflush(stdout);
}

static void
term_leave(struct top *t)
{
	if (!t->raw)
		return;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->raw = false;
}

/* ---- what the events say --------------------------------------------------- */

static double
num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static void
note_end(struct top *t, const json_t *job, const char *state)
{
	struct end *e = &t->ends[t->head];
	struct fail *f;
	double start = num(job, "started_at");

	e->t = num(job, "finished_at");
	e->dur = start > 0 ? e->t - start : -1;
	snprintf(e->queue, sizeof(e->queue), "%s", str(job, "queue"));
	t->head = (t->head + 1) % ENDS_MAX;
	if (t->nends < ENDS_MAX)
		t->nends++;
	if (strcmp(state, "failed") != 0 && strcmp(state, "timed_out") != 0)
		return;
	memmove(&t->fails[1], &t->fails[0], (FAILS - 1) * sizeof(t->fails[0]));
	f = &t->fails[0];
	f->t = e->t;
	f->id = (long long)json_integer_value(json_object_get(job, "id"));
	snprintf(f->queue, sizeof(f->queue), "%s", e->queue);
	snprintf(f->kind, sizeof(f->kind), "%s", str(job, "kind"));
	snprintf(f->state, sizeof(f->state), "%s", state);
	snprintf(f->error, sizeof(f->error), "%s", str(job, "error"));
	if (t->nfails < FAILS)
		t->nfails++;
}

static void
on_line(struct top *t, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL), *job;
	const char *state;

	if (ev == NULL)
		return;
	job = json_object_get(ev, "job");
	state = str(job, "state");
	if (job != NULL && strcmp(state, "queued") != 0 &&
	    strcmp(state, "running") != 0)
		note_end(t, job, state);
	json_decref(ev);
}

/* Every event line waiting on the watch connection. */
static int
drain(struct top *t)
{
	size_t len;
	char *line;
	int rc;

	while ((rc = jc_recv(t->ctl->conn, 0, &line, &len)) == 0)
		on_line(t, line, len);
	return rc == -ETIMEDOUT ? 0 : rc;
}

/* ---- figures ---------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Jobs/s over RATE_SPAN and the p50/p99 run time over WINDOW, for queue q
 * (NULL: all). */
static void
figures(const struct top *t, const char *q, double now, double *rate,
    double *p50, double *p99)
{
	double *d = malloc(t->nends * sizeof(*d) + 1);
	size_t i, n = 0, recent = 0;

	*rate = *p50 = *p99 = -1;
	for (i = 0; d != NULL && i < t->nends; i++) {
		const struct end *e = &t->ends[i];

		if (q != NULL && strcmp(e->queue, q) != 0)
			continue;
		recent += now - e->t <= RATE_SPAN;
		if (now - e->t <= WINDOW && e->dur >= 0)
			d[n++] = e->dur;
	}
	*rate = (double)recent / RATE_SPAN;
	if (n > 0) {
		qsort(d, n, sizeof(*d), cmp_double);
		*p50 = d[(n - 1) / 2];
		*p99 = d[(size_t)((double)(n - 1) * 0.99)];
	}
	free(d);
}

static void
dur_text(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%.1fms", s * 1000);
	else
		snprintf(buf, len, "%.2fs", s);
}

/* A field of stats' queue object as a column: a number, yes/no, or "-"
 * when this jobd does not report it. */
static void
field_text(const json_t *q, const char *k, char *buf, size_t len)
{
	const json_t *v = json_object_get(q, k);

	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, len, "-");
}

/* ---- the screen ------------------------------------------------------------- */

/* One line, clipped to the terminal, cleared to its end. */
static void __attribute__((format(printf, 2, 3)))
row(const struct top *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int w = t->width > 0 && t->width < (int)sizeof(buf) ? t->width :
	    (int)sizeof(buf) - 1;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%.*s\033[K\r\n", w, buf);
}

static void
draw_queues(const struct top *t, double now)
{
	const json_t *qs = json_object_get(t->last, "queues"), *q;
	char qd[16], ru[16], sc[16], pa[16], wo[16], a[16], b[16];
	double rate, p50, p99;
	const char *name;

	row(t, "\033[7m%-20s %8s %8s %9s %6s %8s %8s %9s %9s\033[0m", "QUEUE",
	    "QUEUED", "RUNNING", "SCHEDULED", "PAUSED", "WORKERS", "JOBS/S",
	    "P50", "P99");
	json_object_foreach((json_t *)qs, name, q) {
		field_text(q, "queued", qd, sizeof(qd));
		field_text(q, "running", ru, sizeof(ru));
		field_text(q, "scheduled", sc, sizeof(sc));
		field_text(q, "paused", pa, sizeof(pa));
		field_text(q, "workers", wo, sizeof(wo));
		figures(t, name, now, &rate, &p50, &p99);
		dur_text(p50, a, sizeof(a));
		dur_text(p99, b, sizeof(b));
		row(t, "%-20.20s %8s %8s %9s %6s %8s %8.1f %9s %9s", name, qd,
		    ru, sc, pa, wo, rate, a, b);
	}
	figures(t, NULL, now, &rate, &p50, &p99);
	dur_text(p50, a, sizeof(a));
	dur_text(p99, b, sizeof(b));
	row(t, "\033[1m%-20s %8s %8s %9s %6s %8s %8.1f %9s %9s\033[0m", "all",
	    "", "", "", "", "", rate, a, b);
}

static void
draw_failures(const struct top *t)
{
	char when[32];
	size_t i;

	row(t, "%s", "");
	row(t, "\033[7m%-*s\033[0m", t->width > 0 ? t->width : 80,
	    "LATEST FAILURES");
	if (t->nfails == 0)
		row(t, "  none since jobctl top started");
	for (i = 0; i < t->nfails; i++) {
		const struct fail *f = &t->fails[i];
		time_t s = (time_t)f->t;
		struct tm tm;
		char *err = ctl_clean(f->error);

		localtime_r(&s, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		row(t, "  %s  #%-7lld %-14.14s %-6s %-9s %s", when, f->id,
		    f->queue, f->kind, f->state, err != NULL ? err : "");
		free(err);
	}
}

static void
draw(struct top *t)
{
	const json_t *j = json_object_get(t->last, "jobs");
	double now = ctl_now();
	time_t s = (time_t)now;
	struct tm tm;
	char clock[16];

	t->width = ctl_term_width();
	localtime_r(&s, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	fputs("\033[H", stdout);
	row(t, "\033[1mjobd %s\033[0m  up %.0fs  %lld clients  %s   "
	    "(q: quit)", str(t->last, "version"), num(t->last, "uptime"),
	    (long long)num(t->last, "connections"), clock);
	row(t, "jobs: %lld submitted, %lld succeeded, %lld failed, %lld "
	    "timed out, %lld cancelled", (long long)num(j, "submitted"),
	    (long long)num(j, "succeeded"), (long long)num(j, "failed"),
	    (long long)num(j, "timed_out"), (long long)num(j, "cancelled"));
	row(t, "%s", "");
	draw_queues(t, now);
	draw_failures(t);
	fputs("\033[J", stdout);        /* below: nothing */
	fflush(stdout);
}

/* ---- the loop ------------------------------------------------------------------ */

static int
ask_stats(struct top *t)
{
	static const char req[] = "{\"op\":\"stats\"}";
	size_t len;
	char *line;
	json_t *ans;
	int rc;

	if ((rc = jc_send(t->stats, req, sizeof(req) - 1, 5)) < 0 ||
	    (rc = jc_recv(t->stats, 5, &line, &len)) < 0)
		return rc;
	if ((ans = json_loadb(line, len, 0, NULL)) == NULL)
		return -EBADMSG;
	json_decref(t->last);
	t->last = ans;
	return 0;
}

/* 1: the user quit; 0: go on; negative: an error. */
static int
keys(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1)
		if (c == 'q' || c == 'Q' || c == 3 /* ^C in raw mode */)
			return 1;
	return 0;
}

static int
top_loop(struct top *t)
{
	double next = ctl_now();
	struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = jc_fd(t->ctl->conn), .events = POLLIN } };
	int rc, ms;

	while (!ctl_watch_stop) {
		if (ctl_now() >= next) {
			if ((rc = ask_stats(t)) < 0)
				return rc;
			draw(t);
			next += TICK;
		}
		ms = (int)((next - ctl_now()) * 1000);
		if (poll(p, 2, ms > 0 ? ms : 0) < 0 && errno != EINTR)
			return -errno;
		if ((p[0].revents & POLLIN) && keys())
			return 0;
		if ((p[1].revents & (POLLIN | POLLHUP)) && (rc = drain(t)) < 0)
			return rc;
	}
	return 0;
}

int
ctl_top(struct ctl *ctl)
{
	struct top t = { .ctl = ctl };
	int rc;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		ctl_say("top needs a terminal; try jobctl watch");
		return CTL_USAGE;
	}
	ctl_watch_signals();
	if ((rc = ctl_watch_start(ctl, NULL, 0, 0)) != CTL_CONTINUE)
		return rc;
	if ((t.ends = calloc(ENDS_MAX, sizeof(*t.ends))) == NULL)
		fatalx("out of memory");
	if ((rc = jc_open(ctl->socket, &t.stats)) < 0) {
		ctl_say("connecting to jobd at %s: %s", ctl->socket,
		    strerror(-rc));
		free(t.ends);
		return CTL_CONNECT;
	}
	term_enter(&t);
	rc = top_loop(&t);
	term_leave(&t);
	if (rc < 0)
		ctl_say("jobd: %s", rc == -EPIPE ? "closed the connection" :
		    strerror(-rc));
	json_decref(t.last);
	jc_close(t.stats);
	free(t.ends);
	return rc < 0 ? CTL_CONNECT : CTL_OK;
}
