/*
 * store.c — the store's front: writer thread, group commit, ids and
 * callbacks, the same for every backend (see store.h, store_backend.h).
 *
 * A write travels: loop thread -> `outbox` (loop thread only) -> at the end
 * of that loop pass, the whole outbox onto `pending` (one lock, one wake-up
 * per pass, not per write) -> the writer takes a batch off pending, merges
 * each start with its job's end in the same batch (store_merge.c), applies
 * it in one transaction with mtx released ->
 * appends it to `done` (under mtx), writing the eventfd if done was empty
 * -> the loop's event reads the eventfd, moves done onto `ready` (loop
 * thread only) and calls the callbacks, always popping ready's head: a
 * callback that re-enters delivery (store_flush from one is forbidden, but
 * a nested event is not) cannot overtake an earlier write.
 * No lost wake-up: the loop reads the eventfd *before* taking done, so a
 * batch appended after the take finds done empty and writes it again.
 * Ids: the loop thread hands them out from blocks the backend reserved
 * (reserve_ids, STORE_ID_BLOCK at a time; see "Ids" in store.h).
 * A write is a struct store_req: the front's bookkeeping (link, callback,
 * status, rows) around the struct store_write the backend is shown.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hist.h"
#include "log.h"
#include "store.h"
#include "store_backend.h"
#include "store_front.h"


/* Ids handed out on the loop thread: [next, end) is reserved and unused. */
struct store_ids {
	int64_t next;
	int64_t end;
};

/* The backends jobd knows, by the name store_opts.backend (and the config
 * key `store`) gives.  ops NULL would be: named, not built. */
static const struct {
	const char *name;
	const struct store_ops *ops;
} store_backends[] = {
	{ "sqlite", &store_sqlite_ops },
	{ "postgresql", &store_pg_ops },
};
#define STORE_NBACKENDS (sizeof(store_backends) / sizeof(store_backends[0]))

struct store {
	const struct store_ops *ops;
	store_deps_fn deps_fn;          /* store_deps_hook */
	void *deps_arg;
	struct store_backend *b;
	size_t batch_max;
	store_rerun_fn rerun;           /* store_recover's rule, or NULL */
	void *rerun_arg;
	double horizon;                 /* store_recover_horizon; 0: none */

	pthread_mutex_t mtx;            /* guards the fields down to stats */
	pthread_cond_t wake;            /* pending non-empty or stopping */
	pthread_cond_t progress;        /* a batch completed */
	struct wlist pending;
	struct wlist done;
	bool stopping;
	bool writer_idle;               /* waiting on wake */
	uint64_t nsubmitted;
	uint64_t ncompleted;
	struct store_stats stats;
	struct hist commit_s;           /* seconds per transaction */
	struct hist commit_rows;        /* rows per transaction */

	pthread_t writer;               /* loop thread only from here on */
	bool writer_started;
	int efd;                        /* -1 without an event_base */
	struct event *ev;
	struct wlist outbox;            /* submitted in this loop pass */
	size_t noutbox;
	struct event *hand_ev;          /* hands outbox over, once a pass */
	struct wlist ready;
	bool closing;
	struct store_ids ids[2];        /* by enum store_idkind */
	char *path;                     /* opts.path, for messages */
	int fault;                      /* errno of the failing run, or 0 */
	struct store_req **rarr;        /* the writer's: a batch as arrays */
	const struct store_write **warr; /* for apply_batch */
	size_t warr_cap;
	uint64_t nfaults;               /* writes failed in that run */
};

/* Give the writer every write submitted since the last hand-off: one
 * lock and at most one wake-up for a loop pass's writes, not one each. */
static void
hand_over(struct store *st)
{
	if (st->noutbox == 0)
		return;
	pthread_mutex_lock(&st->mtx);
	STAILQ_CONCAT(&st->pending, &st->outbox);
	st->nsubmitted += st->noutbox;
	st->stats.submitted += st->noutbox;
	st->noutbox = 0;
	if (st->writer_idle) {
		st->writer_idle = false;
		pthread_cond_signal(&st->wake);
	}
	pthread_mutex_unlock(&st->mtx);
}

static void
on_hand(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hand_over(arg);
}

/* ---- the writer thread -------------------------------------------------- */

/* Move up to batch_max rows (at least one write) from pending to batch.
 * Called with mtx held. */
static size_t
take_batch(struct store *st, struct wlist *batch)
{
	struct store_req *r;
	size_t rows = 0;

	STAILQ_INIT(batch);
	while ((r = STAILQ_FIRST(&st->pending)) != NULL) {
		if (rows > 0 && rows + r->rows > st->batch_max)
			break;
		STAILQ_REMOVE_HEAD(&st->pending, link);
		STAILQ_INSERT_TAIL(batch, r, link);
		rows += r->rows;
	}
	return rows;
}

static void
write_fail(struct store_req *r, int err)
{
	r->status = err;
	store_chg_clear(&r->chg);       /* undone with the write */
	free(r->errmsg);
	r->errmsg = strdup(store_errmsg());
}

/* The transaction failed: every write of the batch fails with err, except
 * those that already failed on their own (they keep their reason). */
static void
batch_fail(struct wlist *batch, int err)
{
	struct store_req *r;

	STAILQ_FOREACH(r, batch, link)
		if (r->status == 0)
			write_fail(r, err);
}

/* The merged write of r (an end with its start, store_merge.c) failed on
 * its own: apply the two alone, so each gets its own outcome.  Returns the
 * end's. */
static int
unmerge(struct store *st, struct store_req *r, bool *lost)
{
	struct store_req *s = r->start;
	int rc;

	r->start = NULL;
	s->absorbed = false;
	r->w.u.end.started_at = 0;
	if ((rc = st->ops->apply(st->b, &s->w, lost)) < 0) {
		if (*lost)
			return rc;
		write_fail(s, rc);
	}
	return st->ops->apply(st->b, &r->w, lost);
}

/* The merges that stayed merged and went through. */
static size_t
merged_ok(const struct wlist *batch)
{
	const struct store_req *r;
	size_t n = 0;

	STAILQ_FOREACH(r, batch, link)
		n += r->start != NULL && r->status == 0;
	return n;
}

/* apply_batch's report of write i failing alone. */
static void
batch_failed(void *ctx, size_t i, int err)
{
	struct store_req **reqs = ctx;

	write_fail(reqs[i], err);
}

/* The batch as the array apply_batch takes: st->warr, grown as needed. */
static int
batch_apply_whole(struct store *st, struct wlist *batch)
{
	struct store_req *r, **nr;
	const struct store_write **nw;
	size_t n = 0;

	STAILQ_FOREACH(r, batch, link)
		n++;
	if (n > st->warr_cap) {
		if ((nr = realloc(st->rarr, n * sizeof(*nr))) == NULL)
			return store_seterr(-ENOMEM, "store: out of memory");
		st->rarr = nr;
		if ((nw = realloc(st->warr, n * sizeof(*nw))) == NULL)
			return store_seterr(-ENOMEM, "store: out of memory");
		st->warr = nw;
		st->warr_cap = n;
	}
	n = 0;
	STAILQ_FOREACH(r, batch, link) {
		st->rarr[n] = r;
		st->warr[n++] = &r->w;
	}
	return st->ops->apply_batch(st->b, st->warr, n, batch_failed,
	    st->rarr);
}

/* Apply batch in one transaction.  Returns true if it committed. */
static bool
run_batch(struct store *st, struct wlist *batch)
{
	const struct store_ops *ops = st->ops;
	struct store_req *r;
	bool lost;
	int rc;

	if ((rc = ops->begin(st->b)) < 0)
		goto fail;
	if (ops->apply_batch != NULL) {
		if ((rc = batch_apply_whole(st, batch)) < 0)
			goto fail;
		goto commit;
	}
	STAILQ_FOREACH(r, batch, link) {
		if (r->absorbed)
			continue;               /* applied with its end */
		lost = false;
		if ((rc = ops->apply(st->b, &r->w, &lost)) == 0)
			continue;
		if (lost)
			goto fail;
		if (r->start != NULL && (rc = unmerge(st, r, &lost)) == 0)
			continue;
		if (lost)
			goto fail;
		write_fail(r, rc);
	}
commit:
	if ((rc = ops->commit(st->b)) == 0)
		return true;
fail:
	ops->rollback(st->b);
	batch_fail(batch, rc);
	return false;
}

/* Hand a completed batch to the loop thread.  Called with mtx held. */
static void
finish_batch(struct store *st, struct wlist *batch, size_t rows, bool ok)
{
	struct store_req *r;
	uint64_t one = 1;
	bool was_empty = STAILQ_EMPTY(&st->done);

	STAILQ_FOREACH(r, batch, link) {
		st->ncompleted++;
		if (r->status == 0)
			st->stats.committed++;
		else
			st->stats.failed++;
	}
	if (ok)
		st->stats.transactions++;
	else
		st->stats.rollbacks++;
	if (rows > st->stats.batch_largest)
		st->stats.batch_largest = rows;
	STAILQ_CONCAT(&st->done, batch);
	pthread_cond_broadcast(&st->progress);
	if (was_empty && st->efd >= 0 &&
	    write(st->efd, &one, sizeof(one)) != sizeof(one))
		log_warn("store: eventfd write");
}

static void *
writer_main(void *arg)
{
	struct store *st = arg;
	struct wlist batch;
	struct timespec t0, t1;
	size_t rows, merged;
	bool ok;

	pthread_mutex_lock(&st->mtx);
	for (;;) {
		while (STAILQ_EMPTY(&st->pending) && !st->stopping) {
			st->writer_idle = true;
			pthread_cond_wait(&st->wake, &st->mtx);
		}
		st->writer_idle = false;
		if (STAILQ_EMPTY(&st->pending))
			break;                  /* stopping, and all written */
		rows = take_batch(st, &batch);
		pthread_mutex_unlock(&st->mtx);
		merged = st->ops->merges_start ? store_merge(&batch) : 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok = run_batch(st, &batch);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (merged > 0)
			merged = merged_ok(&batch);
		pthread_mutex_lock(&st->mtx);
		if (ok)
			st->stats.merged += merged;
		hist_add(&st->commit_s, (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		hist_add(&st->commit_rows, (double)rows);
		finish_batch(st, &batch, rows, ok);
	}
	pthread_mutex_unlock(&st->mtx);
	return NULL;
}

/* Start the writer with every signal blocked but the faults, so signals
 * stay with the loop thread. */
static int
writer_start(struct store *st)
{
	int rc;

	if ((rc = store_thread(&st->writer, writer_main, st,
	    "store_writer")) != 0)
		return store_seterr(-rc, "store: cannot start the writer "
		    "thread: %s", strerror(rc));
	st->writer_started = true;
	return 0;
}

int
store_thread(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
		SIGABRT };
	sigset_t set, old;
	int rc;

	sigfillset(&set);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&set, faults[i]);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_setname_np(*t, name);
	return rc;
}

static void
writer_stop(struct store *st)
{
	if (!st->writer_started)
		return;
	hand_over(st);
	pthread_mutex_lock(&st->mtx);
	st->stopping = true;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->mtx);
	pthread_join(st->writer, NULL);
	st->writer_started = false;
}

/* ---- completions (loop thread) ------------------------------------------ */

/* Failed on its own (the others in its transaction went through), rather
 * than with its transaction because of the database. */
static bool
write_local(int status)
{
	return status == -EINVAL || status == -ENOENT || status == -EEXIST;
}

/* The database failing (full, locked, read-only, gone...) fails every
 * write until it clears: log the first failure of a run, and a new
 * reason, not each write; then say when writes succeed again. */
static void
fault_note(struct store *st, const struct store_req *r)
{
	if (r->status == 0 && st->fault != 0) {
		log_info("%s: writes succeed again (%llu failed meanwhile)",
		    st->path, (unsigned long long)st->nfaults);
		st->fault = 0;
		st->nfaults = 0;
	}
	if (r->status == 0 || write_local(r->status) ||
	    r->w.kind == STORE_W_RECOVER)   /* store_recover's caller says */
		return;
	st->nfaults++;
	if (r->status != st->fault)
		log_warnx("%s (writes fail until this clears)", store_errmsg());
	st->fault = r->status;
}

static void
complete(struct store *st, struct store_req *r)
{
	if (r->status < 0) {
		store_seterr(r->status, "%s",
		    r->errmsg != NULL ? r->errmsg : "store: write failed");
		if (r->cb == NULL && write_local(r->status))
			log_warnx("%s", store_errmsg());
	}
	fault_note(st, r);
	if (r->cb != NULL)
		r->cb(r->arg, r->status);
	if (r->status == 0 && r->chg.n > 0 && st->deps_fn != NULL)
		st->deps_fn(st->deps_arg, r->chg.v, r->chg.n);
	store_chg_clear(&r->chg);
	free(r->errmsg);
	free(r->owned);
	free(r);
}

static void
deliver(struct store *st)
{
	struct store_req *r;

	pthread_mutex_lock(&st->mtx);
	STAILQ_CONCAT(&st->ready, &st->done);
	pthread_mutex_unlock(&st->mtx);
	while ((r = STAILQ_FIRST(&st->ready)) != NULL) {
		STAILQ_REMOVE_HEAD(&st->ready, link);
		complete(st, r);
	}
}

static void
on_notify(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("store: eventfd read");
	deliver(arg);
}

static int
notify_init(struct store *st, struct event_base *base)
{
	if (base == NULL)
		return 0;
	st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->efd < 0)
		return store_seterr(-errno, "store: eventfd: %s",
		    strerror(errno));
	st->ev = event_new(base, st->efd, EV_READ | EV_PERSIST, on_notify, st);
	if (st->ev == NULL || event_add(st->ev, NULL) < 0)
		return store_seterr(-ENOMEM, "store: cannot add its event");
	if ((st->hand_ev = event_new(base, -1, 0, on_hand, st)) == NULL)
		return store_seterr(-ENOMEM, "store: cannot add its event");
	return 0;
}

void
store_flush(struct store *st)
{
	uint64_t target;

	hand_over(st);
	pthread_mutex_lock(&st->mtx);
	target = st->nsubmitted;
	while (st->ncompleted < target)
		pthread_cond_wait(&st->progress, &st->mtx);
	pthread_mutex_unlock(&st->mtx);
	deliver(st);
}

/* ---- open, close -------------------------------------------------------- */

const char *
store_backend_name(size_t i, bool *built)
{
	if (i >= STORE_NBACKENDS)
		return NULL;
	if (built != NULL)
		*built = store_backends[i].ops != NULL;
	return store_backends[i].name;
}

/* The ops of the backend called name. */
static int
backend_find(const char *name, const struct store_ops **opsp)
{
	for (size_t i = 0; i < STORE_NBACKENDS; i++) {
		if (strcmp(name, store_backends[i].name) != 0)
			continue;
		if ((*opsp = store_backends[i].ops) == NULL)
			return store_seterr(-ENOTSUP, "store: the %s backend "
			    "is not built into this jobd", name);
		return 0;
	}
	return store_seterr(-EINVAL, "store: no backend called \"%s\"",
	    name);
}

static int
opts_check(const struct store_opts *in, struct store_opts *o,
    const struct store_ops **opsp)
{
	int rc;

	if (in == NULL || in->path == NULL || in->path[0] == '\0')
		return store_seterr(-EINVAL, "store: no database path");
	*o = *in;
	if (o->backend == NULL)
		o->backend = STORE_BACKEND_DEFAULT;
	if ((rc = backend_find(o->backend, opsp)) < 0)
		return rc;
	if (o->sync != STORE_SYNC_FULL && o->sync != STORE_SYNC_NORMAL)
		return store_seterr(-EINVAL, "store: bad sync level %d",
		    o->sync);
	if (o->busy_timeout_ms < 0 || o->max_bytes < 0 ||
	    o->batch_max > STORE_BATCH_MAX)
		return store_seterr(-EINVAL, "store: busy_timeout, batch_max "
		    "or max_bytes out of range");
	if (o->busy_timeout_ms == 0)
		o->busy_timeout_ms = STORE_BUSY_TIMEOUT_DEFAULT;
	if (o->batch_max == 0)
		o->batch_max = STORE_BATCH_DEFAULT;
	return 0;
}

/* Free st, built as far as it got.  Pending writes are committed first. */
static void
store_destroy(struct store *st)
{
	if (st == NULL)
		return;
	st->closing = true;
	writer_stop(st);
	deliver(st);
	if (st->ev != NULL)
		event_free(st->ev);
	if (st->hand_ev != NULL)
		event_free(st->hand_ev);
	if (st->efd >= 0)
		close(st->efd);
	st->ops->close(st->b);
	pthread_cond_destroy(&st->progress);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->mtx);
	free(st->rarr);
	free(st->warr);
	free(st->path);
	free(st);
}

int
store_open(struct store **stp, struct event_base *base,
    const struct store_opts *opts)
{
	const struct store_ops *ops = NULL;
	struct store_opts o;
	struct store *st;
	int rc;

	*stp = NULL;
	if ((rc = opts_check(opts, &o, &ops)) < 0)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return store_seterr(-ENOMEM, "store: out of memory");
	pthread_mutex_init(&st->mtx, NULL);
	hist_init(&st->commit_s, hist_le_commit, hist_le_commit_n);
	hist_init(&st->commit_rows, hist_le_rows, hist_le_rows_n);
	pthread_cond_init(&st->wake, NULL);
	pthread_cond_init(&st->progress, NULL);
	STAILQ_INIT(&st->pending);
	STAILQ_INIT(&st->done);
	STAILQ_INIT(&st->ready);
	STAILQ_INIT(&st->outbox);
	st->efd = -1;
	st->ops = ops;
	st->batch_max = o.batch_max;
	if ((st->path = strdup(o.path)) == NULL) {
		rc = store_seterr(-ENOMEM, "store: out of memory");
		goto out;
	}
	if ((rc = st->ops->open(&o, &st->b)) < 0)
		goto out;
	if ((rc = notify_init(st, base)) < 0)
		goto out;
	if ((rc = writer_start(st)) < 0)
		goto out;
	*stp = st;
	st = NULL;
out:
	store_destroy(st);
	return rc;
}

void
store_close(struct store *st)
{
	store_destroy(st);
}

/* ---- submitting writes (loop thread) ------------------------------------ */

/* A write of kind with extra bytes after it for arrays and strings (the
 * struct's size keeps what follows aligned). */
static struct store_req *
req_new(struct store *st, enum store_wkind kind, size_t extra)
{
	struct store_req *r;

	if (st->closing) {
		store_seterr(-ESHUTDOWN, "store: closing");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r) + extra)) == NULL) {
		store_seterr(-ENOMEM, "store: out of memory");
		return NULL;
	}
	r->w.kind = kind;
	r->w.chg = &r->chg;
	r->rows = 1;
	return r;
}

/* A start or an end is one write per job, and a burst queues one per job
 * at once: keep the union small (an insert's row lives after the write). */
_Static_assert(sizeof(((struct store_write *)NULL)->u) <= 64,
    "a write's union grew: a start costs every job that much");

/* The error req_new failed with. */
static int
req_new_err(struct store *st)
{
	return st->closing ? -ESHUTDOWN : -ENOMEM;
}

/* n consecutive ids of kind into *first, from the current block or a new
 * one.  A backend that hands out the block right after the current one
 * (SQLite always does) extends it, so no id is skipped. */
static int
ids_take(struct store *st, enum store_idkind kind, size_t n, int64_t *first)
{
	struct store_ids *ids = &st->ids[kind];
	int64_t want, got;
	int rc;

	if ((int64_t)n > ids->end - ids->next) {
		want = (int64_t)n > STORE_ID_BLOCK ? (int64_t)n : STORE_ID_BLOCK;
		if ((rc = st->ops->reserve_ids(st->b, kind, want, &got)) < 0)
			return rc;
		if (got != ids->end)
			ids->next = got;
		ids->end = got + want;
	}
	*first = ids->next;
	ids->next += (int64_t)n;
	return 0;
}

/* A write joins the outbox, handed over at the end of this loop pass
 * (at once without an event_base).  Order is kept: the outbox goes to
 * the tail of pending whole. */
static void
submit(struct store *st, struct store_req *r, store_cb cb, void *arg)
{
	r->cb = cb;
	r->arg = arg;
	STAILQ_INSERT_TAIL(&st->outbox, r, link);
	if (st->noutbox++ == 0 && st->hand_ev != NULL)
		event_active(st->hand_ev, 0, 0);
	if (st->hand_ev == NULL)
		hand_over(st);
}

static size_t
str_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* Copy s to *p and advance it; NULL stays NULL. */
static const char *
str_copy(char **p, const char *s)
{
	char *d = *p;
	size_t n = str_size(s);

	if (s == NULL)
		return NULL;
	memcpy(d, s, n);
	*p += n;
	return d;
}

static int
job_check(const struct store_new_job *j)
{
	if (j->queue == NULL || j->kind == NULL || j->args == NULL)
		return store_seterr(-EINVAL, "store: a job needs a queue, a "
		    "kind and args");
	if (!(j->timeout >= 0) || !isfinite(j->timeout) ||
	    !(j->created_at >= 0) || !isfinite(j->created_at) ||
	    j->max_attempts < 1)
		return store_seterr(-EINVAL, "store: job timeout, created_at "
		    "or max_attempts out of range");
	if (j->priority < 0 || j->priority > 9 || j->retries < 0 ||
	    j->retries > 100 || !(j->retry_delay >= 0) ||
	    !(j->retry_max_delay >= 0) || !isfinite(j->retry_delay) ||
	    !isfinite(j->retry_max_delay) || !(j->run_at >= 0) ||
	    !isfinite(j->run_at) || (j->nafter == 0 &&
	    j->state != STORE_QUEUED &&
	    (j->state != STORE_SCHEDULED || j->run_at <= 0)))
		return store_seterr(-EINVAL, "store: job priority, retries, "
		    "retry delays, run_at or state out of range");
	if ((j->schedule != NULL || j->unique_key != NULL) &&
	    j->existing == NULL)
		return store_seterr(-EINVAL, "store: a job with a schedule or "
		    "a unique key needs somewhere for the existing id");
	if (j->unique_key != NULL && (j->unique_key[0] == '\0' ||
	    strlen(j->unique_key) > 255 || !(j->unique_for >= 0) ||
	    !isfinite(j->unique_for)))
		return store_seterr(-EINVAL, "store: unique_key of 1-255 bytes, "
		    "unique_for >= 0");
	if (j->nafter > STORE_AFTER_MAX || (j->nafter > 0 && j->after == NULL))
		return store_seterr(-EINVAL, "store: at most %d dependencies",
		    STORE_AFTER_MAX);
	return 0;
}

/* A lone job's after may not name group members. */
static int
job_check_lone(const struct store_new_job *j)
{
	for (size_t i = 0; i < j->nafter; i++)
		if (j->after[i] <= 0)
			return store_seterr(-EINVAL, "store: a member "
			    "reference outside a group");
	return job_check(j);
}

/* Copy j's after list to *av and advance it (int64_t-aligned). */
static void
after_copy(struct store_new_job *d, int64_t **av)
{
	if (d->nafter == 0) {
		d->after = NULL;
		return;
	}
	memcpy(*av, d->after, d->nafter * sizeof(**av));
	d->after = *av;
	*av += d->nafter;
}

static size_t
job_size(const struct store_new_job *j)
{
	return str_size(j->queue) + str_size(j->kind) + str_size(j->args) +
	    str_size(j->name) + str_size(j->schedule) +
	    str_size(j->unique_key);
}

static void
job_copy(struct store_new_job *d, const struct store_new_job *j, char **p,
    double now)
{
	*d = *j;
	d->queue = str_copy(p, j->queue);
	d->kind = str_copy(p, j->kind);
	d->args = str_copy(p, j->args);
	d->name = str_copy(p, j->name);
	d->schedule = str_copy(p, j->schedule);
	d->unique_key = str_copy(p, j->unique_key);
	if (d->created_at == 0)
		d->created_at = now;
}

int
store_insert(struct store *st, const struct store_new_job *job,
    int64_t *idp, store_cb cb, void *arg)
{
	struct store_req *r;
	struct store_new_job *copy;
	int64_t *av;
	char *p;
	int rc;

	if ((rc = job_check_lone(job)) < 0)
		return rc;
	if ((r = req_new(st, STORE_W_INSERT, sizeof(*copy) + job->nafter *
	    sizeof(*av) + job_size(job))) == NULL)
		return req_new_err(st);
	if ((rc = ids_take(st, STORE_ID_JOB, 1, &r->w.u.ins.id)) < 0) {
		free(r);
		return rc;
	}
	copy = (struct store_new_job *)(r + 1);
	av = (int64_t *)(copy + 1);
	p = (char *)(av + job->nafter);
	job_copy(copy, job, &p, store_now());
	after_copy(copy, &av);
	r->w.u.ins.job = copy;
	r->rows += job->nafter;
	*idp = r->w.u.ins.id;
	submit(st, r, cb, arg);
	return 0;
}

/* Ids for a group of n: its own and its jobs'. */
static int
group_ids(struct store *st, struct store_req *r, size_t n, int64_t *ids)
{
	int rc;

	if ((rc = ids_take(st, STORE_ID_JOB, n, &r->w.u.grp.first_id)) < 0 ||
	    (rc = ids_take(st, STORE_ID_GROUP, 1, &r->w.u.grp.gid)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		ids[i] = r->w.u.grp.first_id + (int64_t)i;
	return 0;
}

/* store_insert_group, or with take (store_insert_group_take) jobs[] itself
 * as the write's rows: only their strings and after lists are copied. */
static int
insert_group(struct store *st, enum store_group_mode mode,
    struct store_new_job *take, const struct store_new_job *jobs, size_t n,
    int64_t *gidp, int64_t *ids, store_cb cb, void *arg)
{
	struct store_req *r;
	struct store_new_job *copy;
	size_t extra, edges = 0;
	double now = store_now();
	int64_t *av;
	char *p;
	int rc;

	if (n < 1 || n > INT32_MAX || store_group_mode_name(mode) == NULL)
		return store_seterr(-EINVAL, "store: bad group (mode %d, "
		    "%zu jobs)", mode, n);
	extra = take != NULL ? 0 : n * sizeof(*jobs);
	for (size_t i = 0; i < n; i++) {
		if ((rc = job_check(&jobs[i])) < 0)
			return rc;
		for (size_t k = 0; k < jobs[i].nafter; k++)
			if (jobs[i].after[k] < 0 &&
			    (size_t)(-jobs[i].after[k] - 1) >= n)
				return store_seterr(-EINVAL, "store: a member "
				    "reference out of range");
		extra += job_size(&jobs[i]) + jobs[i].nafter * sizeof(*av);
		edges += jobs[i].nafter;
	}
	if ((r = req_new(st, STORE_W_GROUP, extra)) == NULL)
		return req_new_err(st);
	if ((rc = group_ids(st, r, n, ids)) < 0) {
		free(r);
		return rc;
	}
	copy = take != NULL ? take : (struct store_new_job *)(r + 1);
	av = take != NULL ? (int64_t *)(r + 1) : (int64_t *)(copy + n);
	p = (char *)(av + edges);
	for (size_t i = 0; i < n; i++) {
		job_copy(&copy[i], &jobs[i], &p, now);
		after_copy(&copy[i], &av);
	}
	r->owned = take;
	r->rows = n + 1 + edges;
	r->w.u.grp.jobs = copy;
	r->w.u.grp.n = n;
	r->w.u.grp.mode = mode;
	r->w.u.grp.created_at = now;
	*gidp = r->w.u.grp.gid;
	submit(st, r, cb, arg);
	return 0;
}

int
store_insert_group(struct store *st, enum store_group_mode mode,
    const struct store_new_job *jobs, size_t n, int64_t *gidp, int64_t *ids,
    store_cb cb, void *arg)
{
	return insert_group(st, mode, NULL, jobs, n, gidp, ids, cb, arg);
}

int
store_insert_group_take(struct store *st, enum store_group_mode mode,
    struct store_new_job *jobs, size_t n, int64_t *gidp, int64_t *ids,
    store_cb cb, void *arg)
{
	return insert_group(st, mode, jobs, jobs, n, gidp, ids, cb, arg);
}

int
store_mark_started(struct store *st, int64_t id, double started_at,
    store_cb cb, void *arg)
{
	struct store_req *r;

	if ((r = req_new(st, STORE_W_START, 0)) == NULL)
		return req_new_err(st);
	r->w.u.start.id = id;
	r->w.u.start.at = started_at != 0 ? started_at : store_now();
	submit(st, r, cb, arg);
	return 0;
}

int
store_mark_ended(struct store *st, int64_t id, const struct store_end *end,
    store_cb cb, void *arg)
{
	struct store_req *r;
	struct store_end *e;
	char *p;

	if (!store_state_ended(end->state))
		return store_seterr(-EINVAL, "store: job %lld cannot end in "
		    "state %d", (long long)id, end->state);
	r = req_new(st, STORE_W_END, str_size(end->result) +
	    str_size(end->error) + str_size(end->cancel_reason));
	if (r == NULL)
		return req_new_err(st);
	p = (char *)(r + 1);
	e = &r->w.u.end.end;
	r->w.u.end.id = id;
	e->state = end->state;
	e->finished_at = end->finished_at != 0 ? end->finished_at :
	    store_now();
	e->result = str_copy(&p, end->result);
	e->error = str_copy(&p, end->error);
	e->cancel_reason = str_copy(&p, end->cancel_reason);
	submit(st, r, cb, arg);
	return 0;
}

int
store_requeue(struct store *st, int64_t id, store_cb cb, void *arg)
{
	struct store_req *r;

	if ((r = req_new(st, STORE_W_REQUEUE, 0)) == NULL)
		return req_new_err(st);
	r->w.u.requeue.id = id;
	submit(st, r, cb, arg);
	return 0;
}

/* Does the backend have the lifecycle's writes and reads (schema 4)?  Both
 * built-in backends do; one without them is refused (-ENOTSUP) here, before
 * such a write could spoil a batch. */
static int
store_lifecycle(struct store *st)
{
	if (st->ops->attempts != NULL && st->ops->paused != NULL)
		return 0;
	return store_seterr(-ENOTSUP, "store: the %s backend has no retries, "
	    "delays, pause or prune yet", st->ops->name);
}

int
store_retry_later(struct store *st, int64_t id, const struct store_end *end,
    double run_at, store_cb cb, void *arg)
{
	struct store_req *r;
	struct store_end *e;
	char *p;

	if (store_lifecycle(st) < 0)
		return -ENOTSUP;

	if (end->state != STORE_FAILED && end->state != STORE_TIMED_OUT)
		return store_seterr(-EINVAL, "store: job %lld: a retry follows "
		    "failed or timed_out, not %d", (long long)id, end->state);
	if (!isfinite(run_at) || run_at <= 0)
		return store_seterr(-EINVAL, "store: job %lld: bad run_at",
		    (long long)id);
	r = req_new(st, STORE_W_RETRY, str_size(end->result) +
	    str_size(end->error));
	if (r == NULL)
		return req_new_err(st);
	p = (char *)(r + 1);
	e = &r->w.u.retry.end;
	r->w.u.retry.id = id;
	r->w.u.retry.run_at = run_at;
	e->state = end->state;
	e->finished_at = end->finished_at != 0 ? end->finished_at :
	    store_now();
	e->result = str_copy(&p, end->result);
	e->error = str_copy(&p, end->error);
	submit(st, r, cb, arg);
	return 0;
}

/* A write that names only a job. */
static int
id_write(struct store *st, enum store_wkind kind, int64_t id, store_cb cb,
    void *arg)
{
	struct store_req *r;

	if (store_lifecycle(st) < 0)
		return -ENOTSUP;
	if ((r = req_new(st, kind, 0)) == NULL)
		return req_new_err(st);
	r->w.u.ready.id = id;
	submit(st, r, cb, arg);
	return 0;
}

int
store_mark_ready(struct store *st, int64_t id, store_cb cb, void *arg)
{
	return id_write(st, STORE_W_READY, id, cb, arg);
}

int
store_revive(struct store *st, int64_t id, store_cb cb, void *arg)
{
	return id_write(st, STORE_W_REVIVE, id, cb, arg);
}

int
store_set_paused(struct store *st, const char *queue, bool paused,
    store_cb cb, void *arg)
{
	struct store_req *r;
	char *p;

	if (store_lifecycle(st) < 0)
		return -ENOTSUP;
	if (queue == NULL || queue[0] == '\0')
		return store_seterr(-EINVAL, "store: pause: no queue");
	if ((r = req_new(st, STORE_W_PAUSE, str_size(queue))) == NULL)
		return req_new_err(st);
	p = (char *)(r + 1);
	r->w.u.pause.queue = str_copy(&p, queue);
	r->w.u.pause.paused = paused;
	r->w.u.pause.at = store_now();
	submit(st, r, cb, arg);
	return 0;
}

int
store_prune(struct store *st, const struct store_prune *pr, size_t *deleted,
    store_cb cb, void *arg)
{
	struct store_req *r;
	char *p;

	if (store_lifecycle(st) < 0)
		return -ENOTSUP;
	if (pr->limit < 1 || pr->limit > STORE_PRUNE_MAX ||
	    !isfinite(pr->before) || deleted == NULL)
		return store_seterr(-EINVAL, "store: prune: limit %zu out of "
		    "1-%d, or a bad time", pr->limit, STORE_PRUNE_MAX);
	if ((r = req_new(st, STORE_W_PRUNE, str_size(pr->queue))) == NULL)
		return req_new_err(st);
	p = (char *)(r + 1);
	r->w.u.prune.p = *pr;
	r->w.u.prune.p.queue = str_copy(&p, pr->queue);
	r->w.u.prune.deleted = deleted;
	*deleted = 0;
	submit(st, r, cb, arg);
	return 0;
}

/* ---- recovery ----------------------------------------------------------- */

static void
recover_done(void *arg, int status)
{
	struct store_recover_res *res = arg;

	res->status = status;
}

void
store_recover_rule(struct store *st, store_rerun_fn fn, void *arg)
{
	st->rerun = fn;
	st->rerun_arg = arg;
}

void
store_recover_horizon(struct store *st, double horizon)
{
	st->horizon = horizon;
}

int
store_recover(struct store *st, store_recover_cb cb, void *arg,
    struct store_recovery *rep)
{
	struct store_recover_res res = { 0 };
	struct store_req *r;
	int rc = 0;

	if (st->nsubmitted > 0)
		return store_seterr(-EBUSY, "store: recovery must come before "
		    "any write");
	if ((r = req_new(st, STORE_W_RECOVER, 0)) == NULL)
		return req_new_err(st);
	r->w.u.recover.now = store_now();
	r->w.u.recover.res = &res;
	r->w.u.recover.horizon = st->horizon > 0 ? st->horizon : DBL_MAX;
	r->w.u.recover.rerun = st->rerun;
	r->w.u.recover.rerun_arg = st->rerun_arg;
	submit(st, r, recover_done, &res);
	store_flush(st);
	if (res.status < 0) {
		store_jobs_free(res.jobs, res.n);
		return res.status;      /* store_errmsg set by complete() */
	}
	if (rep != NULL)
		*rep = res.rep;
	for (size_t i = 0; i < res.n; i++) {
		if (rc == 0)
			rc = cb(arg, res.jobs[i]);
		else
			store_job_free(res.jobs[i]);
	}
	free(res.jobs);
	return rc;
}

/* ---- several daemons (postgresql) --------------------------------------- */

bool
store_nodes(const struct store *st)
{
	return st->ops->nodes;
}

int64_t
store_node_id(const struct store *st)
{
	return st->ops->node_id != NULL ? st->ops->node_id(st->b) : 0;
}

struct node_tick {
	struct store_recover_res res;
	store_node_cb cb;
	void *arg;
};

static void
node_done(void *arg, int status)
{
	struct node_tick *t = arg;

	t->cb(t->arg, status, t->res.jobs, t->res.n, &t->res.rep);
	free(t);
}

/* A write of kind handing rows back (NODE, CLAIM). */
static int
node_req(struct store *st, enum store_wkind kind, const char *queue, size_t n,
    store_node_cb cb, void *arg)
{
	struct node_tick *t;
	struct store_req *r;
	char *p;

	if (!st->ops->nodes)
		return store_seterr(-ENOTSUP, "store: %s has no nodes",
		    st->ops->name);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return store_seterr(-ENOMEM, "store: out of memory");
	if ((r = req_new(st, kind, str_size(queue))) == NULL) {
		free(t);
		return req_new_err(st);
	}
	p = (char *)(r + 1);
	r->w.u.recover.queue = str_copy(&p, queue);
	r->w.u.recover.n = n;
	t->cb = cb;
	t->arg = arg;
	r->w.u.recover.now = store_now();
	r->w.u.recover.res = &t->res;
	r->w.u.recover.horizon = DBL_MAX;       /* all rows into memory */
	r->w.u.recover.rerun = st->rerun;
	r->w.u.recover.rerun_arg = st->rerun_arg;
	submit(st, r, node_done, t);
	return 0;
}

int
store_node_tick(struct store *st, store_node_cb cb, void *arg)
{
	return node_req(st, STORE_W_NODE, NULL, 0, cb, arg);
}

int
store_claim(struct store *st, const char *queue, size_t n, store_node_cb cb,
    void *arg)
{
	if (queue == NULL || n == 0)
		return store_seterr(-EINVAL, "store: claim what?");
	return node_req(st, STORE_W_CLAIM, queue, n, cb, arg);
}

int
store_wake_fd(struct store *st)
{
	if (st->ops->wake_fd == NULL)
		return store_seterr(-ENOTSUP, "store: %s has no wake-ups",
		    st->ops->name);
	return st->ops->wake_fd(st->b);
}

int
store_wake_drain(struct store *st, void (*cb)(void *arg, const char *queue),
    void *arg)
{
	return st->ops->wake_drain(st->b, cb, arg);
}

int
store_cancel_ask(struct store *st, int64_t id, const char *reason,
    store_cb cb, void *arg)
{
	struct store_req *r;
	char *p;

	if (!st->ops->nodes)
		return store_seterr(-ENOTSUP, "store: %s has no nodes",
		    st->ops->name);
	if ((r = req_new(st, STORE_W_CANCEL_ASK, str_size(reason))) == NULL)
		return req_new_err(st);
	p = (char *)(r + 1);
	r->w.u.ask.id = id;
	r->w.u.ask.reason = str_copy(&p, reason);
	submit(st, r, cb, arg);
	return 0;
}

void
store_cancels_free(struct store_cancels *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->reasons[i]);
	for (size_t i = 0; i < c->nmoved; i++)
		free(c->moved[i].reason);
	free(c->ids);
	free(c->reasons);
	free(c->moved);
	free(c);
}

struct cancels_take {
	struct store_cancels *res;
	store_cancels_cb cb;
	void *arg;
};

static void
cancels_done(void *arg, int status)
{
	struct cancels_take *t = arg;

	if (status < 0) {
		store_cancels_free(t->res);
		t->res = NULL;
	}
	t->cb(t->arg, status, t->res);
	free(t);
}

int
store_cancels_take(struct store *st, store_cancels_cb cb, void *arg)
{
	struct cancels_take *t;
	struct store_req *r;

	if (!st->ops->nodes)
		return store_seterr(-ENOTSUP, "store: %s has no nodes",
		    st->ops->name);
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->res = calloc(1, sizeof(*t->res))) == NULL) {
		free(t);
		return store_seterr(-ENOMEM, "store: out of memory");
	}
	if ((r = req_new(st, STORE_W_CANCEL_TAKE, 0)) == NULL) {
		free(t->res);
		free(t);
		return req_new_err(st);
	}
	t->cb = cb;
	t->arg = arg;
	r->w.u.take.res = t->res;
	submit(st, r, cancels_done, t);
	return 0;
}

void
store_deps_hook(struct store *st, store_deps_fn fn, void *arg)
{
	st->deps_fn = fn;
	st->deps_arg = arg;
}

/* ---- reads -------------------------------------------------------------- */

int
store_get(struct store *st, int64_t id, struct store_job **jobp)
{
	*jobp = NULL;
	return st->ops->get(st->b, id, jobp);
}

int
store_list(struct store *st, const struct store_filter *f,
    struct store_job ***jobsp, size_t *np)
{
	struct store_filter g = { .state = STORE_ANY_STATE };

	*jobsp = NULL;
	*np = 0;
	if (f != NULL)
		g = *f;
	if (g.state != STORE_ANY_STATE && store_state_name(g.state) == NULL)
		return store_seterr(-EINVAL, "store: bad state %d", g.state);
	if (g.limit > STORE_LIST_MAX)
		return store_seterr(-EINVAL, "store: list limit %zu is past "
		    "%d", g.limit, STORE_LIST_MAX);
	if (g.limit == 0)
		g.limit = STORE_LIST_DEFAULT;
	if (g.before_id <= 0)
		g.before_id = INT64_MAX;
	return st->ops->list(st->b, &g, jobsp, np);
}

int
store_group_get(struct store *st, int64_t gid, struct store_group *g)
{
	return st->ops->group_get(st->b, gid, g);
}

int
store_group_jobs(struct store *st, int64_t gid, struct store_job ***jobsp,
    size_t *np)
{
	*jobsp = NULL;
	*np = 0;
	return st->ops->group_jobs(st->b, gid, jobsp, np);
}

int
store_attempts(struct store *st, int64_t id, struct store_attempt ***ap,
    size_t *np)
{
	*ap = NULL;
	*np = 0;
	return st->ops->attempts != NULL ? st->ops->attempts(st->b, id, ap,
	    np) : 0;
}

void
store_attempts_free(struct store_attempt **a, size_t n)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

int
store_slot_last(struct store *st, const char *schedule, double *slot,
    int64_t *id)
{
	return st->ops->slot_last(st->b, schedule, slot, id);
}

int
store_sched_page(struct store *st, double after_at, int64_t after_id,
    double until, size_t limit, struct store_job ***jobsp, size_t *np)
{
	*jobsp = NULL;
	*np = 0;
	if (limit == 0 || limit > STORE_LIST_MAX || !isfinite(after_at) ||
	    isnan(until))
		return store_seterr(-EINVAL, "store: bad scheduled page");
	return st->ops->sched_page(st->b, after_at, after_id, until, limit,
	    jobsp, np);
}

int
store_sched_scan(struct store *st, double after, store_sched_fn fn,
    void *arg)
{
	return st->ops->sched_scan(st->b, after, fn, arg);
}

int
store_paused_queues(struct store *st, char ***namesp, size_t *np)
{
	*namesp = NULL;
	*np = 0;
	return st->ops->paused != NULL ? st->ops->paused(st->b, namesp, np) :
	    0;
}

void
store_commit_hists(struct store *st, struct hist *seconds, struct hist *rows)
{
	pthread_mutex_lock(&st->mtx);
	*seconds = st->commit_s;
	*rows = st->commit_rows;
	pthread_mutex_unlock(&st->mtx);
}

void
store_stats(struct store *st, struct store_stats *s)
{
	pthread_mutex_lock(&st->mtx);
	*s = st->stats;
	s->submitted += st->noutbox;
	s->pending = st->nsubmitted + st->noutbox - st->ncompleted;
	pthread_mutex_unlock(&st->mtx);
}
