/*
 * metrics.c — counters, histograms and the Prometheus text page (see
 * metrics.h).
 *
 * The page is written family by family (the format wants every sample of a
 * family together, after its HELP and TYPE lines), each family walking the
 * queues the caller shows.  Series of a (queue, kind) pair appear once the
 * queue has seen a job of that kind: a page of 100 queues stays a few
 * thousand lines.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kind.h"
#include "metrics.h"
#include "store.h"

#define MET_KINDS 8             /* slots for the kinds table (3 today) */
#define ENDED_FIRST STORE_SUCCEEDED

struct met_queue {
	char *name;
	bool seen[MET_KINDS];   /* a job of this kind came: show its series */
	uint64_t submitted[MET_KINDS];
	uint64_t ended[MET_KINDS][STORE_NSTATES];
	struct hist duration[MET_KINDS];
	struct hist wait;
	SLIST_ENTRY(met_queue) link;
};

struct met {
	SLIST_HEAD(, met_queue) queues;
};

/* ---- counters ------------------------------------------------------------ */

struct met *
met_new(void)
{
	struct met *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	SLIST_INIT(&m->queues);
	return m;
}

void
met_free(struct met *m)
{
	struct met_queue *mq;

	if (m == NULL)
		return;
	while ((mq = SLIST_FIRST(&m->queues)) != NULL) {
		SLIST_REMOVE_HEAD(&m->queues, link);
		free(mq->name);
		free(mq);
	}
	free(m);
}

struct met_queue *
met_queue_find(const struct met *m, const char *name)
{
	struct met_queue *mq;

	SLIST_FOREACH(mq, &m->queues, link)
		if (strcmp(mq->name, name) == 0)
			return mq;
	return NULL;
}

struct met_queue *
met_queue(struct met *m, const char *name)
{
	struct met_queue *mq;
	size_t k;

	if ((mq = met_queue_find(m, name)) != NULL)
		return mq;
	if ((mq = calloc(1, sizeof(*mq))) == NULL)
		return NULL;
	if ((mq->name = strdup(name)) == NULL) {
		free(mq);
		return NULL;
	}
	for (k = 0; k < MET_KINDS; k++)
		hist_init(&mq->duration[k], hist_le_job, hist_le_job_n);
	hist_init(&mq->wait, hist_le_job, hist_le_job_n);
	SLIST_INSERT_HEAD(&m->queues, mq, link);
	return mq;
}

/* The kind's slot: its place in the kinds table (a few compares). */
static size_t
kind_slot(const struct kind *k)
{
	const struct kind *t;
	size_t i;

	for (i = 0; i < MET_KINDS - 1 && (t = kind_at(i)) != NULL; i++)
		if (t == k)
			return i;
	return MET_KINDS - 1;
}

void
met_submitted(struct met_queue *mq, const struct kind *k)
{
	size_t i;

	if (mq == NULL)
		return;
	i = kind_slot(k);
	mq->seen[i] = true;
	mq->submitted[i]++;
}

void
met_started(struct met_queue *mq, double wait)
{
	if (mq != NULL)
		hist_add(&mq->wait, wait > 0 ? wait : 0);
}

void
met_ended(struct met_queue *mq, const struct kind *k, int state,
    double duration)
{
	size_t i;

	if (mq == NULL || state < 0 || state >= STORE_NSTATES)
		return;
	i = kind_slot(k);
	mq->seen[i] = true;
	mq->ended[i][state]++;
	if (duration >= 0)
		hist_add(&mq->duration[i], duration);
}

/* ---- the output buffer --------------------------------------------------- */

void
met_buf_free(struct met_buf *b)
{
	free(b->p);
	*b = (struct met_buf){ 0 };
}

static bool
buf_room(struct met_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	for (cap = b->cap ? b->cap : 16384; cap < b->len + more + 1; cap *= 2)
		;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void
buf_add(struct met_buf *b, const char *s, size_t n)
{
	if (!buf_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct met_buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct met_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!buf_room(b, 64))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (!buf_room(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
met_escape(struct met_buf *b, const char *s)
{
	const char *p;

	if (strpbrk(s, "\\\"\n") == NULL) {        /* the usual case */
		buf_str(b, s);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '\\')
			buf_add(b, "\\\\", 2);
		else if (*p == '"')
			buf_add(b, "\\\"", 2);
		else if (*p == '\n')
			buf_add(b, "\\n", 2);
		else
			buf_add(b, p, 1);
	}
}

/* An unsigned integer, without printf (a page has thousands). */
static void
buf_u64(struct met_buf *b, uint64_t v)
{
	char d[24], *p = d + sizeof(d);

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

/* A number as the format writes it: integers exactly, +Inf, NaN. */
static void
buf_num(struct met_buf *b, double v)
{
	if (isnan(v))
		buf_str(b, "NaN");
	else if (isinf(v))
		buf_str(b, v > 0 ? "+Inf" : "-Inf");
	else if (v >= 0 && v == (double)(uint64_t)v && v < 1e15)
		buf_u64(b, (uint64_t)v);
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		buf_printf(b, "%" PRId64, (int64_t)v);
	else
		buf_printf(b, "%.15g", v);
}

/* ---- samples ------------------------------------------------------------- */

/* Labels of one series: up to three name/value pairs, NULL-ended. */
struct labels {
	const char *k[4], *v[4];
};

static void
family(struct met_buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels[,extra="ev"]} */
static void
series(struct met_buf *b, const char *name, const struct labels *l,
    const char *ek, const char *ev)
{
	size_t i;
	bool any = false;

	buf_str(b, name);
	for (i = 0; l != NULL && l->k[i] != NULL; i++) {
		buf_str(b, any ? ",": "{");
		buf_str(b, l->k[i]);
		buf_str(b, "=\"");
		met_escape(b, l->v[i]);
		buf_str(b, "\"");
		any = true;
	}
	if (ek != NULL) {
		buf_str(b, any ? "," : "{");
		buf_str(b, ek);
		buf_str(b, "=\"");
		buf_str(b, ev);
		buf_str(b, "\"");
		any = true;
	}
	if (any)
		buf_str(b, "}");
}

static void
sample(struct met_buf *b, const char *name, const struct labels *l,
    double v)
{
	series(b, name, l, NULL, NULL);
	buf_str(b, " ");
	buf_num(b, v);
	buf_str(b, "\n");
}

/* The bounds of a bucket set as text, made once per set (loop thread). */
struct le_text {
	const double *le;
	char s[HIST_MAX + 1][24];
	size_t len[HIST_MAX + 1];
};

static const struct le_text *
le_text(const struct hist *h)
{
	static struct le_text cache[8];
	struct le_text *t;
	size_t i;

	for (i = 0; i < 8 && cache[i].le != NULL; i++)
		if (cache[i].le == h->le)
			return &cache[i];
	t = &cache[i < 8 ? i : 7];
	t->le = h->le;
	for (i = 0; i < h->n; i++)
		t->len[i] = (size_t)snprintf(t->s[i], sizeof(t->s[i]), "%.9g",
		    h->le[i]);
	t->len[h->n] = (size_t)snprintf(t->s[h->n], sizeof(t->s[h->n]),
	    "+Inf");
	return t;
}

/* The _bucket (cumulative), _sum and _count lines of histogram h.  The
 * series name and labels are written once and copied for each bucket: a
 * page of 100 queues has thousands of bucket lines. */
static void
histogram(struct met_buf *b, const char *name, const struct labels *l,
    const struct hist *h)
{
	const struct le_text *t = le_text(h);
	struct met_buf pre = { 0 };
	uint64_t cum = 0;
	char n[128];
	size_t i;

	snprintf(n, sizeof(n), "%s_bucket", name);
	series(&pre, n, l, "le", "");   /* ...,le=""} */
	if (pre.oom || pre.len < 2) {
		b->oom = true;
		met_buf_free(&pre);
		return;
	}
	pre.len -= 2;                   /* keep: ...,le=" */
	for (i = 0; i <= h->n; i++) {
		cum += h->count[i];
		buf_add(b, pre.p, pre.len);
		buf_add(b, t->s[i], t->len[i]);
		buf_add(b, "\"} ", 3);
		buf_u64(b, cum);
		buf_add(b, "\n", 1);
	}
	met_buf_free(&pre);
	snprintf(n, sizeof(n), "%s_sum", name);
	sample(b, n, l, h->sum);
	snprintf(n, sizeof(n), "%s_count", name);
	series(b, n, l, NULL, NULL);
	buf_str(b, " ");
	buf_u64(b, h->total);
	buf_str(b, "\n");
}

/* ---- the families -------------------------------------------------------- */

/* Call fn for every (shown queue, seen kind) pair. */
typedef void (*pair_fn)(struct met_buf *b, const struct met_queue *mq,
    size_t k, struct labels *l);

static void
each_pair(const struct met *m, const struct met_view *v, struct met_buf *b,
    pair_fn fn)
{
	const struct met_queue *mq;
	const struct kind *kd;
	struct labels l = { .k = { "queue", "kind", NULL } };
	size_t i, k;

	for (i = 0; i < v->nqueues; i++) {
		if ((mq = met_queue_find(m, v->queues[i].name)) == NULL)
			continue;
		for (k = 0; k < MET_KINDS; k++) {
			if (!mq->seen[k])
				continue;
			kd = kind_at(k);
			l.v[0] = mq->name;
			l.v[1] = kd != NULL ? kd->name : "other";
			fn(b, mq, k, &l);
		}
	}
}

static void
pair_submitted(struct met_buf *b, const struct met_queue *mq, size_t k,
    struct labels *l)
{
	sample(b, "jobd_jobs_submitted_total", l, (double)mq->submitted[k]);
}

static void
pair_ended(struct met_buf *b, const struct met_queue *mq, size_t k,
    struct labels *l)
{
	int s;

	l->k[2] = "state";
	for (s = ENDED_FIRST; s < STORE_NSTATES; s++) {
		l->v[2] = store_state_name(s);
		sample(b, "jobd_jobs_ended_total", l, (double)mq->ended[k][s]);
	}
	l->k[2] = NULL;
}

static void
pair_duration(struct met_buf *b, const struct met_queue *mq, size_t k,
    struct labels *l)
{
	histogram(b, "jobd_job_duration_seconds", l, &mq->duration[k]);
}

static void
write_jobs(const struct met *m, const struct met_view *v, struct met_buf *b)
{
	family(b, "jobd_jobs_submitted_total", "counter",
	    "Jobs accepted (their insert committed).");
	each_pair(m, v, b, pair_submitted);
	family(b, "jobd_jobs_ended_total", "counter",
	    "Jobs ended, by end state.");
	each_pair(m, v, b, pair_ended);
	family(b, "jobd_job_duration_seconds", "histogram",
	    "Run time of ended jobs: last start to end.");
	each_pair(m, v, b, pair_duration);
}

static void
write_queues(const struct met *m, const struct met_view *v,
    struct met_buf *b)
{
	const struct met_queue *mq;
	struct labels l = { .k = { "queue", "state", NULL } };
	size_t i;

	family(b, "jobd_queue_jobs", "gauge",
	    "Jobs of the queue not ended, by state.");
	for (i = 0; i < v->nqueues; i++) {
		l.v[0] = v->queues[i].name;
		l.v[1] = "queued";
		sample(b, "jobd_queue_jobs", &l, (double)v->queues[i].queued);
		l.v[1] = "running";
		sample(b, "jobd_queue_jobs", &l, (double)v->queues[i].running);
	}
	l.k[1] = NULL;
	family(b, "jobd_queue_workers", "gauge",
	    "Worker bound of the queue (jobs it may run at once).");
	for (i = 0; i < v->nqueues; i++) {
		l.v[0] = v->queues[i].name;
		sample(b, "jobd_queue_workers", &l, v->queues[i].workers);
	}
	family(b, "jobd_queue_wait_seconds", "histogram",
	    "Time from ready (queued) to started.");
	for (i = 0; i < v->nqueues; i++) {
		if ((mq = met_queue_find(m, v->queues[i].name)) == NULL)
			continue;
		l.v[0] = mq->name;
		histogram(b, "jobd_queue_wait_seconds", &l, &mq->wait);
	}
}

static void
write_daemon(const struct met_view *v, struct met_buf *b)
{
	struct labels l = { .k = { "version", NULL } };

	if (v->commit_seconds != NULL) {
		family(b, "jobd_store_commit_seconds", "histogram",
		    "Time of one store transaction, begin to commit.");
		histogram(b, "jobd_store_commit_seconds", NULL,
		    v->commit_seconds);
	}
	if (v->commit_jobs != NULL) {
		family(b, "jobd_store_commit_jobs", "histogram",
		    "Writes (job rows) in one store transaction.");
		histogram(b, "jobd_store_commit_jobs", NULL, v->commit_jobs);
	}
	family(b, "jobd_connections", "gauge", "Clients on the socket now.");
	sample(b, "jobd_connections", NULL, (double)v->connections);
	family(b, "jobd_watchers", "gauge",
	    "Watch ops and /events clients now.");
	sample(b, "jobd_watchers", NULL, (double)v->watchers);
	family(b, "jobd_watch_dropped_total", "counter",
	    "Events dropped for watchers that read too slowly.");
	sample(b, "jobd_watch_dropped_total", NULL, (double)v->watch_dropped);
	family(b, "jobd_build_info", "gauge", "jobd's version; always 1.");
	l.v[0] = JOBD_VERSION;
	sample(b, "jobd_build_info", &l, 1);
}

/* ---- process_* ----------------------------------------------------------- */

static size_t
open_fds(void)
{
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n > 0 ? n - 1 : 0;       /* the directory's own fd */
}

/* utime, stime (ticks), vsize (bytes), rss (pages) of /proc/self/stat. */
static int
proc_stat(double *cpu, double *vsize, double *rss)
{
	unsigned long ut, st, vs;
	long rs, tick = sysconf(_SC_CLK_TCK);
	char buf[1024], *p;
	FILE *f;
	size_t n;

	if ((f = fopen("/proc/self/stat", "r")) == NULL)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the
	 * last ')'; then fields 3.. follow. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
	    "%*d %*d %*d %*d %*u %lu %ld", &ut, &st, &vs, &rs) != 4)
		return -EINVAL;
	*cpu = (double)(ut + st) / (double)(tick > 0 ? tick : 100);
	*vsize = (double)vs;
	*rss = (double)rs * (double)sysconf(_SC_PAGESIZE);
	return 0;
}

static void
write_process(const struct met_view *v, struct met_buf *b)
{
	double cpu, vsize, rss;
	struct rlimit rl;

	if (proc_stat(&cpu, &vsize, &rss) == 0) {
		family(b, "process_cpu_seconds_total", "counter",
		    "User and system CPU time spent in seconds.");
		sample(b, "process_cpu_seconds_total", NULL, cpu);
		family(b, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.");
		sample(b, "process_virtual_memory_bytes", NULL, vsize);
		family(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
		sample(b, "process_resident_memory_bytes", NULL, rss);
	}
	family(b, "process_open_fds", "gauge",
	    "Number of open file descriptors.");
	sample(b, "process_open_fds", NULL, (double)open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		family(b, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		sample(b, "process_max_fds", NULL, rl.rlim_cur ==
		    RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	}
	family(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.");
	sample(b, "process_start_time_seconds", NULL, v->start_time);
}

int
met_write(const struct met *m, const struct met_view *v, struct met_buf *b)
{
	write_jobs(m, v, b);
	write_queues(m, v, b);
	write_daemon(v, b);
	write_process(v, b);
	return b->oom ? -ENOMEM : 0;
}
