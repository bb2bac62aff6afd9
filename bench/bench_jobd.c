/*
 * bench_jobd.c — the real daemon, end to end, against its goals.
 *
 *   bench_jobd [-qv] [-r rounds] [-s scenarios] [-n jobs] [-b rows]
 *              [-d dir] [JOBD]
 *
 *   BENCH_JOBD_PROFILE="perf record -g -o /tmp/%d.data -p %d" bench_jobd ...
 *              runs that command on jobd (%d: its pid) over each measured
 *              window.
 *
 * Starts JOBD (default ./build/jobd) on a fresh database in a temporary
 * directory with a generated config, once per scenario and round, talks its
 * wire protocol over the Unix socket, and prints medians over the rounds,
 * each figure with its goal and PASS or MISS:
 *
 *  1. no-op throughput: N (100,000) `sleep 0` jobs pipelined on one
 *     connection (a writer thread sends while the main thread reads), queue
 *     workers 16, capacity N (no backpressure), sync=full; timed from the
 *     first byte sent until the database holds no job queued or running; and
 *     jobd's CPU time per job (its process CPU clock: every thread, the
 *     store's writer included).  In the same round, bare SQLite doing the
 *     same three writes per job on the same schema, and the ratio.
 *  2. 10,000 and 100,000 concurrent `sleep 1` jobs (workers = capacity = n),
 *     submitted with submit_group and with pipelined submits: wall time from
 *     the first byte to the last end, and jobd's peak RSS (VmHWM).
 *  3. 100 `sleep 0.1` jobs on 10 workers: wall time, first byte to the
 *     answer of a `wait` on their group (ideal 1.000 s).
 *  4. submit -> answer latency at 10,000 submits/s offered open-loop on one
 *     connection for 3 s (sync=full, 256 workers).
 *
 * "Ended" is read from the database, not from jobd's word: after the last
 * answer the bench polls `SELECT EXISTS(... state IN ('queued','running'))`
 * on its own read-only connection.  Every job was acknowledged, so its row
 * is committed; when none is queued or running, every end is committed too.
 * The query is an index probe, O(log n), and costs jobd nothing.
 *
 * -v adds each round's figures and, from the database, when jobs were
 * created, started and ended after the first byte: where the time went.
 *
 * jobd is always stopped with SIGTERM and must exit 0; on any error, a
 * signal or the watchdog, it is killed (and it dies with the bench anyway:
 * PR_SET_PDEATHSIG).  Every wait has a deadline.  See docs/BENCH.md.
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

#include <libpq-fe.h>
#include <sqlite3.h>

#include "bench_util.h"
#include "jc.h"
#include "log.h"
#include "store.h"

#define ROUNDS_MAX       31
#define START_TIMEOUT    10.0   /* s until jobd answers ping */
#define STOP_TIMEOUT     30.0   /* s from SIGTERM until jobd has exited */
#define IO_TIMEOUT       120.0  /* s for any one scenario's traffic */
#define WATCHDOG         600    /* s per jobd instance, then kill all */
#define POLL_INTERVAL    0.0005 /* s between database polls */
#define GROUP_MAX        10000  /* jobs in one submit_group (protocol) */
#define LINE_MAX_BUF     (256u << 20)   /* longest answer line we take */
#define LAT_RATE         10000  /* scenario 4: submits per second */
#define LAT_WORKERS      256

static int rounds = 5;
static bool quick;
static bool verbose;             /* -v: every round's figures too */
static size_t noop_jobs = 100000;
static size_t bare_rows = STORE_BATCH_DEFAULT;
static const char *jobd_path = "./build/jobd";

/* ---- small helpers -------------------------------------------------------- */

static void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		err(1, "malloc %zu", n);
	return p;
}

/* A growing byte buffer for request lines. */
struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len)
			break;
		b->cap = b->cap ? 2 * b->cap : 1 << 16;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			err(1, "realloc");
	}
	b->len += (size_t)n;
}

/* ---- the jobd process ------------------------------------------------------- */

/* One jobd at a time.  Paths are set once, so the signal handler can kill
 * and clean up with async-signal-safe calls only. */
static struct {
	volatile pid_t pid;     /* 0: none running */
	volatile pid_t prof;    /* the profiler attached to it, or 0 */
	clockid_t cpu;          /* its process CPU clock */
	char dir[PATH_MAX - 64];        /* room for the file names */
	char conf[PATH_MAX], sock[PATH_MAX], log[PATH_MAX];
	char db[PATH_MAX], wal[PATH_MAX + 8], shm[PATH_MAX + 8];
	char bare[PATH_MAX], bwal[PATH_MAX + 8], bshm[PATH_MAX + 8];
	const char *pg;         /* -P: store = postgresql on this conninfo */
} J;

static void
rm_files(void)
{
	const char *f[] = { J.conf, J.sock, J.log, J.db, J.wal, J.shm, J.bare,
		J.bwal, J.bshm };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i][0] != '\0')
			unlink(f[i]);
}

static void
rm_db(void)
{
	unlink(J.db);
	unlink(J.wal);
	unlink(J.shm);
}

/* Kill jobd if it runs and remove the directory: atexit, and the signal
 * handler (async-signal-safe). */
static void
cleanup(void)
{
	pid_t pid = J.pid;

	if (J.prof > 0) {
		kill(J.prof, SIGINT);
		waitpid(J.prof, NULL, 0);
		J.prof = 0;
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		J.pid = 0;
	}
	if (J.dir[0] != '\0') {
		rm_files();
		rmdir(J.dir);
	}
}

static void
on_signal(int sig)
{
	static const char msg[] = "bench_jobd: interrupted, jobd killed\n";
	static const char dog[] = "bench_jobd: watchdog expired, jobd killed\n";

	if (sig == SIGALRM)
		(void)!write(2, dog, sizeof(dog) - 1);
	else
		(void)!write(2, msg, sizeof(msg) - 1);
	cleanup();
	_exit(1);
}

/* Print the end of jobd's output (stdout and stderr) to our stderr. */
static void
dump_log(void)
{
	char b[8192];
	ssize_t n;
	off_t size;
	int fd;

	if ((fd = open(J.log, O_RDONLY)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(b) ? size - (off_t)sizeof(b) : 0,
	    SEEK_SET);
	fprintf(stderr, "---- jobd output (%s%s) ----\n",
	    size > (off_t)sizeof(b) ? "last 8 KiB of " : "", J.log);
	fflush(stderr);
	while ((n = read(fd, b, sizeof(b))) > 0)
		(void)!write(2, b, (size_t)n);
	fprintf(stderr, "---- end of jobd output ----\n");
	close(fd);
}

/* Report and exit; atexit(cleanup) kills jobd.  Shows jobd's output. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fprintf(stderr, "bench_jobd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (J.pid > 0)
		dump_log();
	exit(1);
}

static void
setup_dir(const char *base)
{
	if (strlen(base) + 20 > sizeof(J.dir))
		errx(1, "%s: too long", base);
	snprintf(J.dir, sizeof(J.dir), "%s/bench_jobd.XXXXXX", base);
	if (mkdtemp(J.dir) == NULL)
		err(1, "mkdtemp %s", J.dir);
	snprintf(J.conf, sizeof(J.conf), "%s/jobd.conf", J.dir);
	snprintf(J.sock, sizeof(J.sock), "%s/jobd.sock", J.dir);
	snprintf(J.log, sizeof(J.log), "%s/jobd.log", J.dir);
	snprintf(J.db, sizeof(J.db), "%s/jobd.db", J.dir);
	snprintf(J.wal, sizeof(J.wal), "%s-wal", J.db);
	snprintf(J.shm, sizeof(J.shm), "%s-shm", J.db);
	snprintf(J.bare, sizeof(J.bare), "%s/bare.db", J.dir);
	snprintf(J.bwal, sizeof(J.bwal), "%s-wal", J.bare);
	snprintf(J.bshm, sizeof(J.bshm), "%s-shm", J.bare);
	if (strlen(J.sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		errx(1, "socket path %s too long: use -d with a shorter dir",
		    J.sock);
}

/* The default queue's settings; everything else is fixed. */
struct cfg {
	long workers;
	long capacity;
};

/* -P: empty the PostgreSQL database for the next round (jobd is not
 * running), as a fresh SQLite file would be. */
static void
pg_reset(void)
{
	PGconn *c = PQconnectdb(J.pg);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		errx(1, "%s: %s", J.pg, PQerrorMessage(c));
	r = PQexec(c, "DROP TABLE IF EXISTS jobs, groups, meta");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		errx(1, "%s: %s", J.pg, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static void
write_conf(const struct cfg *c)
{
	FILE *f = fopen(J.conf, "w");

	if (f == NULL)
		err(1, "%s", J.conf);
	if (J.pg != NULL)
		pg_reset();
	fprintf(f, "; generated by bench_jobd\n[daemon]\n"
	    "socket = %s\n%sdatabase = %s\nsync = full\nmax_line = 64M\n"
	    "shutdown_grace = 5\n\n[queue.default]\nworkers = %ld\n"
	    "capacity = %ld\n", J.sock, J.pg != NULL ? "store = postgresql\n" :
	    "", J.pg != NULL ? J.pg : J.db, c->workers, c->capacity);
	if (fclose(f) != 0)
		err(1, "%s", J.conf);
}

static void __attribute__((noreturn))
child_exec(pid_t parent)
{
	sigset_t none;
	int fd;

	if ((fd = open(J.log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		_exit(126);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	/* Dies with the bench, whatever happens to it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);       /* an ignored signal survives exec */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(jobd_path, "jobd", "-c", J.conf, (char *)NULL);
	dprintf(2, "bench_jobd: exec %s: %s\n", jobd_path, strerror(errno));
	_exit(127);
}

/* One ping on a fresh connection; true once jobd answers ok. */
static bool
try_ping(void)
{
	static const char ping[] = "{\"op\":\"ping\"}";
	struct jc_conn *c;
	char *ans;
	size_t len;
	bool ok = false;

	if (jc_open(J.sock, &c) < 0)
		return false;
	if (jc_send(c, ping, sizeof(ping) - 1, 2) == 0 &&
	    jc_recv(c, 2, &ans, &len) == 0) {
		if (strstr(ans, "\"ok\":true") == NULL)
			die("ping answered: %s", ans);
		ok = true;
	}
	jc_close(c);
	return ok;
}

/* Start jobd with c and wait until it answers ping. */
static void
jobd_start(const struct cfg *c)
{
	double deadline = bench_now() + START_TIMEOUT;
	pid_t pid, parent = getpid();
	int st;

	rm_db();
	unlink(J.sock);
	write_conf(c);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0)
		child_exec(parent);
	J.pid = pid;
	alarm(WATCHDOG);
	while (!try_ping()) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			J.pid = 0;
			fprintf(stderr, "bench_jobd: %s -c %s exited with %s %d "
			    "before answering ping\n", jobd_path, J.conf,
			    WIFEXITED(st) ? "status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			dump_log();
			exit(1);
		}
		if (bench_now() > deadline)
			die("jobd did not answer ping within %.0f s",
			    START_TIMEOUT);
		sleep_s(0.005);
	}
	if (clock_getcpuclockid(pid, &J.cpu) != 0)
		die("clock_getcpuclockid(%d) failed", (int)pid);
}

/* "exec " and tmpl with every %d replaced by jobd's pid. */
static void
expand_pid(char *cmd, size_t size, const char *tmpl)
{
	size_t len = (size_t)snprintf(cmd, size, "exec ");

	for (const char *p = tmpl; *p != '\0' && len + 16 < size; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			len += (size_t)snprintf(cmd + len, size - len, "%d",
			    (int)J.pid);
			p++;
		} else
			cmd[len++] = *p;
	}
	cmd[len] = '\0';
}

/* BENCH_JOBD_PROFILE="perf record -g -o /tmp/jobd.data -p %d": that
 * command (every %d is jobd's pid) runs during each round's measured window and
 * gets SIGINT at its end.  Its start-up takes the first second, outside. */
static void
prof_start(void)
{
	const char *tmpl = getenv("BENCH_JOBD_PROFILE");
	char cmd[4096];
	pid_t pid;

	if (tmpl == NULL || *tmpl == '\0')
		return;
	expand_pid(cmd, sizeof(cmd), tmpl);
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	J.prof = pid;
	sleep_s(1.0);
}

static void
prof_stop(void)
{
	double deadline = bench_now() + 60;
	pid_t pid = J.prof;

	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	while (waitpid(pid, NULL, WNOHANG) != pid) {
		if (bench_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		sleep_s(0.01);
	}
	J.prof = 0;
}

/* jobd's CPU time so far, all threads, in seconds. */
static double
jobd_cpu(void)
{
	struct timespec ts;

	if (clock_gettime(J.cpu, &ts) < 0)
		die("jobd's CPU clock: %s", strerror(errno));
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of jobd's thread named store_writer so far (from
 * /proc/PID/task/TID/stat: clock ticks, 10 ms; fine over a round), or -1
 * if there is none. */
static double
writer_cpu(void)
{
	char path[320], buf[512];
	struct dirent *de;
	double v = -1;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)J.pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while (v < 0 && (de = readdir(d)) != NULL) {
		unsigned long ut, st;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat",
		    (int)J.pid, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    strstr(buf, "(store_writer)") != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%lu %lu", &ut, &st) == 2)
			v = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		fclose(f);
	}
	closedir(d);
	return v;
}

/* jobd's peak resident set (VmHWM), in MiB. */
static double
jobd_hwm(void)
{
	char path[64], line[256];
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)J.pid);
	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
			break;
	fclose(f);
	if (kb < 0)
		die("no VmHWM in %s", path);
	return kb / 1024;
}

/* SIGTERM, wait for the exit, insist on status 0. */
static void
jobd_stop(void)
{
	double deadline = bench_now() + STOP_TIMEOUT;
	pid_t pid = J.pid;
	int st;

	if (kill(pid, SIGTERM) < 0)
		die("kill jobd: %s", strerror(errno));
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (bench_now() > deadline)
			die("jobd did not exit within %.0f s of SIGTERM",
			    STOP_TIMEOUT);
		sleep_s(0.002);
	}
	alarm(0);
	J.pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		dump_log();
		errx(1, "jobd stopped with %s %d, not status 0",
		    WIFEXITED(st) ? "status" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
	rm_db();
}

/* ---- connections ------------------------------------------------------------ */

/* A client connection (lib/client).  One thread may write (conn_write)
 * while another reads. */
struct conn {
	struct jc_conn *jc;
};

static struct conn *
conn_open(void)
{
	struct conn *c = xmalloc(sizeof(*c));
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = jc_open(J.sock, &c->jc)) < 0)
		die("connect %s: %s", J.sock, strerror(-rc));
	jc_set_line_max(c->jc, LINE_MAX_BUF);
	return c;
}

static void
conn_close(struct conn *c)
{
	jc_close(c->jc);
	free(c);
}

/* Write all of p, waiting as needed until deadline.  0 or -errno. */
static int
conn_write(struct conn *c, const char *p, size_t n, double deadline)
{
	double left = deadline - bench_now();

	return left <= 0 ? -ETIMEDOUT : jc_write(c->jc, p, n, left);
}

/* The next answer line, NUL-terminated, valid until the next call; fatal
 * on end of file or past deadline (what names the request). */
static char *
conn_line(struct conn *c, double deadline, const char *what)
{
	double left;
	char *line;
	size_t len;
	int rc;

	/* The clock only when the answer is not there yet: the bench's own
	 * CPU per job is one of its figures. */
	if ((rc = jc_recv(c->jc, 0, &line, &len)) == -ETIMEDOUT) {
		left = deadline - bench_now();
		rc = jc_recv(c->jc, left > 0 ? left : 0, &line, &len);
	}
	if (rc == -ETIMEDOUT)
		die("%s: no answer in time", what);
	if (rc == -EPIPE || rc == -EBADMSG)
		die("%s: jobd closed the connection", what);
	if (rc == -EMSGSIZE)
		die("an answer line longer than %u bytes", LINE_MAX_BUF);
	if (rc < 0)
		die("%s: read: %s", what, strerror(-rc));
	return line;
}

/* Send one request line and return its answer, which must be ok. */
static char *
conn_request(struct conn *c, const char *req, double deadline)
{
	char *ans;
	int rc;

	if ((rc = conn_write(c, req, strlen(req), deadline)) < 0)
		die("send %.200s: %s", req, strerror(-rc));
	ans = conn_line(c, deadline, req);
	if (strstr(ans, "\"ok\":true") == NULL)
		die("%.200s answered %.400s", req, ans);
	return ans;
}

/* The value of integer field key ("id", "group") in an answer line. */
static int64_t
answer_int(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(line, pat)) == NULL)
		die("no %s in answer %.400s", key, line);
	return strtoll(p + strlen(pat), NULL, 10);
}

/* A thread that writes a prepared buffer: pipelining from one side while
 * the main thread reads answers on the other. */
struct writer {
	pthread_t thr;
	struct conn *c;
	const struct buf *b;
	double t0;              /* just before the first byte */
	double wall0;           /* the same moment in Unix time */
	double deadline;
	int rc;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;

	w->wall0 = store_now();
	w->t0 = bench_now();
	w->rc = conn_write(w->c, w->b->p, w->b->len, w->deadline);
	return NULL;
}

static void
writer_start(struct writer *w, struct conn *c, const struct buf *b)
{
	w->c = c;
	w->b = b;
	w->deadline = bench_now() + IO_TIMEOUT;
	w->rc = 0;
	if ((errno = pthread_create(&w->thr, NULL, writer_main, w)) != 0)
		err(1, "pthread_create");
}

static void
writer_join(struct writer *w)
{
	pthread_join(w->thr, NULL);
	if (w->rc < 0)
		die("writing requests: %s", strerror(-w->rc));
}

/* Read n answers, each of which must be ok; returns the last line's
 * integer field key (or 0 for key NULL). */
static int64_t
read_oks(struct conn *c, size_t n, const char *key, double deadline)
{
	char *line = NULL, what[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "answer %zu of %zu", i + 1, n);
		line = conn_line(c, deadline, what);
		if (strstr(line, "\"ok\":true") == NULL)
			die("%s: %.400s", what, line);
	}
	return key != NULL && line != NULL ? answer_int(line, key) : 0;
}

/* ---- the database, read-only ------------------------------------------------ */

struct db {
	sqlite3 *h;
	sqlite3_stmt *unended;
	PGconn *pg;             /* -P */
};

/* -P: the first column of sql's only row as an integer. */
static int64_t
db_pg_int(struct db *d, const char *sql)
{
	PGresult *r = PQexec(d->pg, sql);
	int64_t v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		die("%s: %s", sql, PQerrorMessage(d->pg));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void
db_open(struct db *d)
{
	static const char q[] = "SELECT EXISTS (SELECT 1 FROM jobs "
	    "WHERE state IN ('queued', 'running'))";

	if (J.pg != NULL) {
		d->pg = PQconnectdb(J.pg);
		if (PQstatus(d->pg) != CONNECTION_OK)
			die("%s: %s", J.pg, PQerrorMessage(d->pg));
		return;
	}
	if (sqlite3_open_v2(J.db, &d->h, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		die("%s: %s", J.db, sqlite3_errmsg(d->h));
	sqlite3_busy_timeout(d->h, 5000);
	if (sqlite3_prepare_v2(d->h, q, -1, &d->unended, NULL) != SQLITE_OK)
		die("%s: %s", q, sqlite3_errmsg(d->h));
}

static void
db_close(struct db *d)
{
	if (d->pg != NULL) {
		PQfinish(d->pg);
		d->pg = NULL;
		return;
	}
	sqlite3_finalize(d->unended);
	sqlite3_close(d->h);
}

/* Is some job queued or running, as committed? */
static bool
db_unended(struct db *d)
{
	bool any;

	if (d->pg != NULL)
		return db_pg_int(d, "SELECT EXISTS (SELECT 1 FROM jobs WHERE "
		    "state IN ('queued', 'running'))::int") != 0;
	if (sqlite3_step(d->unended) != SQLITE_ROW)
		die("polling %s: %s", J.db, sqlite3_errmsg(d->h));
	any = sqlite3_column_int(d->unended, 0) != 0;
	sqlite3_reset(d->unended);
	return any;
}

/* Jobs in state (a name), committed. */
static int64_t
db_count(struct db *d, const char *state)
{
	sqlite3_stmt *s;
	char sql[128];
	int64_t n;

	if (d->pg != NULL) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE "
		    "state = '%s'", state);
		return db_pg_int(d, sql);
	}
	if (sqlite3_prepare_v2(d->h, "SELECT count(*) FROM jobs WHERE "
	    "state = ?1", -1, &s, NULL) != SQLITE_OK)
		die("count: %s", sqlite3_errmsg(d->h));
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW)
		die("count: %s", sqlite3_errmsg(d->h));
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Every job acknowledged so far has ended (committed): poll from
 * not_before on; returns when it was first seen. */
static double
db_wait_ended(struct db *d, double not_before, double deadline)
{
	sleep_s(not_before - bench_now());
	while (db_unended(d)) {
		if (bench_now() > deadline)
			die("jobs still queued or running after the deadline");
		sleep_s(POLL_INTERVAL);
	}
	return bench_now();
}

/* All n jobs must have succeeded (checked after the timing). */
static void
db_check_succeeded(struct db *d, size_t n)
{
	int64_t got = db_count(d, "succeeded");

	if (got != (int64_t)n)
		die("%lld jobs succeeded, not %zu", (long long)got, n);
}

/* ---- printing ------------------------------------------------------------- */

static int npass, nmiss;

/* One figure with its goal: le means the goal is an upper bound. */
static void
figure(const char *what, double v, const char *unit, int prec, bool le,
    double goal)
{
	bool pass = le ? v <= goal : v >= goal;

	printf("  %-44s %12.*f %-7s goal %s %-10.*f %s\n", what, prec, v, unit,
	    le ? "<=" : ">=", prec, goal, pass ? "PASS" : "MISS");
	pass ? npass++ : nmiss++;
	fflush(stdout);
}

/* -v: one round's raw figures. */
static void __attribute__((format(printf, 2, 3)))
round_note(int i, const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	printf("    round %d: ", i + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* -v: when, after the first byte, jobs were created, started and ended,
 * by jobd's own timestamps: where a wall time went. */
static void
db_timeline(struct db *d, double wall0, int round)
{
	static const char q[] = "SELECT min(created_at), max(created_at), "
	    "min(started_at), max(started_at), min(finished_at), "
	    "max(finished_at) FROM jobs";
	sqlite3_stmt *s;
	double v[6];

	if (!verbose)
		return;
	if (sqlite3_prepare_v2(d->h, q, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		die("timeline: %s", sqlite3_errmsg(d->h));
	for (int i = 0; i < 6; i++)
		v[i] = sqlite3_column_double(s, i) - wall0;
	sqlite3_finalize(s);
	round_note(round, "created %.3f-%.3f, started %.3f-%.3f, ended "
	    "%.3f-%.3f s after the first byte", v[0], v[1], v[2], v[3], v[4],
	    v[5]);
}

static void
info(const char *what, double v, const char *unit, int prec)
{
	printf("  %-44s %12.*f %s\n", what, prec, v, unit);
	fflush(stdout);
}

/* ---- 1. no-op throughput, and bare SQLite ------------------------------------ */

struct noop_res {
	double rate;            /* jobs/s, first byte to last end */
	double acked;           /* s until the last submit's answer */
	double cpu_us;          /* jobd CPU per job */
	double writer_us;       /* of which its store writer's */
	double self_us;         /* the bench's own CPU per job */
};

static double
self_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
noop_round(size_t n, int round, struct noop_res *r)
{
	struct cfg cfg = { .workers = 16, .capacity = (long)n };
	struct buf b = { 0 };
	struct writer w;
	struct conn *c;
	struct db d = { 0 };
	char req[128];
	double deadline, c0, s0, w0, t1;
	int64_t last;

	for (size_t i = 0; i < n; i++)
		buf_add(&b, "{\"op\":\"submit\",\"kind\":\"sleep\","
		    "\"args\":{\"seconds\":0}}\n");
	jobd_start(&cfg);
	c = conn_open();
	db_open(&d);
	deadline = bench_now() + IO_TIMEOUT;
	prof_start();
	c0 = jobd_cpu();
	s0 = self_cpu();
	w0 = writer_cpu();
	writer_start(&w, c, &b);
	last = read_oks(c, n, "id", deadline);
	r->acked = bench_now();
	writer_join(&w);
	r->acked -= w.t0;
	/* The last job's end, then no job left queued or running. */
	snprintf(req, sizeof(req), "{\"op\":\"wait\",\"id\":%lld,"
	    "\"timeout\":60}\n", (long long)last);
	conn_request(c, req, deadline);
	t1 = db_wait_ended(&d, 0, deadline);
	prof_stop();
	r->cpu_us = (jobd_cpu() - c0) / (double)n * 1e6;
	r->writer_us = (writer_cpu() - w0) / (double)n * 1e6;
	r->self_us = (self_cpu() - s0) / (double)n * 1e6;
	r->rate = (double)n / (t1 - w.t0);
	db_check_succeeded(&d, n);
	db_timeline(&d, w.wall0, round);
	db_close(&d);
	conn_close(c);
	jobd_stop();
	free(b.p);
}

/* The three writes of jobs [from, to), as store_sqlite.c binds them. */
static void
bare_jobs(sqlite3 *db, sqlite3_stmt **s, int64_t from, int64_t to)
{
	for (int64_t id = from; id < to; id++) {
		sqlite3_bind_int64(s[0], 1, id);
		sqlite3_bind_text(s[0], 2, "default", -1, SQLITE_STATIC);
		sqlite3_bind_text(s[0], 3, "sleep", -1, SQLITE_STATIC);
		sqlite3_bind_text(s[0], 4, "{\"seconds\":0}", -1,
		    SQLITE_STATIC);
		sqlite3_bind_null(s[0], 5);
		sqlite3_bind_int(s[0], 6, 3);
		sqlite3_bind_double(s[0], 7, 300);
		sqlite3_bind_double(s[0], 8, store_now());
		sqlite3_bind_null(s[0], 9);
		bench_sql_step(db, s[0]);
	}
	for (int64_t id = from; id < to; id++) {
		sqlite3_bind_int64(s[1], 1, id);
		sqlite3_bind_double(s[1], 2, store_now());
		bench_sql_step(db, s[1]);
	}
	for (int64_t id = from; id < to; id++) {
		sqlite3_bind_int64(s[2], 1, id);
		sqlite3_bind_text(s[2], 2, "succeeded", -1, SQLITE_STATIC);
		sqlite3_bind_double(s[2], 3, store_now());
		sqlite3_bind_text(s[2], 4, "{\"slept\":0.0}", -1,
		    SQLITE_STATIC);
		sqlite3_bind_null(s[2], 5);
		sqlite3_bind_null(s[2], 6);
		bench_sql_step(db, s[2]);
	}
}

static void
bare_schema(void)
{
	struct store_opts o = { .path = J.bare };
	struct store *st;

	unlink(J.bare);
	unlink(J.bwal);
	unlink(J.bshm);
	if (store_open(&st, NULL, &o) < 0)
		errx(1, "bare: %s", store_errmsg());
	store_close(st);
}

/* Bare SQLite: n jobs, each inserted queued, started, ended succeeded
 * (the statements of store_sqlite.c), rows rows per transaction, sync=full,
 * WAL, one thread.  Returns jobs/s; *cpu_us gets its CPU per job. */
static double
bare_round(size_t n, size_t rows, double *cpu_us)
{
	static const char *sql[3] = {
		"INSERT INTO jobs (id, queue, kind, args, name, max_attempts, "
		"timeout, created_at, group_id) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		"UPDATE jobs SET state = 'running', attempts = attempts + 1, "
		"started_at = ?2 WHERE id = ?1 AND state = 'queued'",
		"UPDATE jobs SET state = ?2, finished_at = ?3, result = ?4, "
		"error = ?5, cancel_reason = ?6 "
		"WHERE id = ?1 AND state IN ('queued', 'running')",
	};
	int64_t k = rows / 3 > 0 ? (int64_t)(rows / 3) : 1;
	sqlite3_stmt *s[3];
	sqlite3 *db;
	double t0, c0;

	bare_schema();
	if (sqlite3_open(J.bare, &db) != SQLITE_OK)
		errx(1, "bare: %s: %s", J.bare, sqlite3_errmsg(db));
	bench_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA cache_size = -32768; PRAGMA journal_size_limit = 67108864");
	for (int i = 0; i < 3; i++)
		if (sqlite3_prepare_v2(db, sql[i], -1, &s[i], NULL) != SQLITE_OK)
			errx(1, "bare: prepare: %s", sqlite3_errmsg(db));
	c0 = thread_cpu();
	t0 = bench_now();
	for (int64_t i = 1; i <= (int64_t)n; i += k) {
		bench_sql(db, "BEGIN IMMEDIATE");
		bare_jobs(db, s, i, i + k <= (int64_t)n + 1 ? i + k :
		    (int64_t)n + 1);
		bench_sql(db, "COMMIT");
	}
	t0 = bench_now() - t0;
	*cpu_us = (thread_cpu() - c0) / (double)n * 1e6;
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(s[i]);
	sqlite3_close(db);
	unlink(J.bare);
	unlink(J.bwal);
	unlink(J.bshm);
	return (double)n / t0;
}

static void
scenario_noop(void)
{
	double rate[ROUNDS_MAX], acked[ROUNDS_MAX], cpu[ROUNDS_MAX],
	    self[ROUNDS_MAX], bare[ROUNDS_MAX], ratio[ROUNDS_MAX],
	    bcpu[ROUNDS_MAX], wcpu[ROUNDS_MAX], wratio[ROUNDS_MAX];
	struct noop_res r;
	size_t n = quick && noop_jobs == 100000 ? 20000 : noop_jobs;

	printf("\n1. no-op throughput: %zu x sleep 0 pipelined on 1 connection,"
	    " workers 16,\n   capacity %zu (never full), sync=full; bare SQLite:"
	    " transactions of %zu rows\n", n, n, bare_rows / 3 * 3);
	for (int i = 0; i < rounds; i++) {
		noop_round(n, i, &r);
		rate[i] = r.rate;
		acked[i] = (double)n / r.acked;
		cpu[i] = r.cpu_us;
		self[i] = r.self_us;
		wcpu[i] = r.writer_us;
		bare[i] = bare_round(n, bare_rows, &bcpu[i]);
		ratio[i] = rate[i] / bare[i];
		wratio[i] = wcpu[i] / bcpu[i];
		round_note(i, "%.0f jobs/s, acks %.0f/s, jobd %.2f us/job, "
		    "bare %.0f jobs/s %.2f us/job, ratio %.2f", rate[i],
		    acked[i], cpu[i], bare[i], bcpu[i], ratio[i]);
	}
	/* Goals of issue 15 (docs/BENCH.md). */
	figure("jobd end to end (first byte to last end)", bench_median(rate, (size_t)rounds),
	    "jobs/s", 0, false, 180000);
	info("  submits answered (first byte to last ack)",
	    bench_median(acked, (size_t)rounds), "jobs/s", 0);
	figure("jobd CPU per job (all threads)", bench_median(cpu, (size_t)rounds), "us", 2,
	    true, 7);
	info("  of which the store's writer thread", bench_median(wcpu, (size_t)rounds),
	    "us", 2);
	info("  bench's own CPU per job (client)", bench_median(self, (size_t)rounds), "us",
	    2);
	info("bare SQLite, same writes", bench_median(bare, (size_t)rounds), "jobs/s", 0);
	info("  bare SQLite CPU per job", bench_median(bcpu, (size_t)rounds), "us", 2);
	figure("ratio jobd / bare (median of rounds)", bench_median(ratio, (size_t)rounds), "",
	    2, false, 0.6);
	figure("writer CPU / bare SQLite CPU per job", bench_median(wratio, (size_t)rounds),
	    "", 2, true, 1.3);
}

/* ---- 2. many concurrent sleeps ----------------------------------------------- */

/* n sleep jobs of seconds each, as submit_groups (group) or one submit
 * per line; returns the number of request lines. */
static size_t
build_sleeps(struct buf *b, size_t n, double seconds, bool group)
{
	size_t lines = 0;

	for (size_t i = 0; i < n; i++) {
		if (!group) {
			buf_add(b, "{\"op\":\"submit\",\"kind\":\"sleep\","
			    "\"args\":{\"seconds\":%g}}\n", seconds);
			lines++;
			continue;
		}
		if (i % GROUP_MAX == 0)
			buf_add(b, "{\"op\":\"submit_group\",\"jobs\":[");
		buf_add(b, "%s{\"kind\":\"sleep\",\"args\":{\"seconds\":%g}}",
		    i % GROUP_MAX == 0 ? "" : ",", seconds);
		if (i % GROUP_MAX == GROUP_MAX - 1 || i == n - 1) {
			buf_add(b, "]}\n");
			lines++;
		}
	}
	return lines;
}

/* One round: n concurrent sleep 1; wall seconds and peak RSS (MiB). */
static void
sleep_round(size_t n, bool group, int round, double *wall, double *rss)
{
	struct cfg cfg = { .workers = (long)n, .capacity = (long)n };
	struct buf b = { 0 };
	struct writer w;
	struct conn *c;
	struct db d = { 0 };
	size_t lines = build_sleeps(&b, n, 1, group);
	double deadline, t1;

	jobd_start(&cfg);
	c = conn_open();
	db_open(&d);
	prof_start();
	deadline = bench_now() + IO_TIMEOUT;
	writer_start(&w, c, &b);
	read_oks(c, lines, NULL, deadline);
	writer_join(&w);
	t1 = db_wait_ended(&d, w.t0 + 0.9, deadline);
	prof_stop();
	*wall = t1 - w.t0;
	*rss = jobd_hwm();
	db_check_succeeded(&d, n);
	db_timeline(&d, w.wall0, round);
	db_close(&d);
	conn_close(c);
	jobd_stop();
	free(b.p);
}

static void
sleep_method(size_t n, bool group, double goal_s, double goal_mb,
    double *best)
{
	double wall[ROUNDS_MAX], rss[ROUNDS_MAX], m;
	char what[64];

	for (int i = 0; i < rounds; i++) {
		sleep_round(n, group, i, &wall[i], &rss[i]);
		round_note(i, "%s %.3f s, %.1f MiB", group ? "group" : "pipe",
		    wall[i], rss[i]);
	}
	m = bench_median(wall, (size_t)rounds);
	snprintf(what, sizeof(what), "%s: wall time",
	    group ? "submit_group" : "pipelined submits");
	figure(what, m, "s", 3, true, goal_s);
	figure("  jobd peak RSS (VmHWM)", bench_median(rss, (size_t)rounds), "MiB", 1, true,
	    goal_mb);
	if (m < *best)
		*best = m;
}

static void
scenario_sleeps(size_t n, double goal_s, double goal_mb)
{
	double g = INFINITY, p = INFINITY;

	printf("\n2. %zu x sleep 1 at once: workers %zu, capacity %zu, "
	    "one connection\n", n, n, n);
	sleep_method(n, true, goal_s, goal_mb, &g);
	if (quick)
		return;
	sleep_method(n, false, goal_s, goal_mb, &p);
	printf("  faster: %s (%.3f s vs %.3f s)\n", g <= p ? "submit_group" :
	    "pipelined submits", g <= p ? g : p, g <= p ? p : g);
}

/* ---- 3. waves of short sleeps ------------------------------------------------ */

static double
waves_round(void)
{
	struct cfg cfg = { .workers = 10, .capacity = 100 };
	struct buf b = { 0 };
	struct conn *c;
	char req[128], *ans;
	double deadline, t0, t1;
	int64_t gid;
	size_t ok = 0;

	build_sleeps(&b, 100, 0.1, true);
	jobd_start(&cfg);
	c = conn_open();
	prof_start();
	deadline = bench_now() + IO_TIMEOUT;
	t0 = bench_now();
	gid = answer_int(conn_request(c, b.p, deadline), "group");
	snprintf(req, sizeof(req), "{\"op\":\"wait\",\"group\":%lld,"
	    "\"timeout\":30}\n", (long long)gid);
	ans = conn_request(c, req, deadline);
	t1 = bench_now();
	prof_stop();
	for (char *p = ans; (p = strstr(p, "\"state\":\"succeeded\"")) != NULL;
	    p++)
		ok++;
	if (ok != 100)
		die("%zu of 100 jobs succeeded: %.400s", ok, ans);
	conn_close(c);
	jobd_stop();
	free(b.p);
	return t1 - t0;
}

static void
scenario_waves(void)
{
	double wall[ROUNDS_MAX];

	printf("\n3. 100 x sleep 0.1 on 10 workers (one submit_group, then a "
	    "wait on it)\n");
	for (int i = 0; i < rounds; i++) {
		wall[i] = waves_round();
		round_note(i, "%.4f s", wall[i]);
	}
	figure("wall time (ideal 1.000 s)", bench_median(wall, (size_t)rounds), "s", 4, true,
	    1.005);
}

/* ---- 4. latency at a fixed offered rate -------------------------------------- */

struct pacer {
	pthread_t thr;
	struct conn *c;
	size_t n;
	double rate;
	double *sent;           /* send time of each request */
	double lag;             /* worst lateness against the schedule */
	int rc;
};

/* Open loop: request i goes out at t0 + i / rate, whatever the answers. */
static void *
pacer_main(void *arg)
{
	struct pacer *p = arg;
	struct timespec ts;
	char line[128];
	double t0, at, t;
	int len;

	prctl(PR_SET_TIMERSLACK, 1UL);  /* wake on time, not 50 us late */
	t0 = bench_now() + 0.01;
	for (size_t i = 0; i < p->n && p->rc == 0; i++) {
		at = t0 + (double)i / p->rate;
		ts.tv_sec = (time_t)at;
		ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
		len = snprintf(line, sizeof(line), "{\"op\":\"submit\","
		    "\"kind\":\"sleep\",\"args\":{\"seconds\":0},\"tag\":%zu}\n",
		    i);
		p->sent[i] = t = bench_now();
		if (t - at > p->lag)
			p->lag = t - at;
		p->rc = conn_write(p->c, line, (size_t)len, t + IO_TIMEOUT);
	}
	return NULL;
}

struct lat_res {
	double p50, p99, max, lag;
};

static void
latency_round(double secs, struct lat_res *r)
{
	struct cfg cfg = { .workers = LAT_WORKERS, .capacity = 1000000 };
	struct pacer p = { .rate = LAT_RATE };
	double deadline, *lat;
	struct conn *c;
	struct db d = { 0 };
	char what[64], *line;

	p.n = (size_t)(secs * LAT_RATE);
	p.sent = xmalloc(p.n * sizeof(double));
	lat = xmalloc(p.n * sizeof(double));
	jobd_start(&cfg);
	c = conn_open();
	db_open(&d);
	p.c = c;
	prof_start();
	deadline = bench_now() + secs + IO_TIMEOUT;
	if ((errno = pthread_create(&p.thr, NULL, pacer_main, &p)) != 0)
		err(1, "pthread_create");
	for (size_t i = 0; i < p.n; i++) {
		snprintf(what, sizeof(what), "submit %zu of %zu", i + 1, p.n);
		line = conn_line(c, deadline, what);
		if (strstr(line, "\"ok\":true") == NULL ||
		    answer_int(line, "tag") != (int64_t)i)
			die("%s answered %.400s", what, line);
		lat[i] = bench_now();         /* when the answer was read */
	}
	pthread_join(p.thr, NULL);
	prof_stop();
	if (p.rc < 0)
		die("sending: %s", strerror(-p.rc));
	for (size_t i = 0; i < p.n; i++)
		lat[i] -= p.sent[i];
	qsort(lat, p.n, sizeof(*lat), bench_cmp_double);
	r->p50 = bench_percentile(lat, p.n, 0.50) * 1e3;
	r->p99 = bench_percentile(lat, p.n, 0.99) * 1e3;
	r->max = lat[p.n - 1] * 1e3;
	r->lag = p.lag * 1e3;
	db_wait_ended(&d, 0, deadline);
	db_check_succeeded(&d, p.n);
	db_close(&d);
	conn_close(c);
	jobd_stop();
	free(p.sent);
	free(lat);
}

static void
scenario_latency(void)
{
	double p50[ROUNDS_MAX], p99[ROUNDS_MAX], max[ROUNDS_MAX],
	    lag[ROUNDS_MAX];
	double secs = quick ? 1 : 3;
	struct lat_res r;

	printf("\n4. submit -> answer latency: %d submits/s of sleep 0 offered "
	    "open-loop for %.0f s\n   on 1 connection, workers %d, sync=full\n",
	    LAT_RATE, secs, LAT_WORKERS);
	for (int i = 0; i < rounds; i++) {
		latency_round(secs, &r);
		p50[i] = r.p50;
		p99[i] = r.p99;
		max[i] = r.max;
		lag[i] = r.lag;
		round_note(i, "p50 %.3f p99 %.3f max %.3f ms, sender late "
		    "%.3f ms", r.p50, r.p99, r.max, r.lag);
	}
	info("p50", bench_median(p50, (size_t)rounds), "ms", 3);
	figure("p99", bench_median(p99, (size_t)rounds), "ms", 3, true, 3);
	info("max", bench_median(max, (size_t)rounds), "ms", 3);
	info("  sender's worst lateness against schedule", bench_median(lag, (size_t)rounds),
	    "ms", 3);
}

/* ---- main ------------------------------------------------------------------- */

/* The 1-minute load average: a busy machine explains a bad figure. */
static double
loadavg(void)
{
	double l[1] = { -1 };

	if (getloadavg(l, 1) < 1)
		return -1;
	return l[0];
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_jobd [-qv] [-r rounds] [-s scenarios] "
	    "[-n jobs] [-b rows] [-d dir] [-P conninfo] [jobd]\n"
	    "  -q  quick: 1 round, smaller runs\n"
	    "  -v  print every round's figures too\n"
	    "  -s  which scenarios, e.g. 13 (default 1234)\n"
	    "  -n  jobs of scenario 1 (default 100000)\n"
	    "  -b  rows per bare SQLite transaction (default %d)\n"
	    "  -d  where the temporary directory goes (default /tmp)\n"
	    "  -P  store = postgresql on this database (emptied each round)\n",
	    STORE_BATCH_DEFAULT);
	exit(2);
}

static void
handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
	const char *which = "1234", *dir = "/tmp";
	bool rounds_set = false;
	int c;

	while ((c = getopt(argc, argv, "qvr:s:n:b:d:P:")) != -1) {
		switch (c) {
		case 'q':
			quick = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'r':
			rounds = atoi(optarg);
			rounds_set = true;
			break;
		case 's':
			which = optarg;
			break;
		case 'n':
			noop_jobs = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			bare_rows = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'P':
			J.pg = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		jobd_path = argv[optind++];
	if (optind != argc || rounds < 1 || rounds > ROUNDS_MAX ||
	    noop_jobs < 1 || bare_rows < 1)
		usage();
	if (quick && !rounds_set)
		rounds = 1;
	if (access(jobd_path, X_OK) < 0)
		err(1, "%s", jobd_path);
	handle_signals();
	log_init("bench_jobd", LOG_LVL_WARNING);   /* the bare schema's notes */
	setup_dir(dir);
	atexit(cleanup);
	printf("bench_jobd: %s, medians of %d round%s%s, files in %s, "
	    "load %.2f\n", jobd_path, rounds, rounds > 1 ? "s" : "",
	    quick ? " (quick)" : "", J.dir, loadavg());
	if (strchr(which, '1'))
		scenario_noop();
	if (strchr(which, '2')) {
		scenario_sleeps(10000, 1.15, 30);
		scenario_sleeps(100000, 1.8, 300);
	}
	if (strchr(which, '3'))
		scenario_waves();
	if (strchr(which, '4'))
		scenario_latency();
	printf("\n%d PASS, %d MISS (load %.2f)\n", npass, nmiss, loadavg());
	return nmiss > 0 ? 3 : 0;
}
