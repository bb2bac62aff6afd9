/*
 * bench_exec.c — `exec` jobs through the real jobd, against spawning the
 * same program without jobd.
 *
 *   bench_exec [-v] [-r rounds] [-n jobs] [-w workers] [-d dir]
 *              [-k 'key = value']... [-C cgroup [-X]] [-u user] [JOBD]
 *
 *   -k         a [daemon] line added to jobd's config (cgroup = no, ...)
 *   -C         start jobd in this cgroup v2 directory (made and marked
 *              delegated, as systemd's Delegate=yes does; removed after)
 *   -X         with -C: each round runs jobd twice, in the cgroup (a
 *              cgroup per job) and with cgroup = no (the subreaper), one
 *              after the other, and prints both ways' medians and the
 *              cost per job of one against the other
 *   -u         submit as this user (the connect is made with its euid:
 *              SO_PEERCRED): with run_as = submitter its jobs switch user
 *
 *   BENCH_EXEC_PROFILE="perf record -g -o /tmp/jobd.data -p %d" bench_exec
 *              runs that command (through sh; %d: jobd's pid) over each
 *              round through jobd, and stops it with SIGINT.
 *
 * Each round starts JOBD (default ./build/jobd) on a fresh database
 * (sync = normal, one queue of -w workers (8), exec_concurrency = workers,
 * capacity = jobs), pipelines -n (4,000) submits of {"argv":["true"]} on
 * one connection, and times from the first byte sent until the database
 * (polled read-only) holds no job queued or running: jobs/s.  Then, in the
 * same round, the bare loop: -w tasks on a runtime of this process each
 * spawn `true` through co_proc (clone + exec from up to 4 spawner threads,
 * stdout and stderr piped and read to their end, reaped through a pidfd:
 * what the exec kind does), n spawns in all: spawns/s.  Prints the medians over -r (5) rounds, their
 * ratio, jobd's CPU time per job and resident memory, against the goals.
 *
 * The bench itself is a libjobd program: jobd is a co_proc child (its own
 * process group, killed if the bench dies), the client a pair of tasks on
 * a Unix socket.  -v prints every round.  See docs/BENCH.md, docs/EXEC.md.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "co.h"
#include "co_io.h"
#include "co_pool.h"
#include "co_proc.h"

#define GOAL_RATE   1900.0      /* exec jobs/s through jobd */
#define GOAL_RATIO  0.80        /* of the bare loop's spawns/s */
#define ROUNDS_MAX  31
#define START_WAIT  10.0        /* s until jobd answers ping */
#define ROUND_WAIT  300.0       /* s for one round's jobs */
#define POLL        0.0005      /* s between database polls */
#define LOG_KEEP    8192        /* bytes of jobd's stderr kept for errors */

static struct {
	int rounds;
	size_t jobs;
	int workers;
	bool verbose;
	const char *jobd;
	const char *base;
	char keys[2048];        /* -k lines */
	const char *cgroup;     /* -C */
	uid_t uid;              /* -u; 0: ours */
	gid_t gid;
	bool compare;           /* -X */
} opt = { 5, 4000, 8, false, "./build/jobd", "/tmp", "", NULL, 0, 0,
    false };

/* -X: the way of this jobd round (false: the subreaper, cgroup = no). */
static bool in_cgroup = true;

static struct co_rt *rt;

/* The jobd of a round, and its files. */
static struct {
	char dir[PATH_MAX - 32];
	char conf[PATH_MAX], sock[PATH_MAX], db[PATH_MAX];
	struct co_proc *p;
	struct co_task *logger;
	char log[LOG_KEEP];
	size_t loglen;
} jd;

/* ---- errors and figures --------------------------------------------------- */

static void
rm_files(void)
{
	const char *suffix[] = { "", "-wal", "-shm" };
	char path[PATH_MAX + 8];

	if (jd.dir[0] == '\0')
		return;
	unlink(jd.conf);
	unlink(jd.sock);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", jd.db, suffix[i]);
		unlink(path);
	}
	rmdir(jd.dir);
	if (opt.cgroup != NULL && in_cgroup) {
		snprintf(path, sizeof(path), "%s/jobs", opt.cgroup);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/daemon", opt.cgroup);
		rmdir(path);
		rmdir(opt.cgroup);
	}
}

/* Report, show the end of jobd's stderr, and exit (jobd dies with us:
 * PR_SET_PDEATHSIG). */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fprintf(stderr, "bench_exec: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (jd.loglen > 0)
		fprintf(stderr, "---- end of jobd's stderr ----\n%.*s----\n",
		    (int)jd.loglen, jd.log);
	rm_files();
	exit(1);
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), by_value);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- jobd ----------------------------------------------------------------- */

/* Task: keep the last LOG_KEEP bytes of jobd's stderr. */
static int
logger_main(void *arg)
{
	int fd = co_proc_stderr_fd(arg);
	char buf[1024];
	ssize_t n;

	while ((n = co_read(fd, buf, sizeof(buf), CO_FOREVER)) > 0) {
		if (jd.loglen + (size_t)n > LOG_KEEP) {
			size_t drop = jd.loglen + (size_t)n - LOG_KEEP;

			drop = drop < jd.loglen ? drop : jd.loglen;
			memmove(jd.log, jd.log + drop, jd.loglen - drop);
			jd.loglen -= drop;
		}
		n = n < LOG_KEEP ? n : LOG_KEEP;
		memcpy(jd.log + jd.loglen, buf, (size_t)n);
		jd.loglen += (size_t)n;
	}
	return 0;
}

static void
write_conf(void)
{
	FILE *f = fopen(jd.conf, "w");

	if (f == NULL)
		die("%s: %s", jd.conf, strerror(errno));
	fprintf(f, "; generated by bench_exec\n[daemon]\nsocket = %s\n"
	    "database = %s\nsync = normal\nmax_line = 64M\n"
	    "exec_concurrency = %d\nlog_level = warning\nsocket_mode = 0666\n"
	    "%s%s\n[queue.default]\nworkers = %d\ncapacity = %zu\n"
	    "timeout = 0\n", jd.sock, jd.db, opt.workers, opt.keys,
	    opt.compare ? (in_cgroup ? "cgroup = yes\n" : "cgroup = no\n") : "",
	    opt.workers, opt.jobs + 1);
	if (fclose(f) != 0)
		die("%s: %s", jd.conf, strerror(errno));
}

/* A connection to jobd, or -errno. */
static int
conn_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(jd.sock) >= sizeof(sa.sun_path))
		die("%s: too long for a socket (-d)", jd.sock);
	memcpy(sa.sun_path, jd.sock, strlen(jd.sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* -u: jobd reads the peer's credentials as they were at connect. */
	if (opt.uid != 0 && (setegid(opt.gid) < 0 || seteuid(opt.uid) < 0))
		die("seteuid: %s", strerror(errno));
	rc = co_connect(fd, (struct sockaddr *)&sa, sizeof(sa), 1.0);
	if (opt.uid != 0 && (seteuid(0) < 0 || setegid(0) < 0))
		die("seteuid back: %s", strerror(errno));
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Does jobd answer a ping now? */
static bool
pinged(void)
{
	static const char ping[] = "{\"op\":\"ping\"}\n";
	char ans[256];
	ssize_t n = -1;
	int fd;

	if ((fd = conn_open()) < 0)
		return false;
	if (co_write_all(fd, ping, sizeof(ping) - 1, 1.0) > 0)
		n = co_read(fd, ans, sizeof(ans) - 1, 2.0);
	close(fd);
	if (n <= 0)
		return false;
	ans[n] = '\0';
	if (strstr(ans, "\"ok\":true") == NULL)
		die("ping answered %s", ans);
	return true;
}

static void
jobd_start(void)
{
	const char *argv[] = { opt.jobd, "-c", jd.conf, NULL };
	struct co_proc_opts o = { .argv = argv, .pipe_stderr = true };
	double end = co_now() + START_WAIT;
	char procs[PATH_MAX + 16];
	int rc;

	snprintf(jd.dir, sizeof(jd.dir), "%s/bench_exec.XXXXXX", opt.base);
	if (mkdtemp(jd.dir) == NULL || chmod(jd.dir, 0711) < 0)
		die("mkdtemp %s: %s", jd.dir, strerror(errno));
	if (opt.cgroup != NULL && in_cgroup) {
		if ((mkdir(opt.cgroup, 0755) < 0 && errno != EEXIST) ||
		    setxattr(opt.cgroup, "trusted.delegate", "1", 1, 0) < 0)
			die("-C %s: %s", opt.cgroup, strerror(errno));
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", opt.cgroup);
		if ((o.cgroup_procs = open(procs, O_WRONLY | O_CLOEXEC)) < 0)
			die("%s: %s", procs, strerror(errno));
		o.into_cgroup = true;
	}
	snprintf(jd.conf, sizeof(jd.conf), "%s/jobd.conf", jd.dir);
	snprintf(jd.sock, sizeof(jd.sock), "%s/jobd.sock", jd.dir);
	snprintf(jd.db, sizeof(jd.db), "%s/jobd.db", jd.dir);
	write_conf();
	jd.loglen = 0;
	rc = co_proc_spawn(&o, &jd.p);
	if (o.into_cgroup)
		close(o.cgroup_procs);
	if (rc < 0)
		die("%s: %s", opt.jobd, strerror(-rc));
	if (co_spawn(rt, logger_main, jd.p, &jd.logger) < 0)
		die("out of memory");
	while (!pinged()) {
		if (co_proc_reaped(jd.p) || co_now() > end)
			die("jobd did not answer ping");
		(void)co_sleep(0.005);
	}
}

/* SIGTERM: jobd must exit 0. */
static void
jobd_stop(void)
{
	int st = -1;

	(void)co_proc_signal(jd.p, SIGTERM);
	if (co_proc_wait(jd.p, 30.0, &st) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("jobd did not exit 0 after SIGTERM (status %#x)", st);
	if (co_join(jd.logger, NULL) < 0)
		die("logger");
	co_proc_free(jd.p);
	jd.p = NULL;
	rm_files();
	jd.dir[0] = '\0';
}

/* jobd's CPU seconds so far (all its threads; not its children). */
static double
jobd_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)co_proc_pid(jd.p));
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* jobd's resident memory now, in MiB. */
static double
jobd_rss(void)
{
	char path[64], line[128];
	double kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)co_proc_pid(jd.p));
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lf", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

/* Start $BENCH_EXEC_PROFILE on jobd, or NULL. */
static struct co_proc *
prof_start(void)
{
	const char *tmpl = getenv("BENCH_EXEC_PROFILE"), *p;
	char cmd[1024];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct co_proc_opts o = { .argv = argv };
	struct co_proc *prof;
	size_t n = 0;
	int rc;

	if (tmpl == NULL || *tmpl == '\0')
		return NULL;
	for (p = tmpl; *p != '\0' && n < sizeof(cmd) - 16; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%d",
			    (int)co_proc_pid(jd.p));
			p++;
		} else {
			cmd[n++] = *p;
		}
	}
	cmd[n] = '\0';
	if ((rc = co_proc_spawn(&o, &prof)) < 0)
		die("%s: %s", cmd, strerror(-rc));
	(void)co_sleep(0.5);            /* let it attach */
	return prof;
}

static void
prof_stop(struct co_proc *prof)
{
	if (prof == NULL)
		return;
	(void)co_proc_signal(prof, SIGINT);
	if (co_proc_wait(prof, 30.0, NULL) < 0)
		die("the profiler did not stop");
	co_proc_free(prof);
}

/* ---- one round through jobd ------------------------------------------------ */

struct burst {
	int fd;
	char *req;              /* every submit line */
	size_t len;
};

/* Task: send every submit at once (jobd reads them as it goes). */
static int
sender_main(void *arg)
{
	struct burst *b = arg;
	ssize_t n = co_write_all(b->fd, b->req, b->len, ROUND_WAIT);

	return n < 0 ? (int)n : 0;
}

/* Read n answer lines; each must be ok. */
static void
read_answers(int fd, size_t n)
{
	static char buf[1 << 16];
	size_t have = 0, got = 0;
	char *line, *nl;
	ssize_t r;

	while (got < n) {
		if ((r = co_read(fd, buf + have, sizeof(buf) - have,
		    ROUND_WAIT)) <= 0)
			die("reading answers: %s", r == 0 ? "closed" :
			    strerror((int)-r));
		have += (size_t)r;
		for (line = buf; (nl = memchr(line, '\n', have -
		    (size_t)(line - buf))) != NULL; line = nl + 1, got++)
			if (strncmp(line, "{\"ok\":true", 10) != 0)
				die("answer %zu: %.*s", got, (int)(nl - line),
				    line);
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf))
			die("answer line too long");
	}
}

/* A query's one integer answer. */
static long long
db_int(sqlite3 *db, sqlite3_stmt *s)
{
	long long v;

	if (sqlite3_step(s) != SQLITE_ROW)
		die("%s: %s", jd.db, sqlite3_errmsg(db));
	v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return v;
}

/* Poll the database until no job is queued or running (every answered
 * submit is committed, so then every end is too); check all succeeded. */
static void
wait_ended(size_t n)
{
	static const char *const q[] = { "SELECT EXISTS (SELECT 1 FROM jobs "
	    "WHERE state IN ('queued', 'running'))", "SELECT count(*) FROM "
	    "jobs WHERE state = 'succeeded'" };
	double end = co_now() + ROUND_WAIT;
	sqlite3_stmt *s[2] = { NULL, NULL };
	sqlite3 *db;

	if (sqlite3_open_v2(jd.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("%s: %s", jd.db, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < 2; i++)
		if (sqlite3_prepare_v2(db, q[i], -1, &s[i], NULL) != SQLITE_OK)
			die("%s: %s", q[i], sqlite3_errmsg(db));
	while (db_int(db, s[0]) != 0) {
		if (co_now() > end)
			die("jobs still running after %.0f s", ROUND_WAIT);
		(void)co_sleep(POLL);
	}
	if (db_int(db, s[1]) != (long long)n)
		die("%lld of %zu jobs succeeded", db_int(db, s[1]), n);
	sqlite3_finalize(s[0]);
	sqlite3_finalize(s[1]);
	sqlite3_close(db);
}

struct jobd_res {
	double rate;            /* jobs/s */
	double cpu_us;          /* jobd's CPU per job */
	double rss;             /* MiB, at the end */
};

static void
jobd_round(struct jobd_res *r)
{
	static const char line[] = "{\"op\":\"submit\",\"kind\":\"exec\","
	    "\"args\":{\"argv\":[\"true\"]}}\n";
	struct burst b = { .len = opt.jobs * (sizeof(line) - 1) };
	struct co_proc *prof;
	struct co_task *sender;
	double t0, cpu0;

	jobd_start();
	prof = prof_start();
	if ((b.fd = conn_open()) < 0)
		die("connect: %s", strerror(-b.fd));
	if ((b.req = malloc(b.len)) == NULL)
		die("out of memory");
	for (size_t i = 0; i < opt.jobs; i++)
		memcpy(b.req + i * (sizeof(line) - 1), line, sizeof(line) - 1);
	cpu0 = jobd_cpu();
	t0 = co_now();
	if (co_spawn(rt, sender_main, &b, &sender) < 0)
		die("out of memory");
	read_answers(b.fd, opt.jobs);
	if (co_join(sender, NULL) < 0)
		die("sender");
	wait_ended(opt.jobs);
	r->rate = (double)opt.jobs / (co_now() - t0);
	r->cpu_us = (jobd_cpu() - cpu0) / (double)opt.jobs * 1e6;
	r->rss = jobd_rss();
	prof_stop(prof);
	close(b.fd);
	free(b.req);
	jobd_stop();
}

/* ---- one round of the bare loop -------------------------------------------- */

/* Read fd to its end. */
static void
drain(int fd)
{
	char buf[512];
	ssize_t n;

	while ((n = co_read(fd, buf, sizeof(buf), 10.0)) > 0)
		;
	if (n < 0)
		die("bare: read: %s", strerror((int)-n));
}

struct bare {
	size_t left;            /* spawns still to start */
	struct co_pool *spawner;
};

/* Task: spawn `true` and reap it while spawns are left. */
static int
spawner_main(void *arg)
{
	static const char *const argv[] = { "true", NULL };
	struct bare *b = arg;
	struct co_proc_opts o = { .argv = argv, .pipe_stdout = true,
	    .pipe_stderr = true, .kill_group_on_exit = true,
	    .spawner = b->spawner };
	struct co_proc *p;
	int rc, st;

	while (b->left > 0) {
		b->left--;
		if ((rc = co_proc_spawn(&o, &p)) < 0)
			die("bare: spawn: %s", strerror(-rc));
		drain(co_proc_stdout_fd(p));
		drain(co_proc_stderr_fd(p));
		if ((rc = co_proc_wait(p, 10.0, &st)) < 0 || st != 0)
			die("bare: true: %d, status %#x", rc, st);
		co_proc_free(p);
	}
	return 0;
}

/* This process's CPU seconds so far. */
static double
self_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
bare_round(double *cpu_us)
{
	struct co_task *t[64];
	struct bare b = { .left = opt.jobs };
	double t0, cpu0;
	int i;

	/* As the exec kind: up to 4 spawner threads, made beforehand. */
	if ((b.spawner = co_pool_new(rt, opt.workers < 4 ?
	    (unsigned)opt.workers : 4)) == NULL)
		die("co_pool_new: %s", strerror(errno));
	t0 = co_now();
	cpu0 = self_cpu();
	for (i = 0; i < opt.workers; i++)
		if (co_spawn(rt, spawner_main, &b, &t[i]) < 0)
			die("out of memory");
	for (i = 0; i < opt.workers; i++)
		if (co_join(t[i], NULL) < 0)
			die("join");
	co_pool_free(b.spawner);
	*cpu_us = (self_cpu() - cpu0) / (double)opt.jobs * 1e6;
	return (double)opt.jobs / (co_now() - t0);
}

/* ---- main ----------------------------------------------------------------- */

static void
verdict(const char *what, double v, const char *unit, double goal)
{
	printf("  %-34s %10.1f %-8s goal >= %-8.1f %s\n", what, v, unit, goal,
	    v >= goal ? "PASS" : "MISS");
}

/* -X: both ways in each round, then the bare loop. */
static int
compare_main(void)
{
	double rate[2][ROUNDS_MAX], cpu[2][ROUNDS_MAX], wall[ROUNDS_MAX];
	double dcpu[ROUNDS_MAX], bare[ROUNDS_MAX], bcpu[ROUNDS_MAX];
	static const char *const way[2] = { "cgroup per job", "subreaper" };
	struct jobd_res r;
	int i, w;

	for (i = 0; i < opt.rounds; i++) {
		for (w = 0; w < 2; w++) {
			in_cgroup = w == 0;
			jobd_round(&r);
			rate[w][i] = r.rate;
			cpu[w][i] = r.cpu_us;
		}
		in_cgroup = true;
		bare[i] = bare_round(&bcpu[i]);
		wall[i] = (1 / rate[0][i] - 1 / rate[1][i]) * 1e6;
		dcpu[i] = cpu[0][i] - cpu[1][i];
		if (opt.verbose)
			printf("  round %d: cgroup %.0f jobs/s (%.0f us CPU/job),"
			    " subreaper %.0f jobs/s (%.0f us CPU/job), bare "
			    "%.0f spawns/s\n", i + 1, rate[0][i], cpu[0][i],
			    rate[1][i], cpu[1][i], bare[i]);
	}
	for (w = 0; w < 2; w++)
		printf("  %-16s %10.1f jobs/s %10.1f us jobd CPU/job\n", way[w],
		    median(rate[w], opt.rounds), median(cpu[w], opt.rounds));
	printf("  %-16s %10.1f spawns/s %8.1f us CPU/spawn\n", "bare loop",
	    median(bare, opt.rounds), median(bcpu, opt.rounds));
	printf("  cgroup - subreaper, per job (median of the rounds' "
	    "differences): %.1f us wall, %.1f us jobd CPU\n",
	    median(wall, opt.rounds), median(dcpu, opt.rounds));
	return 0;
}

static int
bench_main(void *arg)
{
	double rate[ROUNDS_MAX], bare[ROUNDS_MAX], ratio[ROUNDS_MAX];
	double cpu[ROUNDS_MAX], rss[ROUNDS_MAX], bcpu[ROUNDS_MAX];
	struct jobd_res r;

	(void)arg;
	if (opt.compare)
		return compare_main();
	for (int i = 0; i < opt.rounds; i++) {
		jobd_round(&r);
		rate[i] = r.rate;
		cpu[i] = r.cpu_us;
		rss[i] = r.rss;
		bare[i] = bare_round(&bcpu[i]);
		ratio[i] = rate[i] / bare[i];
		if (opt.verbose)
			printf("  round %d: jobd %.0f jobs/s (%.0f us CPU/job, "
			    "%.1f MiB), bare %.0f spawns/s (%.0f us CPU/spawn), "
			    "ratio %.1f %%\n", i + 1, rate[i], cpu[i], rss[i],
			    bare[i], bcpu[i], ratio[i] * 100);
	}
	verdict("exec `true` through jobd", median(rate, opt.rounds),
	    "jobs/s", GOAL_RATE);
	printf("  %-34s %10.1f spawns/s\n", "bare co_proc loop, same rounds",
	    median(bare, opt.rounds));
	verdict("jobd / bare (median of ratios)",
	    median(ratio, opt.rounds) * 100, "%", GOAL_RATIO * 100);
	printf("  %-34s %10.1f us/job\n", "jobd CPU (its threads, not "
	    "children)", median(cpu, opt.rounds));
	printf("  %-34s %10.1f us/spawn\n", "bare loop CPU (this process)",
	    median(bcpu, opt.rounds));
	printf("  %-34s %10.1f MiB\n", "jobd resident memory at the end",
	    median(rss, opt.rounds));
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_exec [-v] [-r rounds] [-n jobs] "
	    "[-w workers] [-d dir] [-k 'key = value']... [-C cgroup [-X]] "
	    "[-u user] [JOBD]\n");
	exit(2);
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static void
add_key(const char *line)
{
	size_t len = strlen(opt.keys);

	if (snprintf(opt.keys + len, sizeof(opt.keys) - len, "%s\n", line) >=
	    (int)(sizeof(opt.keys) - len))
		usage();
}

static void
set_user(const char *name)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL)
		errx(2, "-u %s: no such user", name);
	opt.uid = pw->pw_uid;
	opt.gid = pw->pw_gid;
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "vr:n:w:d:k:C:Xu:")) != -1) {
		switch (c) {
		case 'v': opt.verbose = true; break;
		case 'r': opt.rounds = (int)number(optarg, 1, ROUNDS_MAX); break;
		case 'n': opt.jobs = (size_t)number(optarg, 1, 10000000); break;
		case 'w': opt.workers = (int)number(optarg, 1, 64); break;
		case 'd': opt.base = optarg; break;
		case 'k': add_key(optarg); break;
		case 'C': opt.cgroup = optarg; break;
		case 'X': opt.compare = true; break;
		case 'u': set_user(optarg); break;
		default: usage();
		}
	}
	if (optind < argc)
		opt.jobd = argv[optind++];
	if (optind != argc || (opt.compare && opt.cgroup == NULL))
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((base = co_base_new()) == NULL ||
	    (rt = co_rt_new(base, NULL)) == NULL)
		errx(1, "cannot make a runtime");
	printf("bench_exec: %zu exec jobs of `true`, %d workers, "
	    "exec_concurrency %d, sync = normal, %d rounds, medians\n",
	    opt.jobs, opt.workers, opt.workers, opt.rounds);
	fflush(stdout);
	if (co_rt_run(rt, bench_main, NULL, &rc) < 0)
		errx(1, "the runtime stopped");
	co_rt_shutdown(rt);
	co_rt_free(rt);
	event_base_free(base);
	return rc;
}
