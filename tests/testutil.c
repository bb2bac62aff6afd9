/*
 * testutil.c — see testutil.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "testutil.h"
#include "tu_pg.h"

struct event_base *tu_base;
struct co_rt *tu_rt;
static int tu_fds;

static char tu_outbuf[8192];

void
tu_say(const char *fmt, ...)
{
	size_t len = strlen(tu_outbuf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tu_outbuf + len, sizeof(tu_outbuf) - len, fmt, ap);
	va_end(ap);
}

const char *
tu_out(void)
{
	return tu_outbuf;
}

void
tu_out_reset(void)
{
	tu_outbuf[0] = '\0';
}

int
tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;                   /* the DIR's own fd */
}

bool
tu_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), flags;
	bool ok;

	if (fd < 0)
		return false;
	ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	return ok;
}

bool
tu_forking(void)
{
	const char *f = getenv("CK_FORK");

	return f == NULL || strcmp(f, "no") != 0;
}

bool
tu_pid_dead(int pid)
{
	char path[64], buf[512], *p;
	ssize_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return true;
	len = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len > 0 ? len : 0] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	return p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X';
}

bool
tu_pid_dies(int pid, double timeout)
{
	struct timespec ms = { 0, 1000000 };
	double left = timeout * tu_slow();

	for (; left > 0 && !tu_pid_dead(pid); left -= 0.001)
		nanosleep(&ms, NULL);
	return tu_pid_dead(pid);
}

double
tu_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
tu_slow(void)
{
	const char *s = getenv("JOBD_TEST_SLOW");
	double f = s ? atof(s) : 0;

	return f >= 1 ? f : 1;
}

double
tu_load(void)
{
	double load = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL) {
		if (fscanf(f, "%lf", &load) != 1)
			load = 0;
		fclose(f);
	}
	load = 1 + load / (double)(cpus > 0 ? cpus : 1);
	return load < 20 ? load : 20;
}

double
tu_tick(void)
{
	return 0.01 * tu_slow() * tu_load();
}

void
tu_setup(void)
{
	tu_fds = tu_fd_count();
	tu_base = co_base_new();
	ck_assert_ptr_nonnull(tu_base);
	tu_rt = co_rt_new(tu_base, NULL);
	ck_assert_ptr_nonnull(tu_rt);
}

void
tu_teardown(void)
{
	struct co_rt_stats st;

	co_rt_stats(tu_rt, &st);
	ck_assert_msg(st.tasks_live == 0, "%zu task(s) leaked", st.tasks_live);
	ck_assert_int_eq(co_rt_free(tu_rt), 0);
	event_base_free(tu_base);
	tu_rt = NULL;
	tu_base = NULL;
	ck_assert_int_eq(tu_fd_count(), tu_fds);
}

int
tu_run(co_fn fn, void *arg)
{
	int result = -1, rc = co_rt_run(tu_rt, fn, arg, &result);

	ck_assert_msg(rc == 0, "co_rt_run: %d", rc);
	return result;
}

/* Check's default timeout of a test (4 s) is a wall-clock assert that a
 * loaded machine breaks (seen: test_proto's "respond" case, 136 small
 * checks, timed out under ASan at load 14).  Before main, so before any
 * suite is made (tcase_create reads it): 30 s, times tu_slow(), unless
 * the environment says otherwise.  A test case that sets its own keeps
 * it; a hang is still stopped. */
__attribute__((constructor)) static void
tu_default_timeout(void)
{
	char buf[32];

	if (getenv("CK_DEFAULT_TIMEOUT") != NULL)
		return;
	snprintf(buf, sizeof(buf), "%.0f", 30 * tu_slow());
	(void)setenv("CK_DEFAULT_TIMEOUT", buf, 0);
}

int
tu_main(Suite *s)
{
	SRunner *sr;
	int failed;

	/* One cluster for the whole suite, started before Check forks. */
	if (tu_pg_wanted() && tu_pg_start() < 0) {
		fprintf(stderr, "JOBD_TEST_STORE=postgresql, and PostgreSQL "
		    "did not start (above): failing, not skipping\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tu_pg_stop();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- programs another user can run ------------------------------------- */

static char tu_rdir[32];
static pid_t tu_rdir_owner;

/* atexit: the copies go, but only in the process that made them (a forked
 * test that exits must not take them from the next test). */
static void
tu_reachable_clean(void)
{
	DIR *d;
	struct dirent *e;
	char p[512];

	if (getpid() != tu_rdir_owner || (d = opendir(tu_rdir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tu_rdir, e->d_name);
		(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(tu_rdir);
}

const char *
tu_reachable(const char *path)
{
	static char dst[512];
	const char *base = strrchr(path, '/');
	char buf[65536];
	ssize_t n;
	int in, out;

	if (tu_rdir[0] == '\0') {
		snprintf(tu_rdir, sizeof(tu_rdir), "/tmp/tubinXXXXXX");
		ck_assert_msg(mkdtemp(tu_rdir) != NULL, "mkdtemp: %s",
		    strerror(errno));
		ck_assert_int_eq(chmod(tu_rdir, 0755), 0);
		tu_rdir_owner = getpid();
		atexit(tu_reachable_clean);
	}
	snprintf(dst, sizeof(dst), "%s/%s", tu_rdir,
	    base != NULL ? base + 1 : path);
	ck_assert_msg((in = open(path, O_RDONLY | O_CLOEXEC)) >= 0, "%s: %s",
	    path, strerror(errno));
	(void)unlink(dst);
	ck_assert_msg((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0755)) >= 0, "%s: %s", dst, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(fchmod(out, 0755), 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
	return dst;
}
