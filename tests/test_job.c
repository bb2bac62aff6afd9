/*
 * test_job.c — the job state machine (daemon/job.c) on a bare job: every
 * pair of states, legal moves made and illegal ones refused, the
 * stage-two states present, and job_move ending jobd on an illegal move.
 * test_engine.c (test_every_move) checks the real engine makes the legal
 * moves of today.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_int.h"
#include "log.h"
#include "testutil.h"

/* The moves the contract (docs/PROTOCOL.md) and job.c's header allow. */
static bool
expected(enum job_where f, enum job_where t)
{
	static const enum job_where ok[][2] = {
		{ J_NEW, J_PUTTING }, { J_NEW, J_INQ }, { J_NEW, J_ENDING },
		{ J_NEW, J_SCHEDULED }, { J_NEW, J_WAITING },
		{ J_PUTTING, J_NEW }, { J_PUTTING, J_INQ },
		{ J_INQ, J_TAKEN }, { J_INQ, J_ENDING },
		{ J_TAKEN, J_INQ }, { J_TAKEN, J_RUNNING }, { J_TAKEN, J_ENDING },
		{ J_RUNNING, J_INQ }, { J_RUNNING, J_ENDING },
		{ J_RUNNING, J_SCHEDULED },
		{ J_SCHEDULED, J_INQ }, { J_SCHEDULED, J_ENDING },
		{ J_WAITING, J_INQ }, { J_WAITING, J_SCHEDULED },
		{ J_WAITING, J_ENDING },
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ok[i][0] == f && ok[i][1] == t)
			return true;
	return false;
}

START_TEST(test_table)
{
	struct job j;
	int f, t, nlegal = 0;

	for (f = 0; f < J_NWHERE; f++)
		for (t = 0; t < J_NWHERE; t++) {
			memset(&j, 0, sizeof(j));
			j.where = f;
			ck_assert_msg(job_move_legal(f, t) == expected(f, t),
			    "%s -> %s", job_where_name(f), job_where_name(t));
			if (expected(f, t)) {
				ck_assert_int_eq(job_try_move(&j, t), 0);
				ck_assert_int_eq(j.where, t);
				nlegal++;
			} else {
				ck_assert_int_eq(job_try_move(&j, t), -EINVAL);
				ck_assert_int_eq(j.where, f);
			}
		}
	ck_assert_int_eq(nlegal, 20);
	/* Nothing leaves ENDING, nothing goes back to a state before NEW. */
	for (t = 0; t < J_NWHERE; t++)
		ck_assert(!job_move_legal(J_ENDING, t));
	ck_assert(!job_move_legal(J_NWHERE, J_INQ));
	ck_assert(!job_move_legal(J_INQ, J_NWHERE));
}
END_TEST

START_TEST(test_contract_names)
{
	ck_assert_str_eq(job_where_contract(J_NEW), "queued");
	ck_assert_str_eq(job_where_contract(J_PUTTING), "queued");
	ck_assert_str_eq(job_where_contract(J_INQ), "queued");
	ck_assert_str_eq(job_where_contract(J_TAKEN), "queued");
	ck_assert_str_eq(job_where_contract(J_RUNNING), "running");
	ck_assert_str_eq(job_where_contract(J_SCHEDULED), "scheduled");
	ck_assert_str_eq(job_where_contract(J_WAITING), "waiting");
	ck_assert_str_eq(job_where_name(J_INQ), "in_queue");
	ck_assert_str_eq(job_where_name(J_NWHERE), "?");
}
END_TEST

/* An illegal move is a bug: jobd stops (exit 1) with a log line.  The
 * move is made in a child of the test's own, so this holds in Check's
 * no-fork mode too (the valgrind level). */
START_TEST(test_illegal_move_exits)
{
	struct job j;
	pid_t pid;
	int st;

	memset(&j, 0, sizeof(j));
	j.id = 7;
	j.where = J_ENDING;
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		job_move(&j, J_RUNNING);
		_exit(3);       /* job_move went on after an illegal move */
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "an illegal move did not exit 1 (status %#x)", st);
}
END_TEST

START_TEST(test_legal_move_counts)
{
	struct eng *e = calloc(1, sizeof(*e));
	struct job j;

	ck_assert_ptr_nonnull(e);
	memset(&j, 0, sizeof(j));
	j.e = e;
	job_move(&j, J_INQ);
	job_move(&j, J_TAKEN);
	ck_assert_int_eq(job_try_move(&j, J_NEW), -EINVAL);
	ck_assert_uint_eq(e->moves[J_NEW][J_INQ], 1);
	ck_assert_uint_eq(e->moves[J_INQ][J_TAKEN], 1);
	ck_assert_uint_eq(e->moves[J_TAKEN][J_NEW], 0);
	free(e);
}
END_TEST

static Suite *
job_suite(void)
{
	Suite *s = suite_create("job");
	TCase *tc = tcase_create("job");

	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_contract_names);
	tcase_add_test(tc, test_legal_move_counts);
	tcase_add_test(tc, test_illegal_move_exits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init("test_job", LOG_LVL_WARNING);
	return tu_main(job_suite());
}
