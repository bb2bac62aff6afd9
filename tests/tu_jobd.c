/*
 * tu_jobd.c — see tu_jobd.h.
 *
 * Layout on disk: the TCase's unchecked setup makes a base directory
 * /tmp/tjXXXXXX (in the runner process, so it outlives the tests' forked
 * processes); each test makes BASE/XXXXXX holding jobd.conf, jobd.sock,
 * jobd.db, jobd.err (jobd's stderr, appended across restarts), pids (every
 * jobd started, one per line) and the sqlite3 shell's stderr.  A test
 * that reaches its teardown removes its directory, so a directory still
 * there at the unchecked teardown is that of a failed test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jc.h"
#include "tu_jobd.h"
#include "tu_pg.h"

/* What the harness keeps for the test: answers and strings it handed out. */
struct tj_item {
	void	*p;
	bool	 json;
};

struct tj_conn {
	struct jc_conn	*jc;            /* lib/client's connection */
	bool		 eof;           /* jobd closed (or reset) it */
	bool		 wclosed;       /* a write found it closed */
	struct tj_conn	*next;
};

static char tj_base[32];                /* per TCase, runner process */
static char tj_dir[64];                 /* per test */
static char tj_pgdb[192];               /* per test: JOBD_TEST_STORE */
static char tj_pathbuf[4][128];         /* tj_path's rotating results */
static int tj_pathnext;
static pid_t tj_jobd = -1;
static struct tj_conn *tj_conns;
static struct tj_item *tj_items;
static size_t tj_nitems, tj_citems;
static int tj_fds;                      /* open fds at setup */
static struct tj_spawn tj_next;         /* for the next jobd (tj_spawn_next) */
static const struct tj_spawn *tj_child_sp;  /* for tj_child: this one */

/* ---- small helpers ------------------------------------------------------- */

double
tj_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
tj_sleep(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void
tj_note(const char *fmt, ...)
{
	va_list ap;

	if (getenv("JOBD_TEST_VERBOSE") == NULL)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "tu_jobd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Keep p (a json_t or a malloc'ed block) until teardown; returns p. */
static void *
tj_keep(void *p, bool json)
{
	ck_assert_ptr_nonnull(p);
	if (tj_nitems == tj_citems) {
		tj_citems = tj_citems ? 2 * tj_citems : 256;
		tj_items = realloc(tj_items, tj_citems * sizeof(*tj_items));
		ck_assert_ptr_nonnull(tj_items);
	}
	tj_items[tj_nitems].p = p;
	tj_items[tj_nitems++].json = json;
	return p;
}

static void
tj_free_items(void)
{
	for (size_t i = 0; i < tj_nitems; i++) {
		if (tj_items[i].json)
			json_decref(tj_items[i].p);
		else
			free(tj_items[i].p);
	}
	free(tj_items);
	tj_items = NULL;
	tj_nitems = tj_citems = 0;
}

const char *
tj_path(const char *name)
{
	char *p = tj_pathbuf[tj_pathnext++ % 4];

	ck_assert_msg(tj_dir[0] != '\0', "tu_jobd: no test directory");
	snprintf(p, sizeof(tj_pathbuf[0]), "%s/%s", tj_dir, name);
	return p;
}

char *
tj_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* Printf into a new string, then every ' turned into ". */
static char *
tj_vformat(const char *fmt, va_list ap)
{
	char *s;

	ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
	for (char *p = s; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

const char *
tj_bin(const char *name)
{
	static char bin[512];
	const char *dir = getenv("JOBD_BUILD_DIR");
	char *slash;
	ssize_t n;

	if (dir != NULL) {
		snprintf(bin, sizeof(bin), "%s/%s", dir, name);
	} else {
		n = readlink("/proc/self/exe", bin, sizeof(bin) - 1);
		ck_assert_msg(n > 0, "JOBD_BUILD_DIR is not set");
		bin[n] = '\0';
		slash = strrchr(bin, '/');
		ck_assert_msg(slash != NULL && (size_t)(slash + 1 - bin) +
		    strlen(name) < sizeof(bin), "%s: path too long", bin);
		strcpy(slash + 1, name);
	}
	ck_assert_msg(access(bin, X_OK) == 0, "%s: %s (not built?)", bin,
	    strerror(errno));
	return bin;
}

static const char *
tj_jobd_bin(void)
{
	return tj_bin("jobd");
}

/* ---- jobd's stderr ------------------------------------------------------- */

const char *
tj_log(void)
{
	char *s = tj_slurp(tj_path("jobd.err"), NULL);

	return tj_keep(s != NULL ? s : strdup(""), false);
}

/* Print the end of jobd's stderr to ours, to explain a failure. */
static void
tj_print_log(const char *dir)
{
	char path[512], *s;
	size_t len, from;

	snprintf(path, sizeof(path), "%s/jobd.err", dir);
	if ((s = tj_slurp(path, &len)) == NULL)
		return;
	from = len > 6000 ? len - 6000 : 0;
	fprintf(stderr, "---- %s (%s%zu bytes) ----\n%s---- end ----\n",
	    path, from ? "last 6000 of " : "", len, s + from);
	free(s);
}

/* The first sanitizer report line in jobd's stderr, or NULL.  Valgrind
 * marks its reports when run with --error-markers=VALGRIND-ERROR,... (as
 * tests/run's valgrind level runs jobd). */
static char *
tj_sanitizer_line(void)
{
	static const char *const marks[] = { "Sanitizer:", "runtime error:",
		"VALGRIND-ERROR" };
	char *s = tj_slurp(tj_path("jobd.err"), NULL), *hit = NULL, *line;

	for (size_t i = 0; s != NULL && hit == NULL && i < 3; i++)
		hit = strstr(s, marks[i]);
	if (hit == NULL) {
		free(s);
		return NULL;
	}
	while (hit > s && hit[-1] != '\n')
		hit--;
	line = strndup(hit, strcspn(hit, "\n"));
	free(s);
	return tj_keep(line, false);
}

static void
tj_check_sanitizer(void)
{
	char *line = tj_sanitizer_line();

	if (line != NULL) {
		tj_print_log(tj_dir);
		ck_abort_msg("jobd's stderr has a sanitizer report: %s", line);
	}
}

/* ---- processes ----------------------------------------------------------- */

/* Child side of tj_spawn_next's options: fd 3 and the environment.
 * Returns the first fd to close. */
static int
tj_child_service(const struct tj_spawn *sp)
{
	char pid[16], name[64];
	const char *const *e;
	const char *eq;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (sp->listen_fd > 0) {
		if (sp->listen_fd == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(sp->listen_fd, 3);
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pid, 1);
	}
	for (e = sp->env; e != NULL && *e != NULL; e++) {
		if ((eq = strchr(*e, '=')) == NULL ||
		    (size_t)(eq - *e) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
		setenv(name, strcmp(eq + 1, "@pid") == 0 ? pid : eq + 1, 1);
	}
	return sp->listen_fd > 0 ? 4 : 3;
}

/* Child side of a spawn: die with the test (parent), stdout to outfd,
 * stderr to errfd, stdin from /dev/null, default signals, exec argv. */
static void __attribute__((noreturn))
tj_child(char *const argv[], int outfd, int errfd, pid_t parent)
{
	sigset_t all;
	int null, from = 3;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	null = open("/dev/null", O_RDONLY);
	dup2(null, 0);
	dup2(outfd, 1);
	dup2(errfd, 2);
	if (tj_child_sp != NULL)
		from = tj_child_service(tj_child_sp);
	for (int fd = from; fd < 1024; fd++)
		close(fd);
	execvp(argv[0], argv);
	dprintf(2, "tu_jobd: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Start argv with stdout and stderr appended to errpath; returns its pid. */
static pid_t
tj_spawn(char *const argv[], const char *errpath)
{
	int fd = open(errpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t parent = getpid(), pid;

	ck_assert_msg(fd >= 0, "%s: %s", errpath, strerror(errno));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		tj_child(argv, fd, fd, parent);
	close(fd);
	return pid;
}

/* Wait up to timeout s for pid to exit; true and *code (exit code or
 * 128 + signal) if it did. */
static bool
tj_reap(pid_t pid, double timeout, int *code)
{
	double end = tj_now() + timeout;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		ck_assert_msg(r == 0, "waitpid %d: %s", (int)pid,
		    strerror(errno));
		if (tj_now() > end)
			return false;
		tj_sleep(0.002);
	}
	*code = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	return true;
}

/* The signal that last asked jobd to stop (SIGTERM, SIGINT), or 0. */
static int tj_stop_sig;

/* tj_reap for a jobd asked to stop with sig (0: not asked).  Under
 * ThreadSanitizer a signal that arrives while a coroutine runs is queued
 * on that coroutine's TSan fiber, to be delivered at the fiber's next
 * intercepted call; co.c delivers it before each switch out, but a few
 * instructions stay open: so sig is sent again every 2 s (a repeated
 * SIGTERM only logs "already stopping").
 * docs/RELIABILITY.md, "Sanitizers". */
static bool
tj_reap_stop(pid_t pid, double timeout, int sig, int *code)
{
#ifdef JOBD_TSAN
	double end = tj_now() + timeout;

	while (sig != 0 && end - tj_now() > 2) {
		if (tj_reap(pid, 2, code))
			return true;
		kill(pid, sig);
	}
#endif
	return tj_reap(pid, timeout, code);
}

static void
tj_kill_reap(pid_t pid)
{
	int code;

	kill(pid, SIGKILL);
	ck_assert(tj_reap(pid, 30, &code));
}

/* ---- starting and stopping ----------------------------------------------- */

int
tj_raw_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, e;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    tj_path("jobd.sock"));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A connection on fd (taken), or NULL (errno set). */
static struct tj_conn *
tj_conn_on(int fd)
{
	struct tj_conn *c;
	int rc;

	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	if ((rc = jc_fdopen(fd, &c->jc)) < 0) {
		free(c);
		errno = -rc;
		return NULL;
	}
	c->next = tj_conns;
	tj_conns = c;
	return c;
}

/* A connection to the socket, or NULL (errno set). */
static struct tj_conn *
tj_connect_try(void)
{
	int fd;

	if ((fd = tj_raw_connect()) < 0)
		return NULL;
	return tj_conn_on(fd);
}

struct tj_conn *
tj_adopt(int fd)
{
	struct tj_conn *c = tj_conn_on(fd);

	ck_assert_msg(c != NULL, "adopt fd %d: %s", fd, strerror(errno));
	return c;
}

/* Is jobd answering ping? */
static bool
tj_pings(void)
{
	struct tj_conn *c = tj_connect_try();
	const char *ok = "{\"op\":\"ping\"}\n";
	char *line;
	bool up;

	if (c == NULL)
		return false;
	tj_write(c, ok, strlen(ok));
	line = tj_line(c, 2 * tu_slow());
	up = line != NULL && strstr(line, "\"ok\":true") != NULL;
	tj_close(c);
	return up;
}

/* argv for the jobd of the test: $JOBD_TEST_WRAPPER's words (a command
 * that execs its arguments, e.g. "valgrind --error-exitcode=99"; split on
 * spaces, no quoting), then jobd -c CONF.  Both are kept for the test. */
static char **
tj_jobd_argv(void)
{
	const char *env = getenv("JOBD_TEST_WRAPPER");
	char *words = tj_keep(strdup(env != NULL ? env : ""), false), *w;
	char **argv = tj_keep(calloc(strlen(words) / 2 + 5, sizeof(*argv)),
	    false);
	size_t n = 0;

	for (w = strtok(words, " "); w != NULL; w = strtok(NULL, " "))
		argv[n++] = w;
	argv[n++] = (char *)tj_jobd_bin();
	argv[n++] = "-c";
	argv[n++] = (char *)tj_path("jobd.conf");
	return argv;
}

static void
tj_spawn_jobd(void)
{
	char **argv = tj_jobd_argv();
	double end = tj_now() + 2 * TJ_TIMEOUT;
	struct tj_spawn sp = tj_next;
	FILE *f;
	int code;

	ck_assert_msg(tj_jobd < 0, "jobd is running already");
	tj_stop_sig = 0;
	memset(&tj_next, 0, sizeof(tj_next));
	tj_child_sp = &sp;
	tj_jobd = tj_spawn(argv, tj_path("jobd.err"));
	tj_child_sp = NULL;
	if ((f = fopen(tj_path("pids"), "ae")) != NULL) {
		fprintf(f, "%d\n", (int)tj_jobd);
		fclose(f);
	}
	while (!sp.nowait && !tj_pings()) {
		if (tj_reap(tj_jobd, 0, &code)) {
			tj_jobd = -1;
			tj_print_log(tj_dir);
			ck_abort_msg("jobd exited with %d at start", code);
		}
		if (tj_now() > end) {
			tj_print_log(tj_dir);
			ck_abort_msg("jobd not ready after %.0f s",
			    2 * TJ_TIMEOUT);
		}
		tj_sleep(0.01);
	}
}

static void
tj_vconf(const char *conf, va_list ap)
{
	FILE *f = fopen(tj_path("jobd.conf.new"), "we");

	ck_assert_ptr_nonnull(f);
	/* JOBD_TEST_STORE=postgresql: a database of the suite's cluster,
	 * one per test, kept across restarts. */
	if (tu_pg_wanted() && tj_pgdb[0] == '\0')
		tu_pg_newdb(tj_pgdb, sizeof(tj_pgdb));
	if (tu_pg_wanted())
		fprintf(f, "[daemon]\nsocket = %s\nstore = postgresql\n"
		    "database = %s\n", tj_path("jobd.sock"), tj_pgdb);
	else
		fprintf(f, "[daemon]\nsocket = %s\ndatabase = %s\n",
		    tj_path("jobd.sock"), tj_path("jobd.db"));
	vfprintf(f, conf, ap);
	ck_assert_int_eq(fclose(f), 0);
	/* Whole or not at all, for a jobd that reloads it. */
	ck_assert_int_eq(rename(tj_path("jobd.conf.new"),
	    tj_path("jobd.conf")), 0);
}

void
tj_conf(const char *conf, ...)
{
	va_list ap;

	va_start(ap, conf);
	tj_vconf(conf, ap);
	va_end(ap);
}

void
tj_start(const char *conf, ...)
{
	va_list ap;

	va_start(ap, conf);
	tj_vconf(conf, ap);
	va_end(ap);
	tj_spawn_jobd();
}

void
tj_spawn_next(const struct tj_spawn *sp)
{
	tj_next = *sp;
}

void
tj_restart(void)
{
	FILE *f = fopen(tj_path("jobd.err"), "ae");

	if (f != NULL) {
		fprintf(f, "==== tu_jobd: restart ====\n");
		fclose(f);
	}
	tj_spawn_jobd();
}

void
tj_signal(int sig)
{
	ck_assert_msg(tj_jobd > 0, "jobd is not running");
	if (sig == SIGTERM || sig == SIGINT)
		tj_stop_sig = sig;
	ck_assert_int_eq(kill(tj_jobd, sig), 0);
}

int
tj_wait_exit(double timeout)
{
	pid_t pid = tj_jobd;
	int code;

	ck_assert_msg(pid > 0, "jobd is not running");
	if (!tj_reap_stop(pid, timeout, tj_stop_sig, &code)) {
		tj_kill_reap(pid);
		tj_jobd = -1;
		tj_print_log(tj_dir);
		ck_abort_msg("jobd still running after %.1f s", timeout);
	}
	tj_jobd = -1;
	tj_check_sanitizer();
	return code;
}

int
tj_term(double timeout, double *elapsed)
{
	double t0 = tj_now();
	int code;

	tj_signal(SIGTERM);
	code = tj_wait_exit(timeout);
	if (elapsed != NULL)
		*elapsed = tj_now() - t0;
	return code;
}

void
tj_stop(void)
{
	int code = tj_term(3 * TJ_TIMEOUT, NULL);

	if (code != 0) {
		tj_print_log(tj_dir);
		ck_abort_msg("jobd exited with %d after SIGTERM", code);
	}
}

void
tj_kill(void)
{
	ck_assert_msg(tj_jobd > 0, "jobd is not running");
	tj_kill_reap(tj_jobd);
	tj_jobd = -1;
	tj_check_sanitizer();
}

int
tj_run_jobd(double timeout, ...)
{
	char *argv[16] = { (char *)tj_jobd_bin() };
	const char *a;
	va_list ap;
	int n = 1, code;
	pid_t pid;

	va_start(ap, timeout);
	while ((a = va_arg(ap, const char *)) != NULL && n < 15)
		argv[n++] = strcmp(a, "@conf") == 0 ?
		    (char *)tj_path("jobd.conf") : (char *)a;
	va_end(ap);
	argv[n] = NULL;
	pid = tj_spawn(argv, tj_path("other.err"));
	if (!tj_reap(pid, timeout, &code)) {
		tj_kill_reap(pid);
		ck_abort_msg("%s %s still running after %.1f s", argv[0],
		    argv[1] ? argv[1] : "", timeout);
	}
	return code;
}

pid_t
tj_pid(void)
{
	return tj_jobd;
}

long
tj_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tj_jobd);
	ck_assert_ptr_nonnull(f = fopen(path, "re"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_int_gt(kb, 0);
	return kb;
}

/* ---- fixtures ------------------------------------------------------------ */

static int
tj_rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(type == FTW_DP ? rmdir : unlink)(path);
	return 0;
}

static void
tj_rm_tree(const char *dir)
{
	nftw(dir, tj_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* SIGKILL every jobd listed in dir/pids that still runs: ours (its command
 * line names this directory's config), not a process that reused the id. */
static void
tj_kill_stragglers(const char *dir)
{
	char path[512], cmd[512];
	FILE *f;
	int pid, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/pids", dir);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fscanf(f, "%d", &pid) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			cmd[i] = cmd[i] ? cmd[i] : ' ';
		cmd[n > 0 ? n : 0] = '\0';
		if (strstr(cmd, dir) != NULL)
			kill(pid, SIGKILL);
	}
	fclose(f);
}

static void
tj_base_setup(void)
{
	snprintf(tj_base, sizeof(tj_base), "/tmp/tjXXXXXX");
	if (mkdtemp(tj_base) == NULL) {
		fprintf(stderr, "tu_jobd: mkdtemp: %s\n", strerror(errno));
		abort();
	}
}

/* Runner process, after the TCase: what is left belongs to failed tests. */
static void
tj_base_teardown(void)
{
	DIR *d = opendir(tj_base);
	struct dirent *de;
	char dir[320];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", tj_base, de->d_name);
		fprintf(stderr, "tu_jobd: %s: a test failed before its "
		    "teardown\n", dir);
		tj_print_log(dir);
		tj_kill_stragglers(dir);
	}
	if (d != NULL)
		closedir(d);
	tj_sleep(0.1);                  /* let the killed ones go */
	tj_rm_tree(tj_base);
}

static void
tj_setup(void)
{
	ck_assert_msg(tj_base[0] != '\0', "use tj_tcase()");
	snprintf(tj_dir, sizeof(tj_dir), "%s/XXXXXX", tj_base);
	ck_assert_ptr_nonnull(mkdtemp(tj_dir));
	tj_jobd = -1;
	tj_conns = NULL;
	tj_pgdb[0] = '\0';
	memset(&tj_next, 0, sizeof(tj_next));
	signal(SIGPIPE, SIG_IGN);
	tj_fds = tu_fd_count();
}

/* Everything is undone before anything is asserted, so that a failing
 * teardown (valgrind's no-fork mode runs it after a failed test too)
 * still leaves no process and no directory behind. */
static void
tj_teardown(void)
{
	char *sanitizer, *why = NULL;
	int code = 0, fds;

	/* A test that failed while it was another user (seteuid) would
	 * leave the next test's setup unable to enter root's temp dir. */
	if (getuid() == 0 && geteuid() != 0 && (seteuid(0) == -1 ||
	    setegid(0) == -1))
		fprintf(stderr, "tu_jobd: back to root: %s\n",
		    strerror(errno));
	while (tj_conns != NULL)
		tj_close(tj_conns);
	fds = tu_fd_count();
	if (tj_jobd > 0) {
		kill(tj_jobd, SIGTERM);
		if (!tj_reap_stop(tj_jobd, 3 * TJ_TIMEOUT, SIGTERM, &code)) {
			tj_kill_reap(tj_jobd);
			why = "jobd did not exit after SIGTERM";
		} else if (code != 0) {
			why = "jobd's exit status after SIGTERM is not 0";
		}
		tj_jobd = -1;
	}
	sanitizer = tj_sanitizer_line();
	if (why != NULL || sanitizer != NULL)
		tj_print_log(tj_dir);
	if (sanitizer != NULL)
		sanitizer = strdup(sanitizer);
	tj_free_items();
	tj_rm_tree(tj_dir);
	tj_dir[0] = '\0';
	ck_assert_msg(why == NULL, "%s (%d)", why, code);
	ck_assert_msg(sanitizer == NULL, "sanitizer report: %s", sanitizer);
	ck_assert_msg(fds == tj_fds, "fds: %d at setup, %d at teardown",
	    tj_fds, fds);
}

TCase *
tj_tcase(const char *name, double timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, tj_base_setup, tj_base_teardown);
	tcase_add_checked_fixture(tc, tj_setup, tj_teardown);
	tcase_set_timeout(tc, timeout * tu_slow());
	return tc;
}

/* ---- connections --------------------------------------------------------- */

struct tj_conn *
tj_connect(void)
{
	struct tj_conn *c = tj_connect_try();

	ck_assert_msg(c != NULL, "connect %s: %s", tj_path("jobd.sock"),
	    strerror(errno));
	return c;
}

void
tj_close(struct tj_conn *c)
{
	struct tj_conn **pp;

	if (c == NULL)
		return;
	for (pp = &tj_conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	jc_close(c->jc);
	free(c);
}

bool
tj_eof(const struct tj_conn *c)
{
	return c->eof;
}

char *
tj_line(struct tj_conn *c, double timeout)
{
	char *line;
	size_t len;
	int rc;

	if (c->eof)
		return NULL;
	rc = jc_recv(c->jc, timeout, &line, &len);
	if (rc == -ETIMEDOUT)
		return NULL;
	ck_assert_msg(rc == 0 || rc == -EPIPE || rc == -EBADMSG ||
	    rc == -ECONNRESET, "read: %s", strerror(-rc));
	if (rc < 0) {
		c->eof = true;
		return NULL;
	}
	line = strndup(line, len);
	ck_assert_ptr_nonnull(line);
	return tj_keep(line, false);
}

bool
tj_closed(struct tj_conn *c, double timeout)
{
	char *line = tj_line(c, timeout);

	ck_assert_msg(line == NULL, "a line instead of the end: %.300s", line);
	return c->eof;
}

/* A write that finds jobd gone stops there (wclosed): what jobd said
 * before closing is still read by the test. */
static void
tj_wrote(struct tj_conn *c, ssize_t rc, const char *what)
{
	if (rc == -EPIPE || rc == -ECONNRESET)
		c->wclosed = true;
	else if (rc == -ETIMEDOUT)
		ck_abort_msg("jobd took no byte to write in %.0f s", TJ_TIMEOUT);
	else
		ck_assert_msg(rc >= 0, "%s: %s", what, strerror((int)-rc));
}

void
tj_write(struct tj_conn *c, const void *buf, size_t len)
{
	if (!c->wclosed)
		tj_wrote(c, jc_send_raw(c->jc, buf, len, TJ_TIMEOUT), "send");
}

void
tj_shutdown_write(struct tj_conn *c)
{
	ck_assert_int_eq(jc_shutdown(c->jc), 0);
}

size_t
tj_write_some(struct tj_conn *c, const void *buf, size_t len)
{
	ssize_t n = jc_write_some(c->jc, buf, len);

	tj_wrote(c, n, "send");
	return n > 0 ? (size_t)n : 0;
}

static void
tj_vsend(struct tj_conn *c, const char *fmt, va_list ap)
{
	char *s = tj_vformat(fmt, ap);
	size_t n = strlen(s);

	s = realloc(s, n + 2);
	ck_assert_ptr_nonnull(s);
	s[n] = '\n';
	tj_write(c, s, n + 1);
	free(s);
}

void
tj_send(struct tj_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tj_vsend(c, fmt, ap);
	va_end(ap);
}

/* The next answer within timeout s, parsed and checked. */
static json_t *
tj_recv_within(struct tj_conn *c, double timeout)
{
	char *line = tj_line(c, timeout);
	json_error_t err;
	json_t *v;

	ck_assert_msg(line != NULL, c->eof ? "jobd closed the connection" :
	    "no answer within %.1f s", timeout);
	v = json_loads(line, JSON_REJECT_DUPLICATES, &err);
	ck_assert_msg(v != NULL, "answer is not JSON (%s): %.500s", err.text,
	    line);
	tj_keep(v, true);
	ck_assert_msg(json_is_object(v) && json_is_boolean(tj_at(v, "ok")),
	    "answer is not an object with \"ok\": %.500s", line);
	return v;
}

json_t *
tj_recv(struct tj_conn *c)
{
	return tj_recv_within(c, TJ_TIMEOUT);
}

json_t *
tj_req(struct tj_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tj_vsend(c, fmt, ap);
	va_end(ap);
	return tj_recv(c);
}

/* ---- answers ------------------------------------------------------------- */

json_t *
tj_at(json_t *v, const char *path)
{
	char key[256], *end;
	size_t n;
	long i;

	while (v != NULL && *path != '\0') {
		n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		path += n + (path[n] == '.');
		if (json_is_array(v)) {
			i = strtol(key, &end, 10);
			v = *end == '\0' && i >= 0 ? json_array_get(v, i) :
			    NULL;
		} else {
			v = json_is_object(v) ? json_object_get(v, key) : NULL;
		}
	}
	return v;
}

const char *
tj_str(json_t *v, const char *path)
{
	return json_string_value(tj_at(v, path));
}

json_int_t
tj_int(json_t *v, const char *path)
{
	json_t *x = tj_at(v, path);

	ck_assert_msg(json_is_integer(x), "\"%s\" is not an integer in %s",
	    path, tj_dump(v));
	return json_integer_value(x);
}

double
tj_num(json_t *v, const char *path)
{
	json_t *x = tj_at(v, path);

	ck_assert_msg(json_is_number(x), "\"%s\" is not a number in %s", path,
	    tj_dump(v));
	return json_number_value(x);
}

bool
tj_null(json_t *v, const char *path)
{
	json_t *x = tj_at(v, path);

	ck_assert_msg(x != NULL, "no \"%s\" in %s", path, tj_dump(v));
	return json_is_null(x);
}

const char *
tj_code(json_t *a)
{
	if (json_is_true(tj_at(a, "ok")))
		return NULL;
	return tj_str(a, "error.code") ? tj_str(a, "error.code") : "(none)";
}

const char *
tj_dump(json_t *v)
{
	char *s;

	if (v == NULL)
		return "(null)";
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return tj_keep(s, false);
}

/* ---- jobs ---------------------------------------------------------------- */

json_int_t
tj_submit(struct tj_conn *c, const char *fields, ...)
{
	char *f;
	va_list ap;
	json_t *a;

	va_start(ap, fields);
	f = tj_keep(tj_vformat(fields, ap), false);
	va_end(ap);
	a = tj_req(c, "{'op':'submit',%s}", f);
	tj_assert_ok(a);
	return tj_int(a, "id");
}

json_t *
tj_job(struct tj_conn *c, json_int_t id)
{
	json_t *a = tj_req(c, "{'op':'get','id':%lld}", (long long)id);

	tj_assert_ok(a);
	ck_assert_msg(json_is_object(tj_at(a, "job")), "no job: %s",
	    tj_dump(a));
	return tj_at(a, "job");
}

json_t *
tj_wait(struct tj_conn *c, json_int_t id, double timeout)
{
	json_t *a;

	tj_send(c, "{'op':'wait','id':%lld,'timeout':%.3f}", (long long)id,
	    timeout);
	a = tj_recv_within(c, timeout + TJ_TIMEOUT);
	tj_assert_ok(a);
	return tj_at(a, "job");
}

json_t *
tj_wait_state(struct tj_conn *c, json_int_t id, const char *state,
    double timeout)
{
	double end = tj_now() + timeout;
	json_t *job;

	for (;;) {
		job = tj_job(c, id);
		if (strcmp(tj_str(job, "state"), state) == 0)
			return job;
		ck_assert_msg(tj_now() < end, "job %lld not %s after %.1f s: "
		    "%s", (long long)id, state, timeout, tj_dump(job));
		tj_sleep(0.01);
	}
}

void
tj_wait_idle(struct tj_conn *c, double timeout)
{
	double end = tj_now() + timeout;
	const char *name;
	json_t *a, *q;
	long busy;

	for (;;) {
		a = tj_req(c, "{'op':'stats'}");
		tj_assert_ok(a);
		busy = 0;
		json_object_foreach(tj_at(a, "queues"), name, q)
			busy += tj_int(q, "queued") + tj_int(q, "running");
		if (busy == 0)
			break;
		ck_assert_msg(tj_now() < end, "not idle after %.1f s: %s",
		    timeout, tj_dump(a));
		tj_sleep(0.02);
	}
	tj_wait_sql(0, "SELECT count(*) FROM jobs WHERE state IN ('queued', "
	    "'running')");
}

/* ---- sqlite3 ------------------------------------------------------------- */

/* tj_vsql on the test's PostgreSQL database. */
static const char *
tj_vsql_pg(const char *fmt, va_list ap)
{
	char *sql, *out, err[512] = "";

	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	tj_keep(sql, false);
	ck_assert_msg(tj_pgdb[0] != '\0', "tj_sql before tj_start");
	out = tu_pg_rows(tj_pgdb, sql, err, sizeof(err));
	ck_assert_msg(out != NULL, "postgresql: %s (query: %s)", err, sql);
	return tj_keep(out, false);
}

/* rw: a write (tj_sql_write), else the shell opens the file read-only. */
static const char *
tj_vsql(bool rw, const char *fmt, va_list ap)
{
	char *sql, *out, *err;
	char *argv[] = { "sqlite3", rw ? "-bail" : "-readonly", "-batch",
		"-cmd", ".timeout 5000", (char *)tj_path("jobd.db"), NULL,
		NULL };
	int pfd[2], code;
	size_t len = 0, cap = 65536;
	ssize_t n;
	pid_t parent = getpid(), pid;

	if (tu_pg_wanted())
		return tj_vsql_pg(fmt, ap);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	tj_keep(sql, false);
	argv[6] = sql;
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	unlink(tj_path("sql.err"));
	out = malloc(cap + 1);
	ck_assert_ptr_nonnull(out);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		tj_child(argv, pfd[1], open(tj_path("sql.err"), O_WRONLY |
		    O_CREAT | O_TRUNC | O_CLOEXEC, 0644), parent);
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, cap - len)) > 0 ||
	    (n < 0 && errno == EINTR)) {
		len += n > 0 ? n : 0;
		if (len == cap)
			ck_assert_ptr_nonnull(out = realloc(out, (cap *= 2) + 1));
	}
	close(pfd[0]);
	out[len] = '\0';
	tj_keep(out, false);
	ck_assert(tj_reap(pid, 3 * TJ_TIMEOUT, &code));
	err = tj_keep(tj_slurp(tj_path("sql.err"), NULL), false);
	ck_assert_msg(code == 0 && err[0] == '\0',
	    "sqlite3 exited %d: %s (query: %s)", code, err, sql);
	if (len > 0 && out[len - 1] == '\n')
		out[len - 1] = '\0';
	return out;
}

void
tj_sql_write(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)tj_vsql(true, fmt, ap);
	va_end(ap);
}

const char *
tj_sql(const char *fmt, ...)
{
	const char *out;
	va_list ap;

	va_start(ap, fmt);
	out = tj_vsql(false, fmt, ap);
	va_end(ap);
	return out;
}

long long
tj_sql_int(const char *fmt, ...)
{
	const char *out;
	char *end;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	out = tj_vsql(false, fmt, ap);
	va_end(ap);
	errno = 0;
	v = strtoll(out, &end, 10);
	ck_assert_msg(out[0] != '\0' && *end == '\0' && errno == 0,
	    "sqlite3 answered \"%s\", not an integer", out);
	return v;
}

void
tj_wait_sql(long long want, const char *fmt, ...)
{
	double end = tj_now() + TJ_TIMEOUT;
	const char *out;
	char *sql;
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	tj_keep(sql, false);
	for (;;) {
		out = tj_sql("%s", sql);
		if (strtoll(out, NULL, 10) == want && out[0] != '\0')
			return;
		ck_assert_msg(tj_now() < end, "%s: %s, not %lld after %.0f s",
		    sql, out, want, TJ_TIMEOUT);
		tj_sleep(0.01);
	}
}

void
tj_wait_connections(struct tj_conn *c, long n, double timeout)
{
	double end = tj_now() + timeout;
	json_t *a;

	while (tj_int(a = tj_req(c, "{'op':'stats'}"), "connections") != n) {
		ck_assert_msg(tj_now() < end, "not %ld connections: %s", n,
		    tj_dump(a));
		tj_sleep(0.01);
	}
}
