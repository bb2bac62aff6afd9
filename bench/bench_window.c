/*
 * bench_window.c — a million scheduled jobs: jobd's memory and how late
 * the due ones start (daemon/page.c, the window of scheduled jobs).
 *
 *   bench_window [-n jobs] [-r rate] [-s seconds] [-d dir] [-j jobd]
 *
 * jobd makes the schema; SQLite then writes N (1,000,000) scheduled
 * `sleep 0` jobs straight into the file: the first R·S (1,000/s for 60 s)
 * due at R per second from 10 s after jobd starts, the rest spread evenly
 * over the hour after that.  jobd (sync = normal, 64 workers) starts on
 * it and runs for S + 5 seconds; the bench samples its RSS every 100 ms,
 * then reads from the database, for every job that ran, started_at −
 * run_at (jobd's own clock: the lateness of the dispatcher, wake-up to
 * start, not the client's).  Prints start-up (exec to first ping), the
 * RSS at start and its peak (VmHWM), how many ran, and the lateness's
 * median, p99 and max.  (docs/BENCH.md, "A million scheduled jobs".)
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_util.h"
#include "jc.h"

#define TIMEOUT 60.0
#define LEAD    10.0            /* s from start to the first due job */

static const char *jobd_path = "./build/jobd";
static char dir[256];

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static pid_t
start_jobd(void)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "%s/jobd.conf", dir);
	return bench_jobd_exec(jobd_path, conf);
}

/* Wait until jobd answers a ping: seconds taken. */
static double
wait_ready(void)
{
	char sock[512];
	double took;

	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	jc_close(bench_jobd_ready(sock, TIMEOUT, &took));
	return took;
}

/* A field of /proc/PID/status in kB. */
static long
status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t n = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			kb = atol(line + n + 1);
	fclose(f);
	return kb;
}

/* n scheduled rows: dense ones (rate/s from t0 for secs), then the rest
 * over the hour after. */
static void
fill(sqlite3 *db, long n, double t0, int rate, int secs)
{
	long dense = (long)rate * secs;
	char q[1024];

	if (dense > n)
		dense = n;
	snprintf(q, sizeof(q), "PRAGMA synchronous = OFF; BEGIN; "
	    "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k "
	    "WHERE i < %ld - 1) INSERT INTO jobs (queue, kind, state, args, "
	    "created_at, run_at) SELECT 'default', 'sleep', 'scheduled', "
	    "'{\"seconds\":0}', %.6f, CASE WHEN i < %ld THEN %.6f + i * %.9f "
	    "ELSE %.6f + (i - %ld) * %.9f END FROM k; COMMIT", n, wall(),
	    dense, t0, 1.0 / rate, t0 + secs, dense,
	    3600.0 / (double)(n - dense > 0 ? n - dense : 1));
	bench_sql(db, q);
}

/* started_at - run_at of every job that ran, in ms, sorted. */
static double *
lateness(sqlite3 *db, size_t *np)
{
	sqlite3_stmt *s;
	size_t n = 0, cap = 1024;
	double *v = malloc(cap * sizeof(*v));

	if (sqlite3_prepare_v2(db, "SELECT (started_at - run_at) * 1e3 FROM "
	    "jobs WHERE started_at IS NOT NULL", -1, &s, NULL) != SQLITE_OK)
		errx(1, "%s", sqlite3_errmsg(db));
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap && (v = realloc(v, (cap *= 2) * sizeof(*v))) ==
		    NULL)
			err(1, "realloc");
		v[n++] = sqlite3_column_double(s, 0);
	}
	sqlite3_finalize(s);
	qsort(v, n, sizeof(*v), bench_cmp_double);
	*np = n;
	return v;
}

static void
write_conf(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/jobd.conf", dir);
	if ((f = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	fprintf(f, "[daemon]\nsocket = %s/jobd.sock\ndatabase = %s/jobd.db\n"
	    "sync = normal\nlog_level = warning\n[queue.default]\n"
	    "workers = 64\ncapacity = 100000\nmax_pending = 2000000\n", dir,
	    dir);
	fclose(f);
}

int
main(int argc, char **argv)
{
	long n = 1000000, rss0, peak = 0, kb;
	int c, rate = 1000, secs = 60;
	const char *base = "/tmp";
	char path[512], cmd[600];
	double up, t0, *late;
	sqlite3 *db;
	size_t ran;
	pid_t pid;

	while ((c = getopt(argc, argv, "n:r:s:d:j:")) != -1)
		switch (c) {
		case 'n': n = atol(optarg); break;
		case 'r': rate = atoi(optarg); break;
		case 's': secs = atoi(optarg); break;
		case 'd': base = optarg; break;
		case 'j': jobd_path = optarg; break;
		default:
			fprintf(stderr, "usage: bench_window [-n jobs] [-r rate]"
			    " [-s seconds] [-d dir] [-j jobd]\n");
			return 2;
		}
	if (n < 1 || rate < 1 || secs < 1)
		errx(2, "-n, -r, -s >= 1");
	snprintf(dir, sizeof(dir), "%s/bench_window.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	write_conf();
	pid = start_jobd();
	(void)wait_ready();
	bench_jobd_stop(pid);
	snprintf(path, sizeof(path), "%s/jobd.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		errx(1, "%s", path);
	t0 = bench_now();
	fill(db, n, wall() + 30 + LEAD, rate, secs);   /* 30: a fill's room */
	fprintf(stderr, "filled %ld rows in %.1f s\n", n, bench_now() - t0);
	/* Shift the rows so the first is due LEAD s after jobd starts. */
	snprintf(cmd, sizeof(cmd), "UPDATE jobs SET run_at = run_at - "
	    "(SELECT min(run_at) FROM jobs) + %.6f", wall() + LEAD);
	bench_sql(db, cmd);
	pid = start_jobd();
	up = wait_ready();
	rss0 = status_kb(pid, "VmRSS");
	t0 = bench_now();
	while (bench_now() - t0 < LEAD + secs + 5) {
		if ((kb = status_kb(pid, "VmRSS")) > peak)
			peak = kb;
		usleep(100000);
	}
	kb = status_kb(pid, "VmHWM");
	bench_jobd_stop(pid);
	late = lateness(db, &ran);
	sqlite3_close(db);
	printf("scheduled %ld (%d/s due for %d s, the rest over an hour)\n",
	    n, rate, secs);
	printf("start-up %.3f s; RSS at start %.1f MB, peak sampled %.1f MB, "
	    "VmHWM %.1f MB\n", up, rss0 / 1024.0, peak / 1024.0, kb / 1024.0);
	if (ran > 0)
		printf("ran %zu; start - run_at: median %.2f ms, p99 %.2f ms, "
		    "max %.2f ms\n", ran, bench_percentile(late, ran, 0.5),
		    bench_percentile(late, ran, 0.99),
		    late[ran - 1]);
	free(late);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		warnx("could not remove %s", dir);
	return 0;
}
