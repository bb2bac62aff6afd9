/*
 * test_jobd_isolate.c — no process of an exec job outlives it (issue 17,
 * docs/SECURITY.md "Containment"), with the real jobd, both ways jobd
 * contains jobs:
 *   sub  cgroup = no: jobd is the jobs' subreaper and kills what they leave;
 *   cg   a cgroup v2 per job, in a cgroup the test makes and marks
 *        delegated (tu_cgroup.h: trusted.delegate, as systemd's
 *        Delegate=yes does), with only jobd in it (a wrapper moves jobd in
 *        before exec).
 * Each job leaves a setsid child, a double-forked one and a setsid one
 * that double-forks; they are found by a marker in their argv (a sleep of
 * MARK seconds, a number unique to the test process).  Checked: none is
 * left when a job exits, times out or is cancelled; none when jobd itself
 * is SIGKILLed (the guardian); none after 1,000 such jobs; no job cgroup
 * left after its job, nothing alive in the test's cgroup after jobd; the
 * sub way's refusal of limits.  The limits themselves, and cgroup = yes
 * without a cgroup: test_jobd_cgroup.  Where the cg way cannot be had
 * (not root, no cgroup2, a cgroup the test may not make) each test prints
 * why.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tu_cgroup.h"
#include "tu_jobd.h"

enum way { SUB, CG };

static char cg_why[1024];       /* why there is no cgroup */

/* ---- markers ------------------------------------------------------------- */

/* The sleep that marks this test's processes: "4000.PID". */
static const char *
mark(void)
{
	static char m[32];

	snprintf(m, sizeof(m), "4000.%d", (int)getpid());
	return m;
}

/* Processes whose argv holds the marker. */
static int
count_marked(void)
{
	char path[300], buf[256];
	struct dirent *de;
	int n = 0, fd;
	ssize_t len;
	DIR *d = opendir("/proc");

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;       /* a zombie: dead already */
		buf[len] = '\0';
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		if (strstr(buf, mark()) != NULL)
			n++;
	}
	closedir(d);
	return n;
}

/* Wait (bounded) until no marked process is left; the count then. */
static int
marked_left(double timeout)
{
	double end = tj_now() + timeout * tu_slow();
	int n;

	while ((n = count_marked()) > 0 && tj_now() < end)
		tj_sleep(0.01);
	return n;
}

/* The shell text of a job that leaves three strays, then runs tail. */
static const char *
leaver(const char *tail)
{
	static char cmd[512];

	snprintf(cmd, sizeof(cmd), "setsid sleep %s & (sleep %s &); "
	    "(setsid sh -c \\u0027sleep %s &\\u0027 &); sleep 0.05; %s",
	    mark(), mark(), mark(), tail);
	return cmd;
}

/* Start jobd the given way; false (after saying why) if it cannot be. */
static bool
start(enum way w, const char *daemon_keys, const char *queue_keys)
{
	const char *log, *line;

	if (w == CG && !tu_cg_make(true, cg_why, sizeof(cg_why))) {
		printf("%s: the cgroup way not run here: %s\n",
		    "test_jobd_isolate", cg_why);
		return false;
	}
	tj_start(TJ_DAEMON "cgroup = %s\nexec_concurrency = 8\n%s\n"
	    "[queue.default]\nworkers = 16\ncapacity = 2000\ntimeout = 0\n%s",
	    w == CG ? "auto" : "no", daemon_keys, queue_keys);
	log = tj_log();
	line = strstr(log, "exec jobs: ");
	ck_assert_msg(line != NULL, "no containment line in the log: %s", log);
	ck_assert_msg(strstr(line, w == CG ? "a cgroup per job" :
	    "no cgroup (cgroup = no)") != NULL, "%s", line);
	return true;
}

static void
stop(enum way w)
{
	if (w == CG)
		tu_cg_jobs_gone();
	tj_stop();
	if (w == CG)
		tu_cg_remove(false);
}

/* ---- the tests ----------------------------------------------------------- */

/* auto says which way it took, and why not a cgroup when it did not. */
START_TEST(test_auto_says_why)
{
	const char *line;

	tj_start(TJ_DAEMON "[queue.default]\nworkers = 1\n");
	line = strstr(tj_log(), "exec jobs: ");
	ck_assert_ptr_nonnull(line);
	printf("test_auto_says_why: %.*s\n", (int)strcspn(line, "\n"), line);
	ck_assert_msg(strstr(line, "a cgroup per job under ") != NULL ||
	    (strstr(line, "no cgroup (") != NULL && strstr(line,
	    "subreaper") != NULL), "%s", line);
}
END_TEST

/* Exit, timeout, cancel: whatever the job left is gone when it ends. */
static void
ends(enum way w)
{
	struct tj_conn *c;
	json_t *job;
	json_int_t id;

	if (!start(w, "kill_grace = 0.2\n", ""))
		return;
	c = tj_connect();
	id = tj_submit(c, "'kind':'exec','args':{'argv':['sh','-c','%s']}",
	    leaver("echo done"));
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_str_eq(tj_str(job, "result.stdout"), "done\n");
	ck_assert_msg(marked_left(2.0) == 0, "after an exit: %d left",
	    count_marked());

	id = tj_submit(c, "'kind':'exec','timeout':0.5,'args':{'argv':['sh',"
	    "'-c','%s']}", leaver("sleep 100"));
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "timed_out");
	ck_assert_msg(marked_left(2.0) == 0, "after a timeout: %d left",
	    count_marked());

	id = tj_submit(c, "'kind':'exec','args':{'argv':['sh','-c','%s']}",
	    leaver("echo up; sleep 100"));
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	while (count_marked() < 3)
		tj_sleep(0.01);         /* the test's timeout bounds it */
	ck_assert(tj_code(tj_req(c, "{'op':'cancel','id':%lld}",
	    (long long)id)) == NULL);
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "cancelled");
	ck_assert_msg(marked_left(2.0) == 0, "after a cancel: %d left",
	    count_marked());
	tj_close(c);
	stop(w);
}

START_TEST(test_ends_sub) { ends(SUB); }
END_TEST

START_TEST(test_ends_cg) { ends(CG); }
END_TEST

/* jobd SIGKILLed: the guardian kills its jobs' whole trees. */
static void
jobd_killed(enum way w)
{
	struct tj_conn *c;
	json_int_t id;
	int before;

	if (!start(w, "", ""))
		return;
	c = tj_connect();
	id = tj_submit(c, "'kind':'exec','args':{'argv':['sh','-c','%s']}",
	    leaver("exec sleep 100"));
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	while ((before = count_marked()) < 3)
		tj_sleep(0.01);
	tj_close(c);
	tj_kill();
	ck_assert_msg(marked_left(TJ_TIMEOUT) == 0, "%d of %d outlived a "
	    "SIGKILLed jobd", count_marked(), before);
	if (w == CG) {
		tu_cg_jobs_gone();      /* the guardian's doing */
		tu_cg_remove(true);     /* jobd had no time for jobs/ */
	}
}

START_TEST(test_jobd_killed_sub) { jobd_killed(SUB); }
END_TEST

START_TEST(test_jobd_killed_cg) { jobd_killed(CG); }
END_TEST

/* The sweep: 1,000 jobs, each leaving its three strays; none is left. */
static void
sweep(enum way w)
{
	struct tj_conn *c;
	int i;

	if (!start(w, "", ""))
		return;
	c = tj_connect();
	for (i = 0; i < 1000; i++)
		(void)tj_submit(c, "'kind':'exec','args':{'argv':['sh','-c',"
		    "'%s']}", leaver("exit 0"));
	tj_wait_idle(c, 60 * TJ_TIMEOUT);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'"), 1000);
	ck_assert_msg(marked_left(2.0) == 0, "%d processes outlived their job",
	    count_marked());
	tj_close(c);
	stop(w);
}

START_TEST(test_sweep_sub) { sweep(SUB); }
END_TEST

START_TEST(test_sweep_cg) { sweep(CG); }
END_TEST

/* Without a cgroup a limit fails the job saying why; a queue's cap
 * refuses more than it (the cgroup way: test_jobd_cgroup). */
START_TEST(test_limits_sub)
{
	struct tj_conn *c;
	json_t *job;
	json_int_t id;

	if (!start(SUB, "", "exec_pids_max = 20\n"))
		return;
	c = tj_connect();
	id = tj_submit(c, "'kind':'exec','args':{'pids_max':4,'argv':['sh','-c',"
	    "'for i in 1 2 3 4 5 6 7 8; do sleep %s & done; echo ran']}",
	    mark());
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "pids_max needs a cgroup") !=
	    NULL, "%s", tj_str(job, "error"));
	id = tj_submit(c, "'kind':'exec','args':{'pids_max':21,'argv':['true']}");
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "exec_pids_max") != NULL,
	    "%s", tj_str(job, "error"));
	ck_assert_msg(marked_left(2.0) == 0, "left: %d", count_marked());
	tj_close(c);
	stop(SUB);
}
END_TEST

static Suite *
isolate_suite(void)
{
	Suite *s = suite_create("jobd_isolate");
	TCase *tc = tj_tcase("isolate", 240);

	tu_cg_fixture(tc);

	tcase_add_test(tc, test_auto_says_why);
	tcase_add_test(tc, test_ends_sub);
	tcase_add_test(tc, test_ends_cg);
	tcase_add_test(tc, test_jobd_killed_sub);
	tcase_add_test(tc, test_jobd_killed_cg);
	tcase_add_test(tc, test_limits_sub);
	tcase_add_test(tc, test_sweep_sub);
	tcase_add_test(tc, test_sweep_cg);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(isolate_suite());
}
