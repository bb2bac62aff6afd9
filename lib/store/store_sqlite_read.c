/*
 * store_sqlite_read.c — the SQLite backend's reads (see store_sqlite.c for
 * the rest, store.h for who may call what).
 *
 * Reads run on the caller's thread.  Each borrows a read-only connection
 * from a pool (a free list under rmtx; opened on first need, one per
 * thread reading at the same time, closed at close) with its own prepared
 * statements, so readers on different threads never wait for each other,
 * and WAL lets them run beside the writer.  Statements are reset and their
 * bindings cleared after each use: a read left open would pin a WAL
 * snapshot and stall checkpoints.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

/* store_list without a filter walks the primary key; with one, it merges
 * the newest ids of each (state, queue) pair that matches — R_IDS, an
 * index-only range — and then reads those rows, all in one read
 * transaction.  R_QUEUES lists the queues having a state by skipping
 * through the index, one probe per queue. */
enum {
	R_BEGIN, R_COMMIT, R_LIST, R_QUEUES, R_IDS, R_GET, R_GROUP,
	R_GROUP_JOBS, R_ATTEMPTS, R_PAUSED, R_SLOT_LAST, R_LIST_UID, R_PAGE,
	R_SCAN, R_N
};

static const char *const sq_rsql[R_N] = {
	[R_BEGIN] = "BEGIN",
	[R_COMMIT] = "COMMIT",
	[R_LIST] = "SELECT " SQ_COLS " FROM jobs WHERE id < ?1 "
	    "ORDER BY id DESC LIMIT ?2",
	[R_QUEUES] = "WITH RECURSIVE q (name) AS ("
	    " SELECT (SELECT min(queue) FROM jobs WHERE state = ?1)"
	    " UNION ALL SELECT (SELECT min(queue) FROM jobs"
	    "  WHERE state = ?1 AND queue > q.name) FROM q"
	    "  WHERE q.name IS NOT NULL) "
	    "SELECT name FROM q WHERE name IS NOT NULL",
	[R_IDS] = "SELECT id FROM jobs WHERE state = ?1 AND queue = ?2 "
	    "AND id < ?3 ORDER BY id DESC LIMIT ?4",
	[R_GET] = "SELECT " SQ_COLS " FROM jobs WHERE id = ?1",
	[R_GROUP] = SQ_GROUP_SQL,
	[R_GROUP_JOBS] = "SELECT " SQ_COLS " FROM jobs WHERE group_id = ?1 "
	    "ORDER BY id",
	[R_ATTEMPTS] = SQ_SQL_ATTEMPTS,
	[R_PAUSED] = "SELECT queue FROM queue_pause ORDER BY queue",
	[R_SLOT_LAST] = SQ_SQL_LAST_SLOT,
	[R_LIST_UID] = SQ_LIST_UID_SQL,
	[R_PAGE] = SQ_SQL_PAGE,
	[R_SCAN] = SQ_SQL_SCAN,
};

struct sq_reader {
	sqlite3 *db;
	sqlite3_stmt *s[R_N];
	struct sq_reader *next;
};

/* ---- reads (any thread) ------------------------------------------------- */

static void
sq_reader_free(struct store_backend *b, struct sq_reader *r)
{
	sq_finalize(r->s, R_N);
	sq_disconnect(r->db, b->path);
	free(r);
}

void
sq_readers_close(struct store_backend *b)
{
	struct sq_reader *r;

	while ((r = b->idle) != NULL) {
		b->idle = r->next;
		sq_reader_free(b, r);
	}
}

/* Borrow an idle read connection, or open one. */
static int
sq_reader_get(struct store_backend *b, struct sq_reader **rp)
{
	struct sq_reader *r;
	int rc;

	pthread_mutex_lock(&b->rmtx);
	if ((r = b->idle) != NULL)
		b->idle = r->next;
	pthread_mutex_unlock(&b->rmtx);
	if ((*rp = r) != NULL)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->path);
	if ((rc = sq_connect(b, &r->db, SQLITE_OPEN_READONLY)) < 0 ||
	    (rc = sq_prepare(b, r->db, sq_rsql, r->s, R_N)) < 0) {
		if (r->db != NULL)
			sq_reader_free(b, r);
		else
			free(r);
		return rc;
	}
	*rp = r;
	return 0;
}

static void
sq_reader_put(struct store_backend *b, struct sq_reader *r)
{
	pthread_mutex_lock(&b->rmtx);
	r->next = b->idle;
	b->idle = r;
	pthread_mutex_unlock(&b->rmtx);
}

/* A read of this many rows or more gives the connection's page cache back
 * (sqlite3_db_release_memory) before the connection is put away: a list
 * of 10,000 rows fills it (2 MiB each, one connection per reading thread),
 * and jobd's memory should come back after a big answer.  The next such
 * read gets its pages from the OS's file cache again, about 1 ms. */
#define SQ_BIG_READ 1000

static void
sq_reader_done(struct store_backend *b, struct sq_reader *r, size_t n)
{
	if (n >= SQ_BIG_READ)
		(void)sqlite3_db_release_memory(r->db);
	sq_reader_put(b, r);
}

/* Run a bound SQ_COLS statement of r and return its rows. */
static int
sq_read_jobs(struct store_backend *b, struct sq_reader *r, sqlite3_stmt *s,
    struct store_job ***jobsp, size_t *np)
{
	int rc = sq_collect(b, r->db, s, jobsp, np);

	sqlite3_clear_bindings(s);
	sq_reader_done(b, r, rc == 0 ? *np : 0);
	return rc;
}

int
sq_get(struct store_backend *b, int64_t id, struct store_job **jp)
{
	struct store_job **jobs;
	struct sq_reader *r;
	size_t n;
	int rc;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	sqlite3_bind_int64(r->s[R_GET], 1, id);
	if ((rc = sq_read_jobs(b, r, r->s[R_GET], &jobs, &n)) < 0)
		return rc;
	if (n == 0)
		return store_seterr(-ENOENT, "%s: no job %lld", b->path,
		    (long long)id);
	*jp = jobs[0];
	free(jobs);
	return 0;
}

/* Ids being merged for a filtered list: kept sorted, newest first, and
 * cut to the limit after each (state, queue) pair. */
struct sq_ids {
	int64_t *id;
	size_t n, cap, limit;
};

static int
sq_id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Append the newest ids of (state, queue) below before_id. */
static int
sq_ids_add(struct store_backend *b, struct sq_reader *r, struct sq_ids *ids,
    const char *state, const char *queue, int64_t before_id)
{
	sqlite3_stmt *s = r->s[R_IDS];
	int64_t *nid;
	int rc;

	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, before_id);
	sqlite3_bind_int64(s, 4, (int64_t)ids->limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (ids->n == ids->cap) {
			ids->cap = ids->cap ? 2 * ids->cap : 2 * ids->limit;
			nid = realloc(ids->id, ids->cap * sizeof(*nid));
			if (nid == NULL) {
				sqlite3_reset(s);
				return store_seterr(-ENOMEM,
				    "%s: out of memory", b->path);
			}
			ids->id = nid;
		}
		ids->id[ids->n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return sq_fail(b, r->db, rc, "list jobs");
	if (ids->n > 1)
		qsort(ids->id, ids->n, sizeof(*ids->id), sq_id_cmp);
	if (ids->n > ids->limit)
		ids->n = ids->limit;
	return 0;
}

/* The ids of every pair matching f: one pair, the six states of a queue,
 * or every queue having a state. */
static int
sq_ids_collect(struct store_backend *b, struct sq_reader *r,
    const struct store_filter *f, struct sq_ids *ids)
{
	sqlite3_stmt *s = r->s[R_QUEUES];
	const char *state = store_state_name(f->state);
	int rc = 0, src = SQLITE_DONE;

	if (f->queue != NULL && f->state != STORE_ANY_STATE)
		return sq_ids_add(b, r, ids, state, f->queue, f->before_id);
	if (f->queue != NULL) {
		for (int i = 0; rc == 0 && i < STORE_NSTATES; i++)
			rc = sq_ids_add(b, r, ids, store_state_name(i),
			    f->queue, f->before_id);
		return rc;
	}
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	while (rc == 0 && (src = sqlite3_step(s)) == SQLITE_ROW)
		rc = sq_ids_add(b, r, ids, state,
		    (const char *)sqlite3_column_text(s, 0), f->before_id);
	if (rc == 0 && src != SQLITE_DONE)
		rc = sq_fail(b, r->db, src, "list queues");
	sqlite3_reset(s);
	return rc;
}

/* Read the rows of ids, in their order. */
static int
sq_ids_rows(struct store_backend *b, struct sq_reader *r,
    const struct sq_ids *ids, struct store_job ***jobsp, size_t *np)
{
	struct store_job **jobs, **one;
	size_t n = 0, k;
	int rc = 0;

	if (ids->n == 0)
		return 0;
	if ((jobs = calloc(ids->n, sizeof(*jobs))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->path);
	for (size_t i = 0; rc == 0 && i < ids->n; i++) {
		sqlite3_bind_int64(r->s[R_GET], 1, ids->id[i]);
		rc = sq_collect(b, r->db, r->s[R_GET], &one, &k);
		if (rc == 0 && k == 1)
			jobs[n++] = one[0];
		if (rc == 0)
			free(one);
	}
	if (rc < 0) {
		store_jobs_free(jobs, n);
		return rc;
	}
	*jobsp = jobs;
	*np = n;
	return 0;
}

static int
sq_list_filtered(struct store_backend *b, struct sq_reader *r,
    const struct store_filter *f, struct store_job ***jobsp, size_t *np)
{
	struct sq_ids ids = { .limit = f->limit };
	bool lost;
	int rc;

	if ((rc = sq_step(b, r->s[R_BEGIN], &lost, "list jobs", 0)) < 0)
		return rc;
	if ((rc = sq_ids_collect(b, r, f, &ids)) == 0)
		rc = sq_ids_rows(b, r, &ids, jobsp, np);
	sqlite3_step(r->s[R_COMMIT]);   /* a read: nothing to lose */
	sqlite3_reset(r->s[R_COMMIT]);
	free(ids.id);
	return rc;
}

/* One user's jobs (store.h: by_uid). */
static int
sq_list_uid(struct store_backend *b, struct sq_reader *r,
    const struct store_filter *f, struct store_job ***jobsp, size_t *np)
{
	sqlite3_stmt *s = r->s[R_LIST_UID];

	sqlite3_bind_int64(s, 1, (int64_t)f->uid);
	sqlite3_bind_int64(s, 2, f->before_id);
	if (f->state != STORE_ANY_STATE)
		sqlite3_bind_text(s, 3, store_state_name(f->state), -1,
		    SQLITE_STATIC);
	if (f->queue != NULL)
		sqlite3_bind_text(s, 4, f->queue, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)f->limit);
	return sq_read_jobs(b, r, s, jobsp, np);
}

int
sq_list(struct store_backend *b, const struct store_filter *f,
    struct store_job ***jobsp, size_t *np)
{
	struct sq_reader *r;
	sqlite3_stmt *s;
	int rc;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	if (f->by_uid)
		return sq_list_uid(b, r, f, jobsp, np);
	if (f->state != STORE_ANY_STATE || f->queue != NULL) {
		rc = sq_list_filtered(b, r, f, jobsp, np);
		sq_reader_done(b, r, rc == 0 ? *np : 0);
		return rc;
	}
	s = r->s[R_LIST];
	sqlite3_bind_int64(s, 1, f->before_id);
	sqlite3_bind_int64(s, 2, (int64_t)f->limit);
	return sq_read_jobs(b, r, s, jobsp, np);
}

int
sq_group_jobs(struct store_backend *b, int64_t gid, struct store_job ***jobsp,
    size_t *np)
{
	struct sq_reader *r;
	int rc;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	sqlite3_bind_int64(r->s[R_GROUP_JOBS], 1, gid);
	return sq_read_jobs(b, r, r->s[R_GROUP_JOBS], jobsp, np);
}

int
sq_group_get(struct store_backend *b, int64_t gid, struct store_group *g)
{
	struct sq_reader *r;
	sqlite3_stmt *s;
	int rc;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	s = r->s[R_GROUP];
	sqlite3_bind_int64(s, 1, gid);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		g->id = sqlite3_column_int64(s, 0);
		if (store_group_mode_parse((const char *)sqlite3_column_text(s,
		    1), &g->mode) < 0)
			g->mode = STORE_GROUP_ALL;
		g->size = sqlite3_column_int(s, 2);
		g->created_at = sqlite3_column_double(s, 3);
		memset(&g->submitter, 0, sizeof(g->submitter));
		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			g->submitter.known = true;
			g->submitter.uid = (uid_t)sqlite3_column_int64(s, 4);
			g->submitter.gid = (gid_t)sqlite3_column_int64(s, 5);
			g->submitter.pid = (pid_t)sqlite3_column_int64(s, 6);
		}
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = store_seterr(-ENOENT, "%s: no group %lld", b->path,
		    (long long)gid);
	} else {
		rc = sq_fail(b, r->db, rc, "read group");
	}
	sqlite3_reset(s);
	sq_reader_put(b, r);
	return rc;
}

/* Column i of s as a string copied to *p (advanced), or NULL. */
static char *
sq_col_copy(sqlite3_stmt *s, int i, char **p)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n;

	if (t == NULL)
		return NULL;
	n = (size_t)sqlite3_column_bytes(s, i) + 1;
	memcpy(*p, t, n);
	*p += n;
	return *p - n;
}

static int
sq_row_attempt(const struct store_backend *b, sqlite3_stmt *s,
    struct store_attempt **ap)
{
	struct store_attempt *a;
	size_t total = 0;
	char *p;

	for (int i = 3; i <= 5; i++)
		total += (size_t)sqlite3_column_bytes(s, i) + 1;
	if ((a = calloc(1, sizeof(*a) + total)) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->path);
	p = (char *)(a + 1);
	a->attempt = sqlite3_column_int(s, 0);
	a->started_at = sqlite3_column_double(s, 1);
	a->finished_at = sqlite3_column_double(s, 2);
	a->state = sq_col_copy(s, 3, &p);
	a->error = sq_col_copy(s, 4, &p);
	a->result = sq_col_copy(s, 5, &p);
	*ap = a;
	return 0;
}

/* Append one more slot to *arr of *n (growing by doubling). */
static int
sq_grow(const struct store_backend *b, void ***arr, size_t n, size_t *cap)
{
	void **na;

	if (n < *cap)
		return 0;
	*cap = *cap ? 2 * *cap : 8;
	if ((na = realloc(*arr, *cap * sizeof(*na))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->path);
	*arr = na;
	return 0;
}

int
sq_attempts(struct store_backend *b, int64_t id, struct store_attempt ***ap,
    size_t *np)
{
	struct store_attempt **a = NULL;
	struct sq_reader *r;
	sqlite3_stmt *s;
	size_t n = 0, cap = 0;
	int rc, err = 0;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	s = r->s[R_ATTEMPTS];
	sqlite3_bind_int64(s, 1, id);
	while (err == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((err = sq_grow(b, (void ***)&a, n, &cap)) == 0 &&
		    (err = sq_row_attempt(b, s, &a[n])) == 0)
			n++;
	if (err == 0 && rc != SQLITE_DONE)
		err = sq_fail(b, r->db, rc, "read attempts");
	sqlite3_reset(s);
	sq_reader_put(b, r);
	if (err < 0) {
		store_attempts_free(a, n);
		return err;
	}
	*ap = a;
	*np = n;
	return 0;
}

int
sq_paused(struct store_backend *b, char ***namesp, size_t *np)
{
	char **names = NULL;
	struct sq_reader *r;
	sqlite3_stmt *s;
	size_t n = 0, cap = 0;
	int rc, err = 0;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	s = r->s[R_PAUSED];
	while (err == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((err = sq_grow(b, (void ***)&names, n, &cap)) < 0)
			break;
		if ((names[n] = strdup((const char *)sqlite3_column_text(s,
		    0))) == NULL)
			err = store_seterr(-ENOMEM, "%s: out of memory",
			    b->path);
		else
			n++;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = sq_fail(b, r->db, rc, "read paused queues");
	sqlite3_reset(s);
	sq_reader_put(b, r);
	if (err < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return err;
	}
	*namesp = names;
	*np = n;
	return 0;
}

int
sq_slot_last(struct store_backend *b, const char *schedule, double *slot,
    int64_t *id)
{
	struct sq_reader *r;
	sqlite3_stmt *s;
	int rc, err = 0;

	*slot = 0;
	*id = 0;
	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	s = r->s[R_SLOT_LAST];
	sqlite3_bind_text(s, 1, schedule, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*slot = sqlite3_column_double(s, 0);
		*id = sqlite3_column_int64(s, 1);
	} else if (rc != SQLITE_DONE) {
		err = sq_fail(b, r->db, rc, "read a schedule's last slot");
	}
	sqlite3_reset(s);
	sq_reader_put(b, r);
	return err;
}

int
sq_sched_page(struct store_backend *b, double after_at, int64_t after_id,
    double until, size_t limit, struct store_job ***jobsp, size_t *np)
{
	struct sq_reader *r;
	sqlite3_stmt *s;
	int rc;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	s = r->s[R_PAGE];
	sqlite3_bind_double(s, 1, after_at);
	sqlite3_bind_int64(s, 2, after_id);
	sqlite3_bind_double(s, 3, until);
	sqlite3_bind_int64(s, 4, (int64_t)limit);
	return sq_read_jobs(b, r, s, jobsp, np);
}

int
sq_sched_scan(struct store_backend *b, double after, store_sched_fn fn,
    void *arg)
{
	struct store_sched_row row;
	struct sq_reader *r;
	sqlite3_stmt *s;
	int rc, err = 0;

	if ((rc = sq_reader_get(b, &r)) < 0)
		return rc;
	s = r->s[R_SCAN];
	sqlite3_bind_double(s, 1, after);
	while (err == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.id = sqlite3_column_int64(s, 0);
		row.group_id = sqlite3_column_int64(s, 1);
		row.queue = (const char *)sqlite3_column_text(s, 2);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			row.submitter.known = true;
			row.submitter.uid = (uid_t)sqlite3_column_int64(s, 3);
			row.submitter.gid = (gid_t)sqlite3_column_int64(s, 4);
			row.submitter.pid = (pid_t)sqlite3_column_int64(s, 5);
		}
		err = fn(arg, &row);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = sq_fail(b, r->db, rc, "read scheduled jobs");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	sq_reader_put(b, r);
	return err;
}
