/*
 * test_jobd_exec.c — `exec` jobs through the real jobd (docs/EXEC.md):
 * argv as given, 10 MiB of stdin, env and cwd, exit codes, a program that
 * is missing, 32 MiB of output cut at max_output, death by a signal, the
 * SIGTERM-then-SIGKILL stop after kill_grace, timeouts and cancels that
 * keep the output, no grandchild left after a job, no child left after
 * jobd is SIGKILLed, exec_concurrency never exceeded, allow_exec = no, and
 * the result read back with the sqlite3 shell.
 *
 * Each test starts its own jobd on a fresh directory (tu_jobd.h).  In the
 * request texts ' stands for " (so \' is an escaped "), and \u0027 is a
 * real ' for the shell.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_jobd.h"
#include "tu_pg.h"

#define MIB (1024u * 1024)

#define EXEC_QUEUES                                                          \
	"[queue.default]\nworkers = 8\ncapacity = 100\ntimeout = 0\n"

static struct tj_conn *
start(const char *daemon_keys)
{
	tj_start(TJ_DAEMON "%s\n" EXEC_QUEUES, daemon_keys);
	return tj_connect();
}

/* Submit an exec job with these args (inside of the args object) and
 * wait for its end. */
static json_t *
run_exec(struct tj_conn *c, const char *args)
{
	json_int_t id = tj_submit(c, "'kind':'exec','args':{%s}", args);

	return tj_wait(c, id, TJ_TIMEOUT);
}

/* The pid a job wrote to the file name of the test's directory, once it
 * is there. */
static int
pid_from(const char *name)
{
	double end = tj_now() + TJ_TIMEOUT;
	char line[32] = "";
	FILE *f;

	while (strchr(line, '\n') == NULL && tj_now() < end) {
		tj_sleep(0.005);
		if ((f = fopen(tj_path(name), "re")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	ck_assert_msg(atoi(line) > 1, "no pid in %s", name);
	return atoi(line);
}

/* ---- what goes in and out ------------------------------------------------ */

START_TEST(test_argv_unchanged)
{
	struct tj_conn *c = start("");
	json_t *job;
	json_int_t id;

	job = run_exec(c, "'argv':['printf','%s|\\n','two words',"
	    "'\\'quoted\\'','\\u0027single\\u0027','back\\\\slash',"
	    "'\\u00e9t\\u00e9 \\u2603 \\ud83d\\ude00','','*','$(id) ;|&']");
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_str_eq(tj_str(job, "result.stdout"), "two words|\n"
	    "\"quoted\"|\n'single'|\nback\\slash|\n"
	    "\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80|\n|\n*|\n"
	    "$(id) ;|&|\n");
	ck_assert_str_eq(tj_str(job, "result.stderr"), "");
	ck_assert_int_eq(tj_int(job, "result.exit_code"), 0);
	ck_assert(tj_null(job, "result.signal"));
	ck_assert(json_is_false(tj_at(job, "result.truncated")));
	ck_assert(tj_null(job, "error"));

	/* The result as the README reads it, with the sqlite3 shell (or
	 * psql: PostgreSQL's JSON operators). */
	id = tj_int(job, "id");
	if (tu_pg_wanted())
		ck_assert_str_eq(tj_sql("SELECT state, result->>'exit_code', "
		    "result->>'truncated', length(result->>'stdout') FROM jobs "
		    "WHERE id = %lld", (long long)id), "succeeded|0|false|68");
	else
		ck_assert_str_eq(tj_sql("SELECT state, json_extract(result, "
		    "'$.exit_code'), json_extract(result, '$.truncated'), "
		    "length(json_extract(result, '$.stdout')) FROM jobs WHERE "
		    "id = %lld", (long long)id), "succeeded|0|0|68");
}
END_TEST

/* 10 MiB of stdin, echoed back whole by cat (max_output 16M). */
START_TEST(test_stdin_10mib)
{
	struct tj_conn *c = start("max_line = 32M\nmax_output = 16M\n");
	size_t n = 10 * MIB;
	char *in = malloc(n + 1), *line;
	json_t *req, *job;
	json_int_t id;

	for (size_t i = 0; i < n; i++)
		in[i] = i % 61 == 60 ? '\n' : (char)('!' + i % 90);
	in[n] = '\0';
	req = json_pack("{s:s,s:s,s:{s:[s],s:s%}}", "op", "submit", "kind",
	    "exec", "args", "argv", "cat", "stdin", in, n);
	line = json_dumps(req, JSON_COMPACT);
	tj_write(c, line, strlen(line));
	tj_write(c, "\n", 1);
	free(line);
	json_decref(req);
	job = tj_recv(c);
	tj_assert_ok(job);
	id = tj_int(job, "id");
	job = tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_uint_eq(json_string_length(tj_at(job, "result.stdout")), n);
	ck_assert(memcmp(tj_str(job, "result.stdout"), in, n) == 0);
	ck_assert(json_is_false(tj_at(job, "result.truncated")));
	free(in);
}
END_TEST

START_TEST(test_env_cwd_job_id)
{
	struct tj_conn *c = start("");
	char want[256];
	json_t *job;

	job = run_exec(c, "'argv':['sh','-c','pwd; echo \\'$GREETING\\' "
	    "$JOBD_JOB_ID; echo ${HOME+home is set}'],'cwd':'/usr/share',"
	    "'env':{'GREETING':'hello,  world'}");
	snprintf(want, sizeof(want), "/usr/share\nhello,  world %lld\n"
	    "home is set\n", (long long)tj_int(job, "id"));
	ck_assert_str_eq(tj_str(job, "result.stdout"), want);
}
END_TEST

START_TEST(test_exit_codes)
{
	struct tj_conn *c = start("");
	json_t *job;

	job = run_exec(c, "'argv':['sh','-c','echo out; echo err >&2; "
	    "exit 3']");
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "exited with status 3");
	ck_assert_int_eq(tj_int(job, "result.exit_code"), 3);
	ck_assert(tj_null(job, "result.signal"));
	ck_assert_str_eq(tj_str(job, "result.stdout"), "out\n");
	ck_assert_str_eq(tj_str(job, "result.stderr"), "err\n");

	job = run_exec(c, "'argv':['false']");
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_int_eq(tj_int(job, "result.exit_code"), 1);
	job = run_exec(c, "'argv':['true']");
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");

	job = run_exec(c, "'argv':['sh','-c','echo going; kill -9 $$']");
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "killed by SIGKILL");
	ck_assert(tj_null(job, "result.exit_code"));
	ck_assert_str_eq(tj_str(job, "result.signal"), "SIGKILL");
	ck_assert_str_eq(tj_str(job, "result.stdout"), "going\n");
}
END_TEST

START_TEST(test_cannot_start)
{
	struct tj_conn *c = start("");
	json_t *job;

	job = run_exec(c, "'argv':['no-such-program-anywhere','--help']");
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "cannot start "
	    "\"no-such-program-anywhere\": No such file or directory");
	ck_assert(tj_null(job, "result"));
	ck_assert_int_eq(tj_int(job, "attempts"), 1);

	job = run_exec(c, "'argv':['ls'],'cwd':'/no/such/dir'");
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "cannot start \"ls\": working "
	    "directory \"/no/such/dir\": No such file or directory");

	/* Bad args never get in. */
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'exec','args':"
	    "{'argv':[]}}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'exec','args':"
	    "{'argv':['ls'],'env':{'A=B':'c'}}}"), "bad_request");
}
END_TEST

/* 32 MiB on stdout with the default max_output (1 MiB): cut at the cap,
 * and the program is never blocked. */
START_TEST(test_output_truncated)
{
	struct tj_conn *c = start("");
	json_t *job;

	job = run_exec(c, "'argv':['sh','-c','head -c 33554432 /dev/zero | "
	    "tr \\\\\\\\0 x; echo done >&2']");
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_uint_eq(json_string_length(tj_at(job, "result.stdout")),
	    MIB);
	ck_assert_int_eq(tj_str(job, "result.stdout")[MIB - 1], 'x');
	ck_assert_str_eq(tj_str(job, "result.stderr"), "done\n");
	ck_assert(json_is_true(tj_at(job, "result.truncated")));
}
END_TEST

/* ---- stopping ------------------------------------------------------------ */

/* A program that ignores SIGTERM is SIGKILLed kill_grace after its
 * timeout, and its output so far is kept. */
START_TEST(test_timeout_kill_grace)
{
	struct tj_conn *c = start("kill_grace = 0.5\n");
	json_int_t id;
	json_t *job;
	double took, timeout = 0.3;

	/* A run whose SIGTERM beat the shell's trap (a busy machine: no
	 * output yet) is tried again with twice the timeout. */
	for (int i = 0;; i++) {
		id = tj_submit(c, "'kind':'exec','timeout':%g,'args':{'argv':"
		    "['sh','-c','trap \\'\\' TERM; echo $$ >%s; echo partial; "
		    "while :; do sleep 0.01; done']}", timeout, tj_path("pid"));
		job = tj_wait(c, id, TJ_TIMEOUT);
		if (strcmp(tj_str(job, "result.stdout"), "") != 0 || i == 5)
			break;
		timeout *= 2;
	}
	ck_assert_str_eq(tj_str(job, "state"), "timed_out");
	took = tj_num(job, "finished_at") - tj_num(job, "started_at");
	tj_assert_time(took, timeout + 0.5, 0.5);
	ck_assert_str_eq(tj_str(job, "result.stdout"), "partial\n");
	ck_assert_str_eq(tj_str(job, "result.signal"), "SIGKILL");
	ck_assert(tj_null(job, "result.exit_code"));
	ck_assert(tu_pid_dead(pid_from("pid")));
}
END_TEST

/* A cancel stops the program with SIGTERM at once, keeps its output,
 * and answers once it has stopped. */
START_TEST(test_cancel_keeps_output)
{
	struct tj_conn *c = start("kill_grace = 5\n");
	json_int_t id;
	json_t *job;
	double t0;
	int pid;

	id = tj_submit(c, "'kind':'exec','args':{'argv':['sh','-c','echo "
	    "working; echo $$ >%s; exec sleep 100']}", tj_path("pid"));
	pid = pid_from("pid");
	t0 = tj_now();
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld,'reason':'enough'}",
	    (long long)id));
	tj_assert_time(tj_now() - t0, 0, 1.0);
	ck_assert(tu_pid_dead(pid));
	job = tj_job(c, id);
	ck_assert_str_eq(tj_str(job, "state"), "cancelled");
	ck_assert_str_eq(tj_str(job, "cancel_reason"), "enough");
	ck_assert_str_eq(tj_str(job, "result.stdout"), "working\n");
	ck_assert_str_eq(tj_str(job, "result.signal"), "SIGTERM");
}
END_TEST

/* A background process of the job dies when the job ends. */
START_TEST(test_grandchildren_gone)
{
	struct tj_conn *c = start("");
	json_t *job;

	job = run_exec(c, "'argv':['sh','-c','sleep 100 & echo $!']");
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_msg(tu_pid_dies(atoi(tj_str(job, "result.stdout")), 2.0),
	    "the background sleep outlived its job");
}
END_TEST

/* jobd SIGKILLed: its job's process dies with it (PR_SET_PDEATHSIG). */
START_TEST(test_jobd_killed)
{
	struct tj_conn *c = start("");
	int pid;

	tj_submit(c, "'kind':'exec','args':{'argv':['sh','-c','echo $$ >%s; "
	    "exec sleep 100']}", tj_path("pid"));
	pid = pid_from("pid");
	ck_assert(!tu_pid_dead(pid));
	tj_kill();
	ck_assert_msg(tu_pid_dies(pid, 2.0), "pid %d outlived jobd", pid);
}
END_TEST

/* exec_concurrency = 2 with 8 workers and 8 jobs: each job logs its start
 * and end (appends are atomic), the log's running count peaks at 2. */
START_TEST(test_concurrency_limit)
{
	struct tj_conn *c = start("exec_concurrency = 2\n");
	int running = 0, peak = 0, lines = 0;
	char job[256], path[32], req[4096] = "{'op':'submit_group','jobs':[";
	json_t *a;
	FILE *f;

	snprintf(job, sizeof(job), "{'kind':'exec','args':{'argv':['sh','-c',"
	    "'echo + >>%s; sleep 0.2; echo - >>%s']}}", tj_path("log"),
	    tj_path("log"));
	for (int i = 0; i < 8; i++) {
		strcat(req, job);
		strcat(req, i < 7 ? "," : "]}");
	}
	a = tj_req(c, "%s", req);
	tj_assert_ok(a);
	a = tj_req(c, "{'op':'wait','group':%lld}", (long long)tj_int(a,
	    "group"));
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "jobs.%d.state", i);
		ck_assert_str_eq(tj_str(a, path), "succeeded");
	}
	ck_assert_ptr_nonnull(f = fopen(tj_path("log"), "re"));
	while (fgets(job, sizeof(job), f) != NULL) {
		running += job[0] == '+' ? 1 : -1;
		peak = running > peak ? running : peak;
		lines++;
	}
	fclose(f);
	ck_assert_int_eq(lines, 16);
	ck_assert_int_eq(running, 0);
	ck_assert_int_eq(peak, 2);
}
END_TEST

START_TEST(test_forbidden)
{
	struct tj_conn *c = start("allow_exec = no\n");
	json_t *a;

	a = tj_req(c, "{'op':'submit','kind':'exec','args':{'argv':['true']}}");
	tj_assert_err(a, "forbidden");
	ck_assert_ptr_nonnull(strstr(tj_str(a, "error.message"), "allow_exec"));
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("jobd_exec");
	TCase *tc = tj_tcase("exec", 60);

	tcase_add_test(tc, test_argv_unchanged);
	tcase_add_test(tc, test_stdin_10mib);
	tcase_add_test(tc, test_env_cwd_job_id);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_cannot_start);
	tcase_add_test(tc, test_output_truncated);
	tcase_add_test(tc, test_timeout_kill_grace);
	tcase_add_test(tc, test_cancel_keeps_output);
	tcase_add_test(tc, test_grandchildren_gone);
	tcase_add_test(tc, test_jobd_killed);
	tcase_add_test(tc, test_concurrency_limit);
	tcase_add_test(tc, test_forbidden);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
