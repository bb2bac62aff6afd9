/*
 * tu_store.h — the fixture the store suites share (test_store.c, run
 * against every backend, and test_store_sqlite.c): a fresh database per
 * test, callbacks recorded in order with the thread they ran on, and short
 * helpers for writes and reads through store.h only.
 */
#ifndef JOBD_TU_STORE_H
#define JOBD_TU_STORE_H

#include <pthread.h>
#include <stdint.h>

#include <check.h>

#include "store.h"

#define TS_MAXCB 40000

extern const char *ts_backend;          /* the backend under test */
extern char ts_dir[64];                 /* a fresh directory per test */
extern char ts_path[128];               /* ts_dir/jobs.db, or postgresql's
                                         * conninfo of a fresh database */
extern struct store *ts_st;             /* closed by ts_teardown */

extern int ts_ncb;                      /* callbacks so far */
extern int ts_cb_status[TS_MAXCB];
extern intptr_t ts_cb_tag[TS_MAXCB];
extern int ts_cb_off_loop;              /* callbacks on another thread */

/* Test backend (main, before the suite forks): for postgresql, start the
 * throwaway cluster (tu_pg.h); -1 with the reason printed if it cannot. */
int ts_backend_init(const char *backend);
/* A store suite's main: the backend argv[1] (default sqlite; it must be
 * built), ts_backend_init, the suite(backend) run, the cluster stopped. */
int ts_main(int argc, char **argv, const char *prog,
    Suite *(*suite)(const char *backend));
void ts_setup(void);
void ts_teardown(void);
/* The SQLite file at ts_path, on a connection of the test's own (as the
 * sqlite3 shell would see it): the first column of sql's first row (-1
 * if none), and sql's EXPLAIN QUERY PLAN, its steps joined by "; ". */
int64_t ts_db_int(const char *sql);
void ts_db_plan(const char *sql, char *buf, size_t len);
/* Remove a SQLite file and its -wal and -shm. */
void ts_rm_db(const char *p);

/* A store_cb recording (arg as a tag, status). */
void ts_rec(void *arg, int status);
void ts_rec_reset(void);
/* Run the loop until n callbacks in all have come. */
void ts_pump(int n);

/* The options for ts_backend at ts_path, sync normal. */
struct store_opts ts_opts(void);
void ts_open_opts(const struct store_opts *o);
void ts_open_default(void);
void ts_reopen(void);

struct store_new_job ts_job(const char *queue, const char *args);
/* A job with every field set: queue q1, name "label", args {"n":2,...}. */
struct store_new_job ts_job_full(void);
/* Insert a job; tag is what ts_rec() records. */
int64_t ts_insert(const struct store_new_job *j, intptr_t tag);
int64_t ts_insert_q(const char *queue);
void ts_start(int64_t id);
void ts_end(int64_t id, enum store_state s, const char *result,
    const char *error, const char *reason);
struct store_job *ts_get(int64_t id);
/* Callbacks from .. to - 1 all got 0. */
void ts_all_ok(int from, int to);
void ts_assert_msg_has(const char *what);
/* Jobs in state (or STORE_ANY_STATE) of queue (NULL: any), through
 * store_list: what every backend can answer. */
int64_t ts_count(int state, const char *queue);

#endif /* JOBD_TU_STORE_H */
