/*
 * test_kind_exec.c — the `exec` kind on its own (kind_exec.h): check()'s
 * refusals, and runs on a runtime through a kind_env the way the engine
 * makes them (a deadline scope around run(), a cancel of its task):
 * output, exit statuses and signals, programs that cannot start, UTF-8
 * clean-up and the output cap, stdin without deadlock, environment and
 * directory, stops (SIGTERM, then SIGKILL after kill_grace) that keep the
 * output, grandchildren, and the semaphore of exec_concurrency.
 *
 * Args are written as JSON with ' for " (see jargs); \u0027 is a real '.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "co.h"
#include "kind.h"
#include "kind_exec.h"
#include "testutil.h"

#define MIB (1024u * 1024)

/* The settings of the test's kind_env, opened at the first run. */
static struct kind_conf kc;
static struct kind_env *ke;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);       /* as jobd does */
	kc = (struct kind_conf){ .max_output = MIB, .kill_grace = 5,
	    .exec_concurrency = 4, .http_per_host = 1, .allow_exec = true };
	tu_setup();
}

static void
teardown(void)
{
	kind_env_close(ke);
	ke = NULL;
	tu_teardown();
}

/* Args from a printf format in which every ' stands for ". */
static json_t *
jargs(const char *fmt, ...)
{
	static char text[4096];
	json_error_t jerr;
	va_list ap;
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(text, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(v != NULL, "%s: %s", text, jerr.text);
	return v;
}

/* ---- check() ------------------------------------------------------------- */

/* check() on args (owned): 0, or -EINVAL with a message holding msg. */
static void
check_args(json_t *args, const char *msg)
{
	struct proto_err err = { 0 };
	int rc = kind_find("exec")->check(args, &err);

	if (msg == NULL) {
		ck_assert_msg(rc == 0, "refused: %s", err.msg);
	} else {
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_int_eq(err.code, PROTO_BAD_REQUEST);
		ck_assert_msg(strncmp(err.msg, "args: ", 6) == 0 &&
		    strstr(err.msg, msg) != NULL, "message: %s (want %s)",
		    err.msg, msg);
	}
	json_decref(args);
}

START_TEST(test_check)
{
	check_args(jargs("{'argv':['true']}"), NULL);
	check_args(jargs("{'argv':['ls','-l'],'cwd':'/','env':{'A':'1',"
	    "'B':''},'stdin':''}"), NULL);
	check_args(jargs("{'argv':['x'],'cwd':null,'env':null}"), NULL);
	check_args(jargs("{}"), "\"argv\"");
	check_args(jargs("{'argv':'ls -l'}"), "\"argv\"");
	check_args(jargs("{'argv':[]}"), "\"argv\": expected 1 to");
	check_args(jargs("{'argv':['ls',7]}"), "element 1 is not a string");
	check_args(jargs("{'argv':['ls',null]}"), "element 1");
	check_args(jargs("{'argv':['ls','a\\u0000b']}"), "element 1");
	check_args(jargs("{'argv':['']}"), "program (element 0) is empty");
	check_args(jargs("{'argv':['ls'],'cwd':7}"), "\"cwd\"");
	check_args(jargs("{'argv':['ls'],'cwd':''}"), "\"cwd\": empty");
	check_args(jargs("{'argv':['ls'],'cwd':'/a\\u0000'}"), "\"cwd\"");
	check_args(jargs("{'argv':['ls'],'env':['A=1']}"), "\"env\"");
	check_args(jargs("{'argv':['ls'],'env':{'A=B':'1'}}"),
	    "\"A=B\" is empty or contains '='");
	check_args(jargs("{'argv':['ls'],'env':{'':'1'}}"), "\"\" is empty");
	check_args(jargs("{'argv':['ls'],'env':{'A':1}}"),
	    "the value of \"A\" is not a string");
	check_args(jargs("{'argv':['ls'],'env':{'A':'\\u0000'}}"),
	    "the value of \"A\"");
	check_args(jargs("{'argv':['ls'],'stdin':42}"), "\"stdin\"");
	check_args(jargs("{'argv':['ls'],'cdw':'/'}"),
	    "unknown field \"cdw\"");
	check_args(json_string("ls"), "expected an object");
}
END_TEST

START_TEST(test_check_bounds)
{
	json_t *argv = json_array(), *env = json_object();
	char name[32];

	for (int i = 0; i <= KIND_EXEC_ARGV_MAX; i++)
		json_array_append_new(argv, json_string("x"));
	check_args(json_pack("{s:O}", "argv", argv), "expected 1 to 65536");
	json_array_remove(argv, 0);
	check_args(json_pack("{s:O}", "argv", argv), NULL);
	for (int i = 0; i <= KIND_EXEC_ENV_MAX; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		json_object_set_new(env, name, json_string(""));
	}
	check_args(json_pack("{s:[s],s:O}", "argv", "true", "env", env),
	    "more than 65536 variables");
	json_decref(argv);
	json_decref(env);
}
END_TEST

START_TEST(test_table_and_allowed)
{
	const struct kind *k = kind_find("exec");
	struct proto_err err = { 0 };

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(kind_env_open(tu_base, &kc, &ke), 0);
	ck_assert_int_eq(kind_env_allowed(ke, k, &err), 0);
	kc.allow_exec = false;
	kind_env_reconf(ke, &kc);
	ck_assert_int_eq(kind_env_allowed(ke, k, &err), -EPERM);
	ck_assert_int_eq(err.code, PROTO_FORBIDDEN);
	ck_assert_msg(strstr(err.msg, "allow_exec") != NULL, "%s", err.msg);
}
END_TEST

/* ---- runs ---------------------------------------------------------------- */

struct xjob {
	json_t *args;           /* owned */
	double timeout;         /* of the deadline scope; CO_FOREVER: none */
	int64_t id;
	int rc;
	json_t *result;         /* owned */
	char error[KIND_ERROR_MAX];
	double elapsed;
};

static void
xjob_init(struct xjob *j, json_t *args)
{
	memset(j, 0, sizeof(*j));
	j->args = args;
	j->timeout = CO_FOREVER;
	j->rc = 1;              /* not run */
}

static void
xjob_free(struct xjob *j)
{
	json_decref(j->args);
	json_decref(j->result);
}

/* Task: run j the way a worker does, in a deadline scope. */
static int
xjob_task(void *arg)
{
	struct xjob *j = arg;
	struct kind_run run = { .job_id = j->id, .args = j->args };
	const struct kind *k = kind_find("exec");
	struct co_scope sc;
	double t0 = co_now();

	if (ke == NULL)
		ck_assert_int_eq(kind_env_open(tu_base, &kc, &ke), 0);
	else
		kind_env_reconf(ke, &kc);       /* kc may have changed */
	kind_env_prepare(ke, k, &run);
	co_scope_enter(&sc, j->timeout);
	j->rc = k->run(&run);
	(void)co_scope_exit(&sc);
	j->elapsed = co_now() - t0;
	j->result = run.result;
	memcpy(j->error, run.error, sizeof(j->error));
	return 0;
}

/* Run one job to its end. */
static void
xrun(struct xjob *j)
{
	tu_run(xjob_task, j);
}

static const char *
rstr(struct xjob *j, const char *key)
{
	ck_assert_ptr_nonnull(j->result);
	ck_assert_msg(json_is_string(json_object_get(j->result, key)),
	    "%s is not a string", key);
	return json_string_value(json_object_get(j->result, key));
}

static size_t
rlen(struct xjob *j, const char *key)
{
	(void)rstr(j, key);
	return json_string_length(json_object_get(j->result, key));
}

static bool
rnull(struct xjob *j, const char *key)
{
	ck_assert_ptr_nonnull(j->result);
	return json_is_null(json_object_get(j->result, key));
}

static json_int_t
rcode(struct xjob *j, const char *key)
{
	ck_assert_ptr_nonnull(j->result);
	ck_assert(json_is_integer(json_object_get(j->result, key)));
	return json_integer_value(json_object_get(j->result, key));
}

static bool
rtrunc(struct xjob *j)
{
	ck_assert_ptr_nonnull(j->result);
	ck_assert(json_is_boolean(json_object_get(j->result, "truncated")));
	return json_is_true(json_object_get(j->result, "truncated"));
}

START_TEST(test_output)
{
	struct xjob j;

	xjob_init(&j, jargs("{'argv':['printf','%%s|\\n','a b','\\'q\\'',"
	    "'\\u0027s\\u0027','\\u00e9\\u2603\\ud83d\\ude00','','$HOME *']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	ck_assert_str_eq(j.error, "");
	ck_assert_str_eq(rstr(&j, "stdout"), "a b|\n\"q\"|\n's'|\n"
	    "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80|\n|\n$HOME *|\n");
	ck_assert_str_eq(rstr(&j, "stderr"), "");
	ck_assert_int_eq(rcode(&j, "exit_code"), 0);
	ck_assert(rnull(&j, "signal"));
	ck_assert(!rtrunc(&j));
	ck_assert_uint_eq(json_object_size(j.result), 5);
	xjob_free(&j);

	xjob_init(&j, jargs("{'argv':['sh','-c','echo out; echo err >&2']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	ck_assert_str_eq(rstr(&j, "stdout"), "out\n");
	ck_assert_str_eq(rstr(&j, "stderr"), "err\n");
	xjob_free(&j);
}
END_TEST

START_TEST(test_exit_status)
{
	struct xjob j;

	xjob_init(&j, jargs("{'argv':['sh','-c','echo so far; exit 3']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, -EIO);
	ck_assert_str_eq(j.error, "exited with status 3");
	ck_assert_int_eq(rcode(&j, "exit_code"), 3);
	ck_assert(rnull(&j, "signal"));
	ck_assert_str_eq(rstr(&j, "stdout"), "so far\n");
	xjob_free(&j);

	xjob_init(&j, jargs("{'argv':['sh','-c','echo bye; kill -9 $$']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, -EIO);
	ck_assert_str_eq(j.error, "killed by SIGKILL");
	ck_assert(rnull(&j, "exit_code"));
	ck_assert_str_eq(rstr(&j, "signal"), "SIGKILL");
	ck_assert_str_eq(rstr(&j, "stdout"), "bye\n");
	xjob_free(&j);

	xjob_init(&j, jargs("{'argv':['sh','-c','kill -USR1 $$']}"));
	xrun(&j);
	ck_assert_str_eq(j.error, "killed by SIGUSR1");
	ck_assert_str_eq(rstr(&j, "signal"), "SIGUSR1");
	xjob_free(&j);
}
END_TEST

/* Run args that cannot start: a failure without a result, whose error
 * holds want. */
static void
cannot_start(json_t *args, int rc, const char *want)
{
	struct xjob j;

	xjob_init(&j, args);
	xrun(&j);
	ck_assert_int_eq(j.rc, rc);
	ck_assert_ptr_null(j.result);
	ck_assert_msg(strstr(j.error, want) != NULL, "error: %s (want %s)",
	    j.error, want);
	xjob_free(&j);
}

START_TEST(test_cannot_start)
{
	char dir[] = "/tmp/test_kind_exec.XXXXXX", path[64];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	cannot_start(jargs("{'argv':['no-such-program-here','x']}"), -ENOENT,
	    "cannot start \"no-such-program-here\": No such file or "
	    "directory");
	cannot_start(jargs("{'argv':['/no/such/file']}"), -ENOENT,
	    "\"/no/such/file\": No such file");
	cannot_start(jargs("{'argv':['ls'],'cwd':'/no/such/dir'}"), -ENOENT,
	    "cannot start \"ls\": working directory \"/no/such/dir\": No "
	    "such file or directory");
	cannot_start(jargs("{'argv':['ls'],'cwd':'/etc/passwd'}"), -ENOTDIR,
	    "working directory \"/etc/passwd\": Not a directory");
	cannot_start(jargs("{'argv':['/etc/passwd']}"), -EACCES,
	    "\"/etc/passwd\": Permission denied");
	cannot_start(jargs("{'argv':['%s']}", dir), -EACCES,
	    "Permission denied");
	/* Executable but neither ELF nor #!: no shell fallback. */
	snprintf(path, sizeof(path), "%s/junk", dir);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT, 0755), 0);
	ck_assert_int_eq(write(fd, "echo hi\n", 8), 8);
	close(fd);
	cannot_start(jargs("{'argv':['%s']}", path), -ENOEXEC,
	    "Exec format error");
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_env_cwd_job_id)
{
	struct xjob j;

	setenv("KIND_EXEC_INHERITED", "from the parent", 1);
	setenv("KIND_EXEC_REPLACED", "old", 1);
	setenv("JOBD_JOB_ID", "not this one", 1);
	xjob_init(&j, jargs("{'argv':['sh','-c','pwd; echo \\\"$KIND_EXEC_"
	    "INHERITED|$KIND_EXEC_REPLACED|$NEW|$JOBD_JOB_ID\\\"; env | grep -c "
	    "^KIND_EXEC_REPLACED='],'cwd':'/usr/lib','env':{"
	    "'KIND_EXEC_REPLACED':'new value','NEW':'a=b c','JOBD_JOB_ID':'9'}"
	    "}"));
	j.id = 1234;
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	ck_assert_str_eq(rstr(&j, "stdout"), "/usr/lib\nfrom the parent|"
	    "new value|a=b c|1234\n1\n");
	xjob_free(&j);

	/* Outside jobd (no id), no JOBD_JOB_ID at all. */
	xjob_init(&j, jargs("{'argv':['sh','-c','echo ${JOBD_JOB_ID-unset}']}"));
	xrun(&j);
	ck_assert_str_eq(rstr(&j, "stdout"), "unset\n");
	xjob_free(&j);
	unsetenv("KIND_EXEC_INHERITED");
	unsetenv("KIND_EXEC_REPLACED");
	unsetenv("JOBD_JOB_ID");
}
END_TEST

/* Bytes that are not UTF-8, and NULs, become U+FFFD; a character the cap
 * splits is dropped; a character cut by the end of the stream is
 * replaced. */
START_TEST(test_utf8)
{
	struct xjob j;

	xjob_init(&j, jargs("{'argv':['printf','a\\\\377b\\\\000c\\\\355\\\\240"
	    "\\\\200d\\\\300\\\\257\\\\342\\\\202x\\\\342\\\\202']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	/* ff; 00; a surrogate (ed a0 80: ed, then a0 and 80 alone); an
	 * overlong c0 af; e2 82 before x (one piece); e2 82 at the end. */
	ck_assert_str_eq(rstr(&j, "stdout"), "a\xef\xbf\xbd" "b\xef\xbf\xbd"
	    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "d\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbdx\xef\xbf\xbd");
	ck_assert(!rtrunc(&j));
	xjob_free(&j);

	/* max_output 5: "abcd" and the first byte of a 3-byte character
	 * are kept; the split character goes. */
	kc.max_output = 5;
	xjob_init(&j, jargs("{'argv':['printf','abcd\\u2603\\u2603']}"));
	xrun(&j);
	ck_assert_str_eq(rstr(&j, "stdout"), "abcd");
	ck_assert(rtrunc(&j));
	xjob_free(&j);
}
END_TEST

START_TEST(test_utf8_cap_counts_replacements)
{
	struct xjob j;

	/* Four bad bytes under a cap of 8: the first two replacements fit
	 * (6 bytes), the third would pass the cap. */
	kc.max_output = 8;
	xjob_init(&j, jargs("{'argv':['printf','\\\\377\\\\377\\\\377\\\\377']}"));
	xrun(&j);
	ck_assert_str_eq(rstr(&j, "stdout"), "\xef\xbf\xbd\xef\xbf\xbd");
	ck_assert(rtrunc(&j));
	xjob_free(&j);
}
END_TEST

START_TEST(test_output_cap)
{
	struct xjob j;

	/* 32 MiB on stdout, 3 MiB on stderr, cap 1 MiB: the child is never
	 * blocked, each stream keeps exactly the cap. */
	xjob_init(&j, jargs("{'argv':['sh','-c','head -c 33554432 /dev/zero |"
	    " tr \\\\\\\\0 x; head -c 3145728 /dev/zero | tr \\\\\\\\0 y >&2; "
	    "echo done >&2']}"));
	xrun(&j);
	ck_assert_msg(j.rc == 0, "%d %s", j.rc, j.error);
	ck_assert_uint_eq(rlen(&j, "stdout"), MIB);
	ck_assert_uint_eq(rlen(&j, "stderr"), MIB);
	ck_assert(rstr(&j, "stdout")[MIB - 1] == 'x');
	ck_assert(rstr(&j, "stderr")[MIB - 1] == 'y');
	ck_assert(rtrunc(&j));
	xjob_free(&j);

	/* Exactly the cap is not truncated; a cap of 0 keeps nothing. */
	kc.max_output = 4;
	xjob_init(&j, jargs("{'argv':['printf','abcd']}"));
	xrun(&j);
	ck_assert_str_eq(rstr(&j, "stdout"), "abcd");
	ck_assert(!rtrunc(&j));
	xjob_free(&j);
	kc.max_output = 0;
	xjob_init(&j, jargs("{'argv':['echo','x']}"));
	xrun(&j);
	ck_assert_str_eq(rstr(&j, "stdout"), "");
	ck_assert(rtrunc(&j));
	xjob_free(&j);
}
END_TEST

/* 10 MiB of stdin to a program that first writes 5 MiB without reading:
 * both directions at once, no deadlock. */
START_TEST(test_stdin_no_deadlock)
{
	size_t n = 10 * MIB;
	char *in = malloc(n);
	struct xjob j;

	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	xjob_init(&j, json_pack("{s:[s,s,s],s:s%}", "argv", "sh", "-c",
	    "head -c 5242880 /dev/zero | tr \\\\0 z; wc -c >&2",
	    "stdin", in, n));
	free(in);
	xrun(&j);
	ck_assert_msg(j.rc == 0, "%d %s", j.rc, j.error);
	ck_assert_str_eq(rstr(&j, "stderr"), "10485760\n");
	ck_assert_uint_eq(rlen(&j, "stdout"), MIB);
	xjob_free(&j);

	/* A program that reads none of it: EPIPE is not a failure. */
	xjob_init(&j, json_pack("{s:[s],s:s}", "argv", "true", "stdin",
	    "unread"));
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	xjob_free(&j);

	/* No stdin: /dev/null, not a pipe left open. */
	xjob_init(&j, jargs("{'argv':['wc','-c']}"));
	xrun(&j);
	ck_assert_str_eq(rstr(&j, "stdout"), "0\n");
	xjob_free(&j);
}
END_TEST

/* The pid a job printed on its first line. */
static int
printed_pid(struct xjob *j)
{
	int pid = atoi(rstr(j, "stdout"));

	ck_assert_int_gt(pid, 1);
	return pid;
}

/* Run the job args (jargs' text) with *timeout until what it writes to
 * stream is not empty.  The scripts write there once they are ready for
 * the SIGTERM (a trap set, the output under test written): on a busy
 * machine the timeout can come first, and that run is tried again with
 * twice the timeout (six tries at most; the test's asserts then fail). */
static void
xrun_ready(struct xjob *j, const char *args, double *timeout,
    const char *stream)
{
	for (int i = 0;; i++) {
		xjob_init(j, jargs("%s", args));
		j->timeout = *timeout;
		xrun(j);
		if (j->result == NULL || *rstr(j, stream) != '\0' || i == 5)
			return;
		xjob_free(j);
		*timeout *= 2;
	}
}

START_TEST(test_timeout_keeps_output)
{
	struct xjob j;
	double timeout = 0.3;

	xrun_ready(&j, "{'argv':['sh','-c','echo $$; echo partial; "
	    "echo e >&2; exec sleep 30']}", &timeout, "stderr");
	ck_assert_int_eq(j.rc, -ETIMEDOUT);
	tu_assert_time(j.elapsed, timeout, 0.2);
	ck_assert_ptr_nonnull(strstr(rstr(&j, "stdout"), "\npartial\n"));
	ck_assert_str_eq(rstr(&j, "stderr"), "e\n");
	ck_assert_str_eq(rstr(&j, "signal"), "SIGTERM");
	ck_assert(rnull(&j, "exit_code"));
	ck_assert(tu_pid_dead(printed_pid(&j)));
	xjob_free(&j);
}
END_TEST

/* A program that ignores SIGTERM is killed kill_grace later. */
START_TEST(test_kill_grace)
{
	struct xjob j;
	double timeout = 0.3;

	kc.kill_grace = 0.4;
	xrun_ready(&j, "{'argv':['sh','-c','trap \\\"\\\" TERM; echo $$; "
	    "while :; do sleep 0.01; done']}", &timeout, "stdout");
	ck_assert_int_eq(j.rc, -ETIMEDOUT);
	tu_assert_time(j.elapsed, timeout + 0.4, 0.3);
	ck_assert_str_eq(rstr(&j, "signal"), "SIGKILL");
	ck_assert(tu_pid_dead(printed_pid(&j)));
	xjob_free(&j);
}
END_TEST

/* A program that exits on SIGTERM: the stop does not wait out the
 * grace. */
START_TEST(test_term_is_enough)
{
	struct xjob j;
	double timeout = 0.2;

	kc.kill_grace = 5;
	xrun_ready(&j, "{'argv':['sh','-c','trap \\\"echo got TERM; exit "
	    "7\\\" TERM; echo up; while :; do sleep 0.01; done']}", &timeout,
	    "stdout");
	ck_assert_int_eq(j.rc, -ETIMEDOUT);
	tu_assert_time(j.elapsed, timeout, 0.3);
	ck_assert_int_eq(rcode(&j, "exit_code"), 7);
	ck_assert_str_eq(rstr(&j, "stdout"), "up\ngot TERM\n");
	xjob_free(&j);
}
END_TEST

static int
cancel_soon(void *arg)
{
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, xjob_task, arg, &t), 0);
	ck_assert_int_eq(co_sleep(0.2), 0);
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_cancel_keeps_output)
{
	struct xjob j;

	xjob_init(&j, jargs("{'argv':['sh','-c','echo before; exec sleep 30']}"));
	tu_run(cancel_soon, &j);
	ck_assert_int_eq(j.rc, -ECANCELED);
	tu_assert_time(j.elapsed, 0.2, 0.2);
	ck_assert_str_eq(rstr(&j, "stdout"), "before\n");
	ck_assert_str_eq(rstr(&j, "signal"), "SIGTERM");
	xjob_free(&j);
}
END_TEST

/* A stop that lands after the exec but before the loop has seen the
 * exec's verdict: the program has already run and written, so it is
 * stopped the usual way and its output kept, not discarded unread.  The
 * canceller lets the job reach its spawn (one yield), then holds the loop
 * (no await) until the program has written its marker, and cancels. */
static char marker[64];

static int
cancel_after_exec(void *arg)
{
	struct co_task *t;
	double until;

	ck_assert_int_eq(co_spawn(tu_rt, xjob_task, arg, &t), 0);
	ck_assert_int_eq(co_yield(), 0);
	until = co_now() + 10 * tu_slow();
	while (access(marker, F_OK) != 0) {
		ck_assert_msg(co_now() < until, "the program never ran");
		usleep(1000);
	}
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_cancel_right_after_exec)
{
	struct xjob j;
	char dir[] = "/tmp/tkeXXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(marker, sizeof(marker), "%s/ran", dir);
	xjob_init(&j, jargs("{'argv':['sh','-c','echo before; : >%s; "
	    "exec sleep 30']}", marker));
	tu_run(cancel_after_exec, &j);
	ck_assert_int_eq(j.rc, -ECANCELED);
	ck_assert_str_eq(rstr(&j, "stdout"), "before\n");
	ck_assert_str_eq(rstr(&j, "signal"), "SIGTERM");
	xjob_free(&j);
	unlink(marker);
	rmdir(dir);
}
END_TEST

/* What the program leaves behind in its group is killed when it exits,
 * and when it is stopped. */
START_TEST(test_grandchildren)
{
	struct xjob j;
	double timeout = 0.3;

	xjob_init(&j, jargs("{'argv':['sh','-c','sleep 100 & echo $!']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	ck_assert_msg(tu_pid_dies(printed_pid(&j), 2.0),
	    "background sleep survived");
	xjob_free(&j);

	xrun_ready(&j, "{'argv':['sh','-c','trap \\\"exit 0\\\" TERM; "
	    "sh -c \\\"trap \\\\\\\"\\\\\\\" TERM; sleep 100\\\" & echo $!; "
	    "wait']}", &timeout, "stdout");
	ck_assert_int_eq(j.rc, -ETIMEDOUT);
	tu_assert_time(j.elapsed, timeout, 0.3);       /* no kill_grace wait */
	ck_assert_msg(tu_pid_dies(printed_pid(&j), 2.0),
	    "a grandchild that ignores SIGTERM survived");
	xjob_free(&j);
}
END_TEST

/* A process that leaves the group (setsid) escapes, and holds the
 * stdout pipe: the job ends KIND_EXEC_DRAIN after the exit, truncated. */
START_TEST(test_setsid_escapes)
{
	struct xjob j;
	int pid;

	/* The outer sh prints the pid once the inner one has left. */
	xjob_init(&j, jargs("{'argv':['sh','-c','f=/tmp/test_kind_exec.$$; "
	    "setsid sh -c \\\"echo \\\\$\\\\$ >$f; exec sleep 30\\\" & "
	    "while [ ! -s $f ]; do sleep 0.01; done; cat $f; rm $f']}"));
	xrun(&j);
	ck_assert_int_eq(j.rc, 0);
	tu_assert_time(j.elapsed, KIND_EXEC_DRAIN, 0.3);
	ck_assert(rtrunc(&j));
	pid = printed_pid(&j);
	ck_assert(!tu_pid_dead(pid));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert(tu_pid_dies(pid, 2.0));
	xjob_free(&j);
}
END_TEST

/* ---- the semaphore ------------------------------------------------------- */

#define SEM_JOBS 6

struct crowd {
	struct xjob j[SEM_JOBS];
	double elapsed;
};

static int
run_crowd(void *arg)
{
	struct crowd *c = arg;
	struct co_task *t[SEM_JOBS];
	double t0 = co_now();
	int i;

	for (i = 0; i < SEM_JOBS; i++)
		ck_assert_int_eq(co_spawn(tu_rt, xjob_task, &c->j[i], &t[i]), 0);
	for (i = 0; i < SEM_JOBS; i++)
		ck_assert_int_eq(co_join(t[i], NULL), 0);
	c->elapsed = co_now() - t0;
	return 0;
}

/* exec_concurrency 2: six 0.2 s jobs take three rounds; a job whose
 * deadline passes while it waits for a turn times out without a result,
 * and the turns it did not take are not lost. */
START_TEST(test_semaphore)
{
	struct crowd c;
	int i;

	kc.exec_concurrency = 2;
	for (i = 0; i < SEM_JOBS; i++)
		xjob_init(&c.j[i], jargs("{'argv':['sleep','0.2']}"));
	c.j[2].timeout = 0.1;   /* waits behind 0 and 1, gives up */
	tu_run(run_crowd, &c);
	ck_assert_int_eq(c.j[2].rc, -ETIMEDOUT);
	ck_assert_ptr_null(c.j[2].result);
	tu_assert_time(c.j[2].elapsed, 0.1, 0.1);
	for (i = 0; i < SEM_JOBS; i++)
		if (i != 2)
			ck_assert_msg(c.j[i].rc == 0, "job %d: %s", i,
			    c.j[i].error);
	/* five jobs, two at a time: three rounds of 0.2 s */
	tu_assert_time(c.elapsed, 0.6, 0.3);
	for (i = 0; i < SEM_JOBS; i++)
		xjob_free(&c.j[i]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kind_exec");
	TCase *tc = tcase_create("exec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_check_bounds);
	tcase_add_test(tc, test_table_and_allowed);
	tcase_add_test(tc, test_output);
	tcase_add_test(tc, test_exit_status);
	tcase_add_test(tc, test_cannot_start);
	tcase_add_test(tc, test_env_cwd_job_id);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_utf8_cap_counts_replacements);
	tcase_add_test(tc, test_output_cap);
	tcase_add_test(tc, test_stdin_no_deadlock);
	tcase_add_test(tc, test_timeout_keeps_output);
	tcase_add_test(tc, test_kill_grace);
	tcase_add_test(tc, test_term_is_enough);
	tcase_add_test(tc, test_cancel_keeps_output);
	tcase_add_test(tc, test_cancel_right_after_exec);
	tcase_add_test(tc, test_grandchildren);
	tcase_add_test(tc, test_setsid_escapes);
	tcase_add_test(tc, test_semaphore);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
