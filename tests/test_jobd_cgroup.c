/*
 * test_jobd_cgroup.c — the limits of an exec job's cgroup, for real, and
 * what jobd says when it has no cgroup to give (issue 17,
 * docs/SECURITY.md "Containment").
 *
 * jobd runs in a cgroup the test makes at the top of the cgroup2 mount and
 * marks delegated (tu_cgroup.h), as jobd.service's Delegate= gives it
 * one.  For each of pids, memory and cpu: where that cgroup has the
 * controller, a job proves the limit holds (a fork bomb stops at
 * pids.max, a memory hog is killed at memory.max, a busy loop is
 * throttled by cpu.max, each job reading its own cgroup's files); where it
 * has not, the test prints exactly why (from /proc/cgroups) and checks
 * that a job asking for the limit fails saying so.  Each job's cgroup is
 * gone after it, nothing is left in the test's cgroup after jobd.  Also:
 * cgroup = yes in the root cgroup refuses to start, saying why; cgroup =
 * auto in a cgroup not marked delegated leaves it alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tu_cgroup.h"
#include "tu_jobd.h"
#include "tu_users.h"

#define PROG "test_jobd_cgroup"

/* The sleep that marks this test's processes: "4001.PID". */
static const char *
mark(void)
{
	static char m[32];

	snprintf(m, sizeof(m), "4001.%d", (int)getpid());
	return m;
}

/* Is a process with the marker in its argv left?  (The bracket keeps
 * pgrep's own shell from matching.) */
static bool
any_marked(void)
{
	return tu_sh("pgrep -f 'slee[p] %s'", mark()) == 0;
}

/* Shell text (builtins only: a job at its pids.max cannot fork) that sets
 * $c to the job's own cgroup directory. */
static const char *
own_cg_sh(void)
{
	static char sh[512];

	snprintf(sh, sizeof(sh), "while read -r l; do case $l in 0::*) "
	    "p=${l#0::};; esac; done </proc/self/cgroup; c=%s$p; ",
	    tu_cg_mount());
	return sh;
}

/* A job asking for a limit jobd cannot set fails, saying which and why
 * (jobd's reason agrees with the test's). */
static void
refused(struct tj_conn *c, const char *name, const char *field, bool v1)
{
	json_t *job;
	const char *err;
	json_int_t id;

	id = tj_submit(c, "'kind':'exec','args':{%s,'argv':['true']}", field);
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	err = tj_str(job, "error");
	printf("%s: jobd says: %s\n", PROG, err);
	ck_assert_msg(strstr(err, name) != NULL && strstr(err,
	    "controller is not enabled") != NULL, "%s", err);
	ck_assert_msg(!v1 || strstr(err, "cgroup v1") != NULL, "%s", err);
	tu_cg_jobs_gone();
}

/* A fork bomb (a subshell forking sleeps without end) under pids_max 16:
 * its fork fails, the job then reads its cgroup: pids.max 16, at most 16
 * processes, and pids.events counted the refusals. */
static void
real_pids(struct tj_conn *c)
{
	long max, cur, events;
	json_t *job;
	json_int_t id;

	id = tj_submit(c, "'kind':'exec','args':{'pids_max':16,'argv':['sh',"
	    "'-c','( while :; do sleep %s & done ) 2>/dev/null; %s"
	    "read m <$c/pids.max; read n <$c/pids.current; while read k v; "
	    "do case $k in max) e=$v;; esac; done <$c/pids.events; "
	    "echo $m $n $e']}", mark(), own_cg_sh());
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_msg(strcmp(tj_str(job, "state"), "succeeded") == 0, "%s: %s",
	    tj_str(job, "state"), tj_str(job, "result.stderr"));
	ck_assert_msg(sscanf(tj_str(job, "result.stdout"), "%ld %ld %ld", &max,
	    &cur, &events) == 3, "%s", tj_str(job, "result.stdout"));
	printf("%s: fork bomb: pids.max %ld, pids.current %ld, pids.events "
	    "max %ld\n", PROG, max, cur, events);
	ck_assert_int_eq(max, 16);
	ck_assert(cur >= 2 && cur <= 16);
	ck_assert_int_ge(events, 1);
	tu_cg_jobs_gone();
	ck_assert_msg(!any_marked(), "the bomb's sleeps outlived it");
}

/* A 200 MB buffer (dd) under memory_max 32 MiB: the OOM killer kills it
 * inside the job, which fails "killed by SIGKILL" (docs/EXEC.md); first
 * the job shows its memory.max and memory.swap.max (0 where there is
 * one). */
static void
real_memory(struct tj_conn *c)
{
	long long max = 0;
	char swap[32] = "";
	json_t *job;
	json_int_t id;

	id = tj_submit(c, "'kind':'exec','args':{'memory_max':33554432,"
	    "'argv':['sh','-c','%s read m <$c/memory.max; { read s "
	    "<$c/memory.swap.max; } 2>/dev/null; echo $m $s; exec dd if=/dev/zero "
	    "of=/dev/null bs=200M count=1']}", own_cg_sh());
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_int_ge(sscanf(tj_str(job, "result.stdout"), "%lld %31s", &max,
	    swap), 1);
	printf("%s: memory hog: memory.max %lld, memory.swap.max %s; %s, %s\n",
	    PROG, max, swap[0] != '\0' ? swap : "(no swap accounting)",
	    tj_str(job, "state"), tj_str(job, "error"));
	ck_assert_int_eq(max, 33554432);
	ck_assert(swap[0] == '\0' || strcmp(swap, "0") == 0);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "killed by SIGKILL");
	ck_assert_str_eq(tj_str(job, "result.signal"), "SIGKILL");
	tu_cg_jobs_gone();
}

/* cpu_max 0.1: the job's cpu.max says 10 ms per 100 ms, and a busy loop
 * of ~0.1 s of CPU is throttled (cpu.stat nr_throttled). */
static void
real_cpu(struct tj_conn *c)
{
	long quota, period, throttled;
	json_t *job;
	json_int_t id;

	id = tj_submit(c, "'kind':'exec','args':{'cpu_max':0.1,'argv':['sh',"
	    "'-c','%s i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done; "
	    "read q <$c/cpu.max; while read k v; do case $k in "
	    "nr_throttled) t=$v;; esac; done <$c/cpu.stat; echo $q $t']}",
	    own_cg_sh());
	job = tj_wait(c, id, 10 * TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_msg(sscanf(tj_str(job, "result.stdout"), "%ld %ld %ld",
	    &quota, &period, &throttled) == 3, "%s",
	    tj_str(job, "result.stdout"));
	printf("%s: cpu: cpu.max %ld %ld, nr_throttled %ld\n", PROG, quota,
	    period, throttled);
	ck_assert_int_eq(quota, 10000);
	ck_assert_int_eq(period, 100000);
	ck_assert_int_ge(throttled, 1);
	tu_cg_jobs_gone();
}

START_TEST(test_limits)
{
	static const char *const fields[3] = { "'pids_max':16",
	    "'memory_max':33554432", "'cpu_max':0.5" };
	static const char *const names[3] = { "pids", "memory", "cpu" };
	void (*real[3])(struct tj_conn *) = { real_pids, real_memory,
	    real_cpu };
	char path[600], offered[256], why[600], field[32];
	struct tj_conn *c;
	const char *line;
	json_t *job;
	json_int_t id;
	bool v1;
	int i;

	if (!tu_cg_make(true, why, sizeof(why))) {
		printf("%s: limits not tested: %s\n", PROG, why);
		return;
	}
	tj_start(TJ_DAEMON "cgroup = auto\n[queue.default]\nworkers = 4\n"
	    "[queue.capped]\nworkers = 1\nexec_pids_max = 20\n");
	ck_assert_ptr_nonnull(line = strstr(tj_log(), "exec jobs: "));
	printf("%s: %.*s\n", PROG, (int)strcspn(line, "\n"), line);
	ck_assert_msg(strstr(line, "a cgroup per job") != NULL, "%s", line);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", tu_cg_dir());
	tu_cg_read(path, offered, sizeof(offered));
	c = tj_connect();
	for (i = 0; i < 3; i++) {
		snprintf(field, sizeof(field), "%s_max", names[i]);
		if (tu_cg_in_list(offered, names[i])) {
			real[i](c);
			continue;
		}
		printf("%s: %s not tested for real: %s; checks jobd's "
		    "refusal\n", PROG, field, tu_cg_why_no(names[i], &v1, why,
		    sizeof(why)));
		refused(c, field, fields[i], v1);
	}
	id = tj_submit(c, "'kind':'exec','queue':'capped','args':{'pids_max':"
	    "21,'argv':['true']}");
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "exec_pids_max") != NULL,
	    "%s", tj_str(job, "error"));
	tu_cg_jobs_gone();
	tj_close(c);
	tj_stop();
	tu_cg_remove(false);
}
END_TEST

/* cgroup = yes with jobd in the root cgroup: jobd does not start, and
 * says why and what would do. */
START_TEST(test_yes_in_root)
{
	struct tj_spawn sp = { .nowait = true };
	char wrap[600];
	FILE *f;
	int code;

	if (geteuid() != 0 || tu_cg_mount()[0] == '\0') {
		printf("%s: cgroup = yes in the root cgroup not tested: %s\n",
		    PROG, geteuid() != 0 ? "not root" : "no cgroup2 mount");
		return;
	}
	snprintf(wrap, sizeof(wrap), "%s", tj_path("rootwrap"));
	ck_assert_ptr_nonnull(f = fopen(wrap, "we"));
	fprintf(f, "#!/bin/sh\necho $$ >%s/cgroup.procs || exit 125\n"
	    "exec \"$@\"\n", tu_cg_mount());
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(wrap, 0755), 0);
	ck_assert_int_eq(setenv("JOBD_TEST_WRAPPER", wrap, 1), 0);
	tj_spawn_next(&sp);
	tj_start(TJ_DAEMON "cgroup = yes\n[queue.default]\nworkers = 1\n");
	code = tj_wait_exit(TJ_TIMEOUT);
	unsetenv("JOBD_TEST_WRAPPER");
	printf("%s: %s", PROG, tj_log());
	ck_assert_int_eq(code, 1);
	ck_assert_msg(strstr(tj_log(), "cgroup = yes: jobd is in the root "
	    "cgroup") != NULL && strstr(tj_log(), "Delegate=") != NULL,
	    "%s", tj_log());
}
END_TEST

/* cgroup = auto in a cgroup not marked delegated: the subreaper, saying
 * so, and the cgroup untouched; cgroup = yes there uses it. */
START_TEST(test_not_delegated)
{
	char why[600], path[600];
	const char *line;

	if (!tu_cg_make(false, why, sizeof(why))) {
		printf("%s: an undelegated cgroup not tested: %s\n", PROG, why);
		return;
	}
	tj_start(TJ_DAEMON "cgroup = auto\n[queue.default]\nworkers = 1\n");
	ck_assert_ptr_nonnull(line = strstr(tj_log(), "exec jobs: "));
	ck_assert_msg(strstr(line, "is not delegated to it (no "
	    "trusted.delegate mark") != NULL && strstr(line, "subreaper") !=
	    NULL, "%.*s", (int)strcspn(line, "\n"), line);
	snprintf(path, sizeof(path), "%s/daemon", tu_cg_dir());
	ck_assert_msg(access(path, F_OK) < 0, "auto divided an undelegated "
	    "cgroup");
	tj_stop();
	tj_conf(TJ_DAEMON "cgroup = yes\n[queue.default]\nworkers = 1\n");
	tj_restart();
	ck_assert_ptr_nonnull(line = strstr(tj_log(), "a cgroup per job "));
	ck_assert_int_eq(access(path, F_OK), 0);
	tj_stop();
	tu_cg_remove(false);
}
END_TEST

static Suite *
cgroup_suite(void)
{
	Suite *s = suite_create("jobd_cgroup");
	TCase *tc = tj_tcase("cgroup", 120);

	tu_cg_fixture(tc);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_yes_in_root);
	tcase_add_test(tc, test_not_delegated);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);       /* a failed test _exits */
	return tu_main(cgroup_suite());
}
