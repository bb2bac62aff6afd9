/*
 * test_proc.c — child processes (co_proc.h): spawning, exec errors, pipes,
 * exit statuses, signals to the process group, reaping after free, and the
 * SIGCHLD fallback.
 *
 * The tests that are about waiting run twice, once per reaping mechanism
 * (TCase "pidfd" and "sigchld").  Every test ends with no child of this
 * process left, not even a zombie (proc_teardown).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <valgrind/valgrind.h>

#include "co.h"
#include "co_io.h"
#include "co_pool.h"
#include "co_proc.h"
#include "co_sync.h"
#include "testutil.h"

#define CAT_BYTES (10u * 1024 * 1024)
/* A wait that must end long before this unless something is broken:
 * 10 s, times tu_slow() (valgrind beside a CPU hog took more than 10 s
 * to pipe CAT_BYTES through cat). */
#define LONG (10.0 * tu_slow())

/* ---- helpers ----------------------------------------------------------- */

/* Children of this thread, zombies included ("children" of our task). */
static int
child_count(void)
{
	char path[64], buf[4096];
	int fd, n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)syscall(SYS_gettid));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < len; i++)
		n += buf[i] == ' ';
	return n;
}

/* Process state letter from /proc/pid/stat, or 0 when pid is gone. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Dead: gone, or a zombie (of a parent that is not us). */
static bool
proc_dead(pid_t pid)
{
	char st = proc_state(pid);

	return st == 0 || st == 'Z' || st == 'X';
}

/* Poll (with co_sleep, so reapers run) until pred(pid) or 2 s. */
static bool
eventually(bool (*pred)(pid_t), pid_t pid)
{
	double end = co_now() + 2.0 * tu_slow();

	while (!pred(pid) && co_now() < end)
		ck_assert_int_eq(co_sleep(0.005), 0);
	return pred(pid);
}

static bool
proc_gone(pid_t pid)
{
	return proc_state(pid) == 0;
}

static bool
no_orphans(pid_t pid)
{
	(void)pid;
	return co_proc_orphans() == 0;
}

/* Read fd to end of file into buf (NUL-terminated); returns the length. */
static size_t
read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while ((n = co_read(fd, buf + len, cap - 1 - len, LONG)) > 0)
		len += (size_t)n;
	ck_assert_int_eq(n, 0);
	buf[len] = '\0';
	return len;
}

/* Run argv with stdout piped; *out gets the output, returns wstatus. */
static int
run_capture(const struct co_proc_opts *base, char *out, size_t cap)
{
	struct co_proc_opts o = *base;
	struct co_proc *p;
	int st = -1;

	o.pipe_stdout = true;
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	read_all(co_proc_stdout_fd(p), out, cap);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	co_proc_free(p);
	return st;
}

static int
run_status(const char *const *argv)
{
	struct co_proc_opts o = { .argv = argv };
	struct co_proc *p;
	int st = -1;

	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	co_proc_free(p);
	return st;
}

static struct co_proc *
spawn_argv(const char *const *argv, bool out)
{
	struct co_proc_opts o = { .argv = argv, .pipe_stdout = out };
	struct co_proc *p = NULL;

	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	ck_assert_ptr_nonnull(p);
	return p;
}

static const char *const sleep30[] = { "sleep", "30", NULL };

static void
proc_setup(void)
{
	signal(SIGPIPE, SIG_IGN);       /* children must still get SIG_DFL */
	co_proc_force_sigchld(false);
	tu_setup();
}

static void
proc_setup_sigchld(void)
{
	proc_setup();
	co_proc_force_sigchld(true);
}

static void
proc_teardown(void)
{
	co_proc_force_sigchld(false);
	ck_assert_uint_eq(co_proc_orphans(), 0);
	ck_assert_int_eq(child_count(), 0);
	tu_teardown();
}

/* ---- exit statuses ------------------------------------------------------ */

static int
true_false(void *arg)
{
	static const char *const t[] = { "true", NULL };
	static const char *const f[] = { "/usr/bin/false", NULL };
	static const char *const e[] = { "sh", "-c", "exit 42", NULL };
	int st;

	(void)arg;
	st = run_status(t);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_status(f);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	st = run_status(e);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	return 0;
}

START_TEST(test_true_false)
{
	tu_run(true_false, NULL);
}
END_TEST

/* The status stays available: a second wait returns it at once. */
static int
wait_twice(void *arg)
{
	static const char *const f[] = { "false", NULL };
	struct co_proc *p = spawn_argv(f, false);
	int st = -1, st2 = -1;

	(void)arg;
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(co_proc_reaped(p));
	ck_assert_int_eq(co_proc_wait(p, 0, &st2), 0);
	ck_assert_int_eq(st, st2);
	ck_assert_int_eq(co_proc_signal(p, SIGTERM), -ESRCH);
	co_proc_free(p);
	return 0;
}

START_TEST(test_wait_twice)
{
	tu_run(wait_twice, NULL);
}
END_TEST

/* ---- what the child gets ------------------------------------------------ */

static int
argv_unchanged(void *arg)
{
	static const char *const argv[] = { "printf", "%s\\n", "a b",
	    "'single'", "\"double\"", "ü€😀", "$HOME", "*", "", "back\\slash",
	    "  lead", NULL };
	static const char want[] = "a b\n'single'\n\"double\"\nü€😀\n$HOME\n"
	    "*\n\nback\\slash\n  lead\n";
	struct co_proc_opts o = { .argv = argv };
	char out[512];
	int st;

	(void)arg;
	st = run_capture(&o, out, sizeof(out));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_str_eq(out, want);
	return 0;
}

START_TEST(test_argv_unchanged)
{
	tu_run(argv_unchanged, NULL);
}
END_TEST

static int
env_replaced(void *arg)
{
	static const char *const argv[] = { "env", NULL };
	static const char *const envp[] = { "FOO=bar baz", "ÜBER=ü=1",
	    "EMPTY=", NULL };
	struct co_proc_opts o = { .argv = argv, .envp = envp };
	char out[512];

	(void)arg;
	ck_assert_int_eq(run_capture(&o, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "FOO=bar baz\nÜBER=ü=1\nEMPTY=\n");
	return 0;
}

START_TEST(test_env_replaced)
{
	tu_run(env_replaced, NULL);
}
END_TEST

static int
env_inherited(void *arg)
{
	static const char *const argv[] = { "printenv", "JOBD_TEST_INHERIT",
	    NULL };
	struct co_proc_opts o = { .argv = argv };
	char out[64];

	(void)arg;
	ck_assert_int_eq(setenv("JOBD_TEST_INHERIT", "yes it is", 1), 0);
	ck_assert_int_eq(run_capture(&o, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "yes it is\n");
	return 0;
}

START_TEST(test_env_inherited)
{
	tu_run(env_inherited, NULL);
}
END_TEST

static int
cwd_applied(void *arg)
{
	static const char *const argv[] = { "pwd", "-P", NULL };
	char dir[] = "/tmp/test_proc.XXXXXX", real[PATH_MAX], want[PATH_MAX + 2];
	char out[PATH_MAX + 2];
	struct co_proc_opts o = { .argv = argv };

	(void)arg;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(realpath(dir, real));
	o.cwd = dir;
	ck_assert_int_eq(run_capture(&o, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s\n", real);
	ck_assert_str_eq(out, want);
	rmdir(dir);
	return 0;
}

START_TEST(test_cwd_applied)
{
	tu_run(cwd_applied, NULL);
}
END_TEST

/* Only 0, 1, 2 are open in the child; unpiped ones are /dev/null. */
static int
fds_hygiene(void *arg)
{
	static const char *const argv[] = { "sh", "-c",
	    "test -e /proc/self/fd/100 && echo leaked; "
	    "readlink /proc/self/fd/0 /proc/self/fd/2", NULL };
	struct co_proc_opts o = { .argv = argv };
	char out[256];
	int fd;

	(void)arg;
	/* A parent fd without close-on-exec must still not get through. */
	ck_assert_int_eq(fd = dup2(2, 100), 100);
	ck_assert_int_eq(run_capture(&o, out, sizeof(out)) >> 8, 0);
	ck_assert_str_eq(out, "/dev/null\n/dev/null\n");
	close(fd);
	return 0;
}

START_TEST(test_fds_hygiene)
{
	tu_run(fds_hygiene, NULL);
}
END_TEST

/* The parent's ends are non-blocking and close-on-exec. */
static int
parent_fds(void *arg)
{
	static const char *const argv[] = { "true", NULL };
	struct co_proc_opts o = { .argv = argv, .pipe_stdin = true,
	    .pipe_stdout = true, .pipe_stderr = true };
	struct co_proc *p;
	int fds[3], i;

	(void)arg;
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	fds[0] = co_proc_stdin_fd(p);
	fds[1] = co_proc_stdout_fd(p);
	fds[2] = co_proc_stderr_fd(p);
	for (i = 0; i < 3; i++) {
		ck_assert_int_ge(fds[i], 0);
		ck_assert(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
		ck_assert(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
	}
	co_proc_close_stdin(p);
	ck_assert_int_eq(co_proc_stdin_fd(p), -1);
	co_proc_close_stdin(p);
	ck_assert_int_eq(co_proc_wait(p, LONG, NULL), 0);
	co_proc_free(p);
	return 0;
}

START_TEST(test_parent_fds)
{
	tu_run(parent_fds, NULL);
}
END_TEST

/* Default dispositions and an empty mask, whatever the parent has. */
static int
signals_reset(void *arg)
{
	static const char *const argv[] = { "grep", "-E", "^Sig(Blk|Ign)",
	    "/proc/self/status", NULL };
	struct co_proc_opts o = { .argv = argv };
	sigset_t set, old;
	char out[256];

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR2, SIG_IGN);
	ck_assert_int_eq(run_capture(&o, out, sizeof(out)), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR2, SIG_DFL);
	ck_assert_str_eq(out,
	    "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
	return 0;
}

START_TEST(test_signals_reset)
{
	tu_run(signals_reset, NULL);
}
END_TEST

static int
own_group(void *arg)
{
	struct co_proc *p = spawn_argv(sleep30, false);

	(void)arg;
	ck_assert_int_eq(getpgid(co_proc_pid(p)), co_proc_pid(p));
	ck_assert_int_ne(getpgid(co_proc_pid(p)), getpgrp());
	co_proc_free(p);
	ck_assert(eventually(no_orphans, 0));
	return 0;
}

START_TEST(test_own_group)
{
	tu_run(own_group, NULL);
}
END_TEST

static int
stderr_streams(void *arg)
{
	static const char *const argv[] = { "sh", "-c",
	    "echo out; echo err >&2", NULL };
	struct co_proc_opts o = { .argv = argv, .pipe_stdout = true,
	    .pipe_stderr = true };
	struct co_proc *p;
	char out[64], err[64];

	(void)arg;
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	read_all(co_proc_stdout_fd(p), out, sizeof(out));
	read_all(co_proc_stderr_fd(p), err, sizeof(err));
	ck_assert_str_eq(out, "out\n");
	ck_assert_str_eq(err, "err\n");
	ck_assert_int_eq(co_proc_wait(p, LONG, NULL), 0);
	co_proc_free(p);
	o.stderr_to_stdout = true;
	o.pipe_stderr = false;
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	ck_assert_int_eq(co_proc_stderr_fd(p), -1);
	read_all(co_proc_stdout_fd(p), out, sizeof(out));
	ck_assert_str_eq(out, "out\nerr\n");
	ck_assert_int_eq(co_proc_wait(p, LONG, NULL), 0);
	co_proc_free(p);
	return 0;
}

START_TEST(test_stderr_streams)
{
	tu_run(stderr_streams, NULL);
}
END_TEST

/* ---- stdin and stdout through cat, concurrently ------------------------- */

struct cat_io {
	struct co_proc *p;
	unsigned char *data;
	size_t got;
	bool same;
};

static int
cat_writer(void *arg)
{
	struct cat_io *c = arg;
	ssize_t n = co_write_all(co_proc_stdin_fd(c->p), c->data, CAT_BYTES,
	    LONG);

	co_proc_close_stdin(c->p);
	return n == CAT_BYTES ? 0 : (int)n;
}

static int
cat_reader(void *arg)
{
	struct cat_io *c = arg;
	unsigned char buf[16384];       /* task stacks are 64 KiB */
	ssize_t n;

	c->same = true;
	while ((n = co_read(co_proc_stdout_fd(c->p), buf, sizeof(buf),
	    LONG)) > 0) {
		if (c->got + (size_t)n > CAT_BYTES ||
		    memcmp(buf, c->data + c->got, (size_t)n) != 0)
			c->same = false;
		c->got += (size_t)n;
	}
	return (int)n;
}

static int
cat_echo(void *arg)
{
	static const char *const argv[] = { "cat", NULL };
	struct co_proc_opts o = { .argv = argv, .pipe_stdin = true,
	    .pipe_stdout = true };
	struct cat_io c = { 0 };
	struct co_task *w, *r;
	int wr = -1, rr = -1, st = -1;

	(void)arg;
	ck_assert_ptr_nonnull(c.data = malloc(CAT_BYTES));
	for (size_t i = 0; i < CAT_BYTES; i++)
		c.data[i] = (unsigned char)(i * 13 + (i >> 16));
	ck_assert_int_eq(co_proc_spawn(&o, &c.p), 0);
	ck_assert_int_eq(co_spawn(tu_rt, cat_writer, &c, &w), 0);
	ck_assert_int_eq(co_spawn(tu_rt, cat_reader, &c, &r), 0);
	ck_assert_int_eq(co_join(w, &wr), 0);
	ck_assert_int_eq(co_join(r, &rr), 0);
	ck_assert_int_eq(wr, 0);
	ck_assert_int_eq(rr, 0);
	ck_assert_uint_eq(c.got, CAT_BYTES);
	ck_assert_msg(c.same, "cat's output differs from its input");
	ck_assert_int_eq(co_proc_wait(c.p, LONG, &st), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	co_proc_free(c.p);
	free(c.data);
	return 0;
}

START_TEST(test_cat_echo)
{
	tu_run(cat_echo, NULL);
}
END_TEST

/* With SIGPIPE ignored, writing to a child that is gone is -EPIPE. */
static int
stdin_epipe(void *arg)
{
	static const char *const argv[] = { "true", NULL };
	struct co_proc_opts o = { .argv = argv, .pipe_stdin = true };
	struct co_proc *p;

	(void)arg;
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, NULL), 0);
	ck_assert_int_eq(co_write_all(co_proc_stdin_fd(p), "x", 1, 1.0),
	    -EPIPE);
	co_proc_free(p);
	return 0;
}

START_TEST(test_stdin_epipe)
{
	tu_run(stdin_epipe, NULL);
}
END_TEST

/* ---- exec failures ------------------------------------------------------ */

static int
spawn_rc(const char *const *argv, const char *cwd)
{
	struct co_proc_opts o = { .argv = argv, .cwd = cwd,
	    .pipe_stdout = true };
	struct co_proc *p = (struct co_proc *)&o;      /* must be reset */
	int rc = co_proc_spawn(&o, &p);

	if (rc < 0)
		ck_assert_ptr_null(p);
	else
		co_proc_free(p);
	return rc;
}

static int
missing_program(void *arg)
{
	static const char *const a1[] = { "no-such-program-jobd", NULL };
	static const char *const a2[] = { "/nonexistent/prog", NULL };
	static const char *const a3[] = { "", NULL };
	static const char *const a4[] = { NULL };

	(void)arg;
	ck_assert_int_eq(spawn_rc(a1, NULL), -ENOENT);
	ck_assert_int_eq(spawn_rc(a2, NULL), -ENOENT);
	ck_assert_int_eq(spawn_rc(a3, NULL), -ENOENT);
	ck_assert_int_eq(spawn_rc(a4, NULL), -EINVAL);
	return 0;
}

START_TEST(test_missing_program)
{
	tu_run(missing_program, NULL);
}
END_TEST

static void
make_file(char *path, const char *text, mode_t mode)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static int
not_executable(void *arg)
{
	char path[] = "/tmp/test_proc.XXXXXX";
	const char *argv[] = { path, NULL };

	(void)arg;
	make_file(path, "#!/bin/sh\necho hi\n", 0644);
	ck_assert_int_eq(spawn_rc(argv, NULL), -EACCES);
	unlink(path);
	return 0;
}

START_TEST(test_not_executable)
{
	tu_run(not_executable, NULL);
}
END_TEST

/* An executable text file without "#!" is not run through a shell. */
static int
no_shell(void *arg)
{
	char path[] = "/tmp/test_proc.XXXXXX";
	const char *argv[] = { path, NULL };

	(void)arg;
	make_file(path, "echo hi\n", 0755);
	ck_assert_int_eq(spawn_rc(argv, NULL), -ENOEXEC);
	unlink(path);
	return 0;
}

START_TEST(test_no_shell)
{
	tu_run(no_shell, NULL);
}
END_TEST

static int
bad_cwd(void *arg)
{
	static const char *const argv[] = { "true", NULL };
	char file[] = "/tmp/test_proc.XXXXXX";

	(void)arg;
	ck_assert_int_eq(spawn_rc(argv, "/nonexistent/dir"), -ENOENT);
	make_file(file, "", 0644);
	ck_assert_int_eq(spawn_rc(argv, file), -ENOTDIR);
	unlink(file);
	return 0;
}

START_TEST(test_bad_cwd)
{
	tu_run(bad_cwd, NULL);
}
END_TEST

/* ---- signals and waiting (run in both reaping modes) -------------------- */

static int
killed_by_signal(void *arg)
{
	struct co_proc *p = spawn_argv(sleep30, false);
	int st = -1;
	double t0 = co_now();

	(void)arg;
	ck_assert_int_eq(co_proc_signal(p, SIGTERM), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGTERM);
	tu_assert_time(co_now() - t0, 0.0, 0.5);
	ck_assert_int_eq(co_proc_signal(p, SIGTERM), -ESRCH);
	co_proc_free(p);
	return 0;
}

START_TEST(test_killed_by_signal)
{
	tu_run(killed_by_signal, NULL);
}
END_TEST

static int
wait_timeout_signal(void *arg)
{
	struct co_proc *p = spawn_argv(sleep30, false);
	int st = -1;
	double t0 = co_now();

	(void)arg;
	ck_assert_int_eq(co_proc_wait(p, 0.1, &st), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.1, 0.05);
	ck_assert(!co_proc_reaped(p));
	ck_assert_int_eq(proc_state(co_proc_pid(p)), 'S');
	ck_assert_int_eq(co_proc_signal(p, SIGKILL), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	co_proc_free(p);
	return 0;
}

START_TEST(test_wait_timeout_signal)
{
	tu_run(wait_timeout_signal, NULL);
}
END_TEST

static int
waiter(void *arg)
{
	int st = -1, rc = co_proc_wait(arg, CO_FOREVER, &st);

	return rc < 0 ? rc : st;
}

/* A cancelled wait leaves the child running and owned; several waiters
 * all get the status. */
static int
wait_cancel(void *arg)
{
	struct co_proc *p = spawn_argv(sleep30, false);
	struct co_task *t1, *t2, *t3;
	int r1 = 0, r2 = -1, r3 = -1;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, waiter, p, &t1), 0);
	ck_assert_int_eq(co_spawn(tu_rt, waiter, p, &t2), 0);
	ck_assert_int_eq(co_spawn(tu_rt, waiter, p, &t3), 0);
	ck_assert_int_eq(co_sleep(0.03), 0);
	co_cancel(t1);
	ck_assert_int_eq(co_join(t1, &r1), 0);
	ck_assert_int_eq(r1, -ECANCELED);
	ck_assert(!co_proc_reaped(p));
	ck_assert_int_eq(kill(co_proc_pid(p), 0), 0);
	ck_assert_int_eq(co_proc_signal(p, SIGUSR1), 0);
	ck_assert_int_eq(co_join(t2, &r2), 0);
	ck_assert_int_eq(co_join(t3, &r3), 0);
	ck_assert(WIFSIGNALED(r2) && WTERMSIG(r2) == SIGUSR1);
	ck_assert_int_eq(r2, r3);
	co_proc_free(p);
	return 0;
}

START_TEST(test_wait_cancel)
{
	tu_run(wait_cancel, NULL);
}
END_TEST

static bool
grandchild_dead(pid_t pid)
{
	return proc_dead(pid);
}

/* Start sh with a background sleep; returns sh's co_proc, *gpid the
 * sleep's pid.  sh waits for the sleep, or with leave exits at once. */
static struct co_proc *
spawn_family_opts(pid_t *gpid, bool leave, bool kill_group)
{
	static const char *const waits[] = { "sh", "-c",
	    "sleep 30 & echo $!; wait", NULL };
	static const char *const leaves[] = { "sh", "-c",
	    "sleep 30 & echo $!", NULL };
	struct co_proc_opts o = { .argv = leave ? leaves : waits,
	    .pipe_stdout = true, .kill_group_on_exit = kill_group };
	struct co_proc *p = NULL;
	char line[32];
	size_t len = 0;
	ssize_t n;

	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	while (memchr(line, '\n', len) == NULL) {
		n = co_read(co_proc_stdout_fd(p), line + len,
		    sizeof(line) - 1 - len, LONG);
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
	}
	line[len] = '\0';
	*gpid = (pid_t)atol(line);
	ck_assert_int_gt(*gpid, 0);
	ck_assert_int_eq(getpgid(*gpid), co_proc_pid(p));
	return p;
}

static struct co_proc *
spawn_family(pid_t *gpid)
{
	struct co_proc *p = spawn_family_opts(gpid, false, false);

	ck_assert(!proc_dead(*gpid));
	return p;
}

static int
signal_grandchild(void *arg)
{
	pid_t gpid;
	struct co_proc *p = spawn_family(&gpid);
	int st = -1;

	(void)arg;
	ck_assert_int_eq(co_proc_signal(p, SIGTERM), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	ck_assert_msg(eventually(grandchild_dead, gpid),
	    "grandchild %ld survived", (long)gpid);
	co_proc_free(p);
	return 0;
}

START_TEST(test_signal_grandchild)
{
	tu_run(signal_grandchild, NULL);
}
END_TEST

/* kill_group_on_exit: the child's exit takes its background sleep with
 * it; without the option the sleep stays (and is killed here). */
static int
kill_group_on_exit(void *arg)
{
	struct co_proc *p;
	pid_t gpid;
	int st = -1;

	(void)arg;
	p = spawn_family_opts(&gpid, true, true);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(eventually(grandchild_dead, gpid),
	    "grandchild %ld survived", (long)gpid);
	co_proc_free(p);

	p = spawn_family_opts(&gpid, true, false);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert_int_eq(co_sleep(0.05), 0);
	ck_assert_msg(!proc_dead(gpid), "grandchild %ld died", (long)gpid);
	ck_assert_int_eq(kill(gpid, SIGKILL), 0);
	ck_assert(eventually(grandchild_dead, gpid));
	co_proc_free(p);
	return 0;
}

START_TEST(test_kill_group_on_exit)
{
	tu_run(kill_group_on_exit, NULL);
}
END_TEST

/* co_proc_free of a live child: killed, reaped in the background, no
 * zombie, and its grandchildren are killed too. */
static int
free_no_zombie(void *arg)
{
	pid_t pid, gpid;
	struct co_proc *p = spawn_family(&gpid);
	double t0;

	(void)arg;
	pid = co_proc_pid(p);
	t0 = co_now();
	co_proc_free(p);
	/* Did not wait for the family (its sleep lives 30 s): a bound
	 * relative to that, not to the machine's speed. */
	ck_assert(co_now() - t0 < 3.0);
	ck_assert_uint_eq(co_proc_orphans(), 1);
	ck_assert_msg(eventually(proc_gone, pid), "pid %ld not reaped (%c)",
	    (long)pid, proc_state(pid));
	ck_assert(eventually(no_orphans, 0));
	ck_assert(eventually(grandchild_dead, gpid));
	ck_assert_int_eq(child_count(), 0);
	return 0;
}

START_TEST(test_free_no_zombie)
{
	tu_run(free_no_zombie, NULL);
}
END_TEST

/* co_rt_shutdown waits for the reaper of a freed child. */
static int
free_then_end(void *arg)
{
	pid_t *pid = arg;
	struct co_proc *p = spawn_argv(sleep30, false);

	*pid = co_proc_pid(p);
	co_proc_free(p);
	return 0;
}

START_TEST(test_free_at_shutdown)
{
	pid_t pid = 0;

	tu_run(free_then_end, &pid);
	co_rt_shutdown(tu_rt);
	ck_assert_uint_eq(co_proc_orphans(), 0);
	ck_assert_int_eq(proc_state(pid), 0);
}
END_TEST

/* A spawn in a cancelled task: -ECANCELED, nothing left behind. */
static int
spawn_cancelled_task(void *arg)
{
	struct co_proc_opts o = { .argv = sleep30, .pipe_stdout = true };
	struct co_proc *p;

	(void)arg;
	return co_proc_spawn(&o, &p);
}

static int
spawn_cancelled(void *arg)
{
	struct co_task *t;
	int r = 0;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, spawn_cancelled_task, NULL, &t), 0);
	co_cancel(t);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert(eventually(no_orphans, 0));
	ck_assert_int_eq(child_count(), 0);
	return 0;
}

START_TEST(test_spawn_cancelled)
{
	tu_run(spawn_cancelled, NULL);
}
END_TEST

/* A deadline that has passed interrupts the exec hand-shake: the child
 * (forked already) is killed and reaped by a reaper, since the expired
 * scope cuts short any wait of our own. */
static int
spawn_expired(void *arg)
{
	struct co_proc_opts o = { .argv = sleep30 };
	struct co_proc *p = NULL;
	struct co_scope s;

	(void)arg;
	co_scope_enter(&s, 0);
	ck_assert_int_eq(co_proc_spawn(&o, &p), -ETIMEDOUT);
	ck_assert_int_eq(co_scope_exit(&s), -ETIMEDOUT);
	ck_assert_ptr_null(p);
	ck_assert(eventually(no_orphans, 0));
	ck_assert_int_eq(child_count(), 0);
	return 0;
}

START_TEST(test_spawn_expired)
{
	tu_run(spawn_expired, NULL);
}
END_TEST

/* A cancel during the hand-shake: the child is killed and reaped before
 * co_proc_spawn returns.  The child has started by the time the spawning
 * task parks for the exec's verdict; a second task, run in the same pass
 * before any I/O is seen, cancels it there. */
static int
spawn_then_free(void *arg)
{
	struct co_proc_opts o = { .argv = sleep30 };
	struct co_proc *p = NULL;
	int rc = co_proc_spawn(&o, &p);

	(void)arg;
	if (rc == 0)
		co_proc_free(p);
	return rc;
}

static int
cancel_task(void *arg)
{
	struct co_task *t = arg;

	ck_assert(!co_done(t));
	ck_assert_int_eq(child_count(), 1);     /* started, not reaped */
	co_cancel(t);
	return 0;
}

static int
spawn_cancel_handshake(void *arg)
{
	struct co_task *t, *c;
	int r = 0;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, spawn_then_free, NULL, &t), 0);
	ck_assert_int_eq(co_spawn(tu_rt, cancel_task, t, &c), 0);
	ck_assert_int_eq(co_join(c, &r), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_uint_eq(co_proc_orphans(), 0);
	ck_assert_int_eq(child_count(), 0);
	return 0;
}

START_TEST(test_spawn_cancel_handshake)
{
	tu_run(spawn_cancel_handshake, NULL);
}
END_TEST

/* ---- spawner threads ------------------------------------------------------ */

/* A $PATH of n missing directories before the real ones: the child
 * searches it before its exec.  Returns the old $PATH (to free). */
static char *
slow_path(size_t n)
{
	const char *old = getenv("PATH");
	char *saved = strdup(old ? old : "/usr/bin:/bin"), *path;
	size_t i, len = 0, cap = n * 24 + 64;

	ck_assert_ptr_nonnull(path = malloc(cap));
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(path + len, cap - len,
		    "/nonexistent/d%05zu:", i);
	snprintf(path + len, cap - len, "/usr/bin:/bin");
	ck_assert_int_eq(setenv("PATH", path, 1), 0);
	free(path);
	return saved;
}

struct spawner_run {
	struct co_pool *pool;
	bool spawning;
	int ticks;              /* ticker passes while spawning */
};

static int
ticker(void *arg)
{
	struct spawner_run *r = arg;

	while (r->spawning) {
		r->ticks++;
		if (co_sleep(0.0005) < 0)
			break;
	}
	return 0;
}

/* Spawns through a pool: results as usual, errors included, and the
 * loop goes on while a child searches a long $PATH. */
static int
spawner(void *arg)
{
	static const char *const echo[] = { "echo", "via", "pool", NULL };
	static const char *const none[] = { "no-such-program-x", NULL };
	static const char *const small_env[] = { "X=1", NULL };
	struct spawner_run *r = arg;
	struct co_proc_opts o = { .argv = echo, .spawner = r->pool };
	struct co_task *t;
	struct co_proc *p;
	char out[64], *saved;
	int st;

	ck_assert_int_eq(run_capture(&o, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "via pool\n");
	o.argv = none;
	ck_assert_int_eq(co_proc_spawn(&o, &p), -ENOENT);
	saved = slow_path(20000);
	r->spawning = true;
	ck_assert_int_eq(co_spawn(tu_rt, ticker, r, &t), 0);
	o.argv = sleep30;
	o.envp = small_env;     /* not the long $PATH: E2BIG */
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	r->spawning = false;
	ck_assert_int_eq(co_join(t, NULL), 0);
	ck_assert_int_eq(setenv("PATH", saved, 1), 0);
	free(saved);
	ck_assert_msg(r->ticks > 1, "the loop stood still (%d ticks)",
	    r->ticks);
	ck_assert_int_eq(co_proc_signal(p, SIGTERM), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	co_proc_free(p);
	return 0;
}

START_TEST(test_spawner)
{
	struct spawner_run r = { 0 };

	ck_assert_ptr_nonnull(r.pool = co_pool_new(tu_rt, 2));
	tu_run(spawner, &r);
	co_pool_free(r.pool);
}
END_TEST

/* A child dies with the pool thread that spawned it (PDEATHSIG follows
 * the thread). */
static int
spawner_gone(void *arg)
{
	struct co_pool *pool = co_pool_new(tu_rt, 1);
	struct co_proc_opts o = { .argv = sleep30, .spawner = pool };
	struct co_proc *p;
	int st = -1;

	(void)arg;
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(co_proc_spawn(&o, &p), 0);
	co_pool_free(pool);
	ck_assert_int_eq(co_proc_wait(p, LONG, &st), 0);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	co_proc_free(p);
	return 0;
}

START_TEST(test_spawner_gone)
{
	if (RUNNING_ON_VALGRIND) {
		/* co_proc forks from the calling thread there */
		fprintf(stderr, "test_spawner_gone: valgrind, skipped\n");
		return;
	}
	tu_run(spawner_gone, NULL);
}
END_TEST

/* ---- a signal while a task runs ------------------------------------------ */

/* A signal that arrives while a task runs reaches its libevent event even
 * if the task then parks until that event wakes it.  Under TSan the signal
 * is held on the running task's fiber (co.c, tsan_deliver): without the
 * delivery on the way out, the task would wait for ever.  Elsewhere the
 * kernel delivers it at once and this passes as it must.  Here, since
 * the SIGCHLD mode is where it bit: a SIGCHLD in the few instructions
 * between a task's waitpid and its park (test_mechanism_sigchld timed
 * out under TSan). */
static atomic_int sig_spinning, sig_sent, sig_late;

static void *
sig_sender(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);       /* main takes it */
	while (!atomic_load(&sig_spinning))
		;
	kill(getpid(), SIGUSR1);
	atomic_store(&sig_sent, 1);
	return NULL;
}

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	co_event_set(arg);
}

/* sig_sent read by a plain load TSan does not see: an atomic load (and
 * any intercepted call) is where TSan delivers what it held back. */
static int
sent_unseen(void)
{
	int v;

#if defined(__x86_64__)
	__asm__ volatile("movl %1, %0" : "=r"(v) : "m"(sig_sent) : "memory");
#elif defined(__aarch64__)
	__asm__ volatile("ldr %w0, %1" : "=r"(v) : "m"(sig_sent) : "memory");
#else
	v = atomic_load(&sig_sent);
#endif
	return v;
}

static int
signal_while_running(void *arg)
{
	struct co_event *got = arg;

	/* From the store to the park, nothing TSan intercepts: the signal
	 * lands on this task's fiber. */
	atomic_store(&sig_spinning, 1);
	while (!sent_unseen())
		__asm__ volatile("" ::: "memory");
	for (unsigned long i = 0; i < 20000000UL; i++)
		__asm__ volatile("" ::: "memory");      /* delivery lands */
	return co_event_wait(got, CO_FOREVER);  /* no clock read first */
}

/* The watchdog of test_signal_while_task_runs: wakes the task anyway. */
static void
sig_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	atomic_store(&sig_late, 1);
	co_event_set(arg);
}

START_TEST(test_signal_while_task_runs)
{
	struct co_event *got = co_event_new();
	struct event *ev;
	pthread_t th;
	int rc = -1;

	ck_assert_ptr_nonnull(got);
	ev = evsignal_new(tu_base, SIGUSR1, sig_cb, got);
	ck_assert_int_eq(event_add(ev, NULL), 0);
	ck_assert_int_eq(event_base_once(tu_base, -1, EV_TIMEOUT, sig_watchdog,
	    got, &(struct timeval){ (time_t)(10 * tu_slow()), 0 }), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, sig_sender, NULL), 0);
	rc = tu_run(signal_while_running, got);
	pthread_join(th, NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(!atomic_load(&sig_late), "the signal was held back");
	event_free(ev);
	co_event_free(got);
}
END_TEST

/* ---- the reaping mechanisms --------------------------------------------- */

static bool
sigchld_caught(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long mask = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "SigCgt: %llx", &mask) == 1)
			break;
	fclose(f);
	return (mask >> (SIGCHLD - 1)) & 1;
}

static int
pidfds_open(void)
{
	char path[64], link[64];
	int n = 0;
	ssize_t len;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		n += strstr(link, "pidfd") != NULL;
	}
	return n;
}

/* The mode in use is the one asked for; the SIGCHLD handler is there only
 * while there are children to watch. */
static int
mechanism(void *arg)
{
	bool sig = *(bool *)arg;
	struct co_proc *p = spawn_argv(sleep30, false);

	ck_assert_int_eq(sigchld_caught(), sig);
	ck_assert_int_eq(pidfds_open(), sig ? 0 : 1);
	ck_assert_int_eq(co_proc_signal(p, SIGKILL), 0);
	ck_assert_int_eq(co_proc_wait(p, LONG, NULL), 0);
	ck_assert(!sigchld_caught());
	ck_assert_int_eq(pidfds_open(), 0);
	co_proc_free(p);
	return 0;
}

START_TEST(test_mechanism_pidfd)
{
	bool sig = false;
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* valgrind, old kernels: the module falls back, as tested
		 * by the "sigchld" cases. */
		fprintf(stderr, "test_mechanism_pidfd: no pidfd_open, skipped\n");
		return;
	}
	close(fd);
	tu_run(mechanism, &sig);
}
END_TEST

START_TEST(test_mechanism_sigchld)
{
	bool sig = true;

	tu_run(mechanism, &sig);
}
END_TEST

/* The SIGCHLD sweep reaps only our own children: a child forked behind
 * the module's back is still there for its owner to reap. */
static int
not_stealing(void *arg)
{
	static const char *const argv[] = { "true", NULL };
	pid_t other;
	int st = -1;

	(void)arg;
	if ((other = fork()) == 0)
		_exit(7);
	ck_assert_int_gt(other, 0);
	ck_assert_int_eq(co_sleep(0.02), 0);    /* it has exited by now */
	st = run_status(argv);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(waitpid(other, &st, 0), other);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	return 0;
}

START_TEST(test_not_stealing)
{
	tu_run(not_stealing, NULL);
}
END_TEST

/* Several children exiting together: coalesced SIGCHLDs lose none. */
static int
many_children(void *arg)
{
	static const char *const argv[] = { "true", NULL };
	struct co_proc *p[8];
	int st, i;

	(void)arg;
	for (i = 0; i < 8; i++)
		p[i] = spawn_argv(argv, false);
	ck_assert_int_eq(co_sleep(0.05), 0);
	for (i = 7; i >= 0; i--) {
		ck_assert_int_eq(co_proc_wait(p[i], LONG, &st), 0);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		co_proc_free(p[i]);
	}
	return 0;
}

START_TEST(test_many_children)
{
	tu_run(many_children, NULL);
}
END_TEST

/* PR_SET_PDEATHSIG: when the spawning process dies, the child is killed.
 * A forked helper process runs its own runtime, spawns sleep, reports the
 * pid and exits without cleaning up. */
static int
helper_task(void *arg)
{
	int fd = *(int *)arg;
	struct co_proc_opts o = { .argv = sleep30 };
	struct co_proc *p;
	pid_t pid;

	if (co_proc_spawn(&o, &p) < 0)
		_exit(1);
	pid = co_proc_pid(p);
	if (write(fd, &pid, sizeof(pid)) != sizeof(pid))
		_exit(2);
	_exit(0);
}

static int
await_dead(void *arg)
{
	return eventually(grandchild_dead, *(pid_t *)arg) ? 0 : -1;
}

START_TEST(test_parent_death)
{
	struct event_base *base;
	struct co_rt *rt;
	pid_t helper, pid = 0;
	int pfd[2], st = -1;

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	if ((helper = fork()) == 0) {
		close(pfd[0]);
		base = co_base_new();
		rt = co_rt_new(base, NULL);
		(void)co_rt_run(rt, helper_task, &pfd[1], NULL);
		_exit(3);
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &pid, sizeof(pid)), sizeof(pid));
	close(pfd[0]);
	ck_assert_int_eq(waitpid(helper, &st, 0), helper);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(tu_run(await_dead, &pid), 0);
}
END_TEST

static void
add_common(TCase *tc)
{
	tcase_add_test(tc, test_true_false);
	tcase_add_test(tc, test_wait_twice);
	tcase_add_test(tc, test_cat_echo);
	tcase_add_test(tc, test_killed_by_signal);
	tcase_add_test(tc, test_wait_timeout_signal);
	tcase_add_test(tc, test_wait_cancel);
	tcase_add_test(tc, test_signal_grandchild);
	tcase_add_test(tc, test_kill_group_on_exit);
	tcase_add_test(tc, test_free_no_zombie);
	tcase_add_test(tc, test_free_at_shutdown);
	tcase_add_test(tc, test_spawn_cancelled);
	tcase_add_test(tc, test_spawn_expired);
	tcase_add_test(tc, test_spawn_cancel_handshake);
	tcase_add_test(tc, test_missing_program);
	tcase_add_test(tc, test_many_children);
	tcase_add_test(tc, test_spawner);
	tcase_add_test(tc, test_spawner_gone);
}

static Suite *
proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("pidfd"), *ts = tcase_create("sigchld");

	tcase_add_checked_fixture(tc, proc_setup, proc_teardown);
	add_common(tc);
	tcase_add_test(tc, test_argv_unchanged);
	tcase_add_test(tc, test_env_replaced);
	tcase_add_test(tc, test_env_inherited);
	tcase_add_test(tc, test_cwd_applied);
	tcase_add_test(tc, test_fds_hygiene);
	tcase_add_test(tc, test_parent_fds);
	tcase_add_test(tc, test_signals_reset);
	tcase_add_test(tc, test_own_group);
	tcase_add_test(tc, test_stderr_streams);
	tcase_add_test(tc, test_stdin_epipe);
	tcase_add_test(tc, test_not_executable);
	tcase_add_test(tc, test_no_shell);
	tcase_add_test(tc, test_bad_cwd);
	tcase_add_test(tc, test_mechanism_pidfd);
	tcase_add_test(tc, test_parent_death);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(ts, proc_setup_sigchld, proc_teardown);
	add_common(ts);
	tcase_add_test(ts, test_mechanism_sigchld);
	tcase_add_test(ts, test_signal_while_task_runs);
	tcase_add_test(ts, test_not_stealing);
	suite_add_tcase(s, ts);
	return s;
}

int
main(void)
{
	return tu_main(proc_suite());
}
