/*
 * tu_fault.h — helpers for the tests that break jobd's storage under it
 * (test_jobd_storage.c, test_jobd_dbfile.c): what a submit answers, what
 * the log and stderr say, and a job caught running by the fault.  Built
 * on tu_jobd.h; like it, every failed check fails the test.
 */
#ifndef JOBD_TU_FAULT_H
#define JOBD_TU_FAULT_H

#include "tu_jobd.h"

/* The queue the fault tests use. */
#define TF_QUEUES "[queue.default]\nworkers = 4\ncapacity = 1000\ntimeout = 0\n"

/* How long the job a fault catches running sleeps: long enough for the
 * test to bring the fault about first, on a slow machine too. */
#define TF_RUN_S (0.5 * tu_slow())

/* The bytes of DIR/name, NUL-terminated, malloc'ed (*lenp: their number,
 * if lenp is not NULL); NULL if it cannot be read. */
char *tf_slurp(const char *name, size_t *lenp);

/* What the last tj_run_jobd wrote (DIR/other.err) has needle. */
void tf_stderr_has(const char *needle);

/* jobd's log has needle, within TJ_TIMEOUT (a line may come just after
 * the answer it explains). */
void tf_log_has(const char *needle);

/* Submit a sleep; the answer, which may be an error. */
json_t *tf_try_submit(struct tj_conn *c, double seconds);

/* The answer is storage_error and its message has n1 and (unless NULL)
 * n2. */
void tf_assert_storage_error(json_t *a, const char *n1, const char *n2);

/* Start a job of TF_RUN_S s on c and return its id once it runs. */
json_int_t tf_start_running(struct tj_conn *c);

/* The job (from tf_start_running) has ended while the database refused its
 * end: jobd holds the end, the database and get still say running, and a
 * wait is not answered as if it had ended. */
void tf_assert_end_held(struct tj_conn *c, json_int_t id);

/* Once the fault has cleared: the held end is written as it happened, and
 * the log says the last held end is. */
void tf_assert_end_written(struct tj_conn *c, json_int_t id);

#endif
