/*
 * bench_dag.c — a DAG of no-op jobs against as many independent ones.
 *
 *   bench_dag [-o] [-n jobs] [-f fanout] [-r rounds] [-w workers]
 *             [-s sync] [JOBD]
 *
 * Starts JOBD (default ./build/jobd) on a fresh database per round and
 * scenario and submits n (100,000) `sleep 0` jobs pipelined on one
 * connection, level by level: f (10) roots, then f jobs for each job of
 * the level before (job i >= f has `after` = [job (i - f) / f]), so with
 * the defaults 10 + 100 + 1,000 + 10,000 + 88,890 jobs in 5 levels and
 * n - f edges.  A level is sent once the level before has been answered
 * (its ids are in the answers).  The baseline, same run, same rounds,
 * sends the same levels without `after`.
 *
 * By default the queue is paused before the first submit and resumed
 * after the last answer, so every job but the roots is `waiting` when its
 * dependency ends and each edge goes through the release path (an end
 * counting its dependants down in its transaction); -o leaves the queue
 * running (submits and runs overlap, and a job whose dependency has
 * already ended is queued at once).  Timed from the first byte sent until
 * the database, polled on a read-only connection, holds no job queued,
 * running, waiting or scheduled; every job must have succeeded.  Also
 * jobd's CPU time (utime + stime of the process) per round.
 *
 * Prints medians over the rounds: wall time, jobs/s, jobd CPU per job,
 * the DAG as a multiple of the baseline (goal: <= 2x) and the cost per
 * edge (wall and CPU difference over the edges).  See docs/BENCH.md.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench_util.h"
#include "jc.h"

#define ROUNDS_MAX 16
#define IO_TIMEOUT 120.0        /* s for any one send or answer */
#define END_TIMEOUT 600.0       /* s from the first byte to the last end */


enum { BASE, DAG, NSCEN };
static const char *const scen_name[NSCEN] = { "independent", "dag" };

static struct {
	const char *jobd, *sync;
	int n, fanout, workers;
	int overlap;
} B = { "./build/jobd", "normal", 100000, 10, 16, 0 };

struct run {
	double wall, submit, cpu;
};

/* Start jobd in dir; its pid. */
static pid_t
start(const char *dir)
{
	char conf[512], sock[300];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/jobd.conf", dir);
	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	if ((f = fopen(conf, "w")) == NULL)
		err(1, "%s", conf);
	fprintf(f, "[daemon]\nsocket = %s\ndatabase = %s/jobd.db\n"
	    "sync = %s\nlog_level = warning\n[queue.default]\n"
	    "workers = %d\ncapacity = %d\nmax_pending = %d\n", sock, dir,
	    B.sync, B.workers, B.n + 1, B.n + 1);
	fclose(f);
	pid = bench_jobd_exec(B.jobd, conf);
	jc_close(bench_jobd_ready(sock, 5, NULL));
	return pid;
}

/* jobd's CPU time so far (every thread), seconds. */
static double
cpu_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One request, its answer must be ok. */
static void
call(struct jc_conn *c, const char *line)
{
	char *ans;
	size_t len;

	if (jc_send(c, line, strlen(line), IO_TIMEOUT) < 0 ||
	    jc_recv(c, IO_TIMEOUT, &ans, &len) < 0 ||
	    strncmp(ans, "{\"ok\":true", 10) != 0)
		errx(1, "%s: no ok answer", line);
}

/* Submit jobs [a, b), the DAG's with their parent's id, and read their
 * ids into id[]. */
static void
submit_level(struct jc_conn *c, int dag, long long *id, int a, int b)
{
	char line[160], *ans, *p;
	size_t len;
	int k;

	for (int i = a; i < b; i++) {
		k = snprintf(line, sizeof(line), "{\"op\":\"submit\","
		    "\"kind\":\"sleep\",\"args\":{\"seconds\":0}");
		if (dag && i >= B.fanout)
			k += snprintf(line + k, sizeof(line) - k,
			    ",\"after\":[%lld]", id[(i - B.fanout) / B.fanout]);
		k += snprintf(line + k, sizeof(line) - k, "}");
		if (jc_send(c, line, (size_t)k, IO_TIMEOUT) < 0)
			errx(1, "send");
	}
	for (int i = a; i < b; i++) {
		if (jc_recv(c, IO_TIMEOUT, &ans, &len) < 0 ||
		    strncmp(ans, "{\"ok\":true", 10) != 0 ||
		    (p = strstr(ans, "\"id\":")) == NULL)
			errx(1, "answer %d: %.*s", i, (int)len, ans);
		id[i] = strtoll(p + 5, NULL, 10);
	}
}

static sqlite3_int64
db_int(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *s;
	sqlite3_int64 v;

	if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		errx(1, "%s: %s", sql, sqlite3_errmsg(h));
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Poll until no job is left to run; when that was first seen. */
static double
wait_ended(const char *dir, double t0)
{
	static const char q[] = "SELECT EXISTS (SELECT 1 FROM jobs WHERE "
	    "state IN ('queued', 'running', 'waiting', 'scheduled'))";
	char path[300];
	sqlite3 *h;
	double t;

	snprintf(path, sizeof(path), "%s/jobd.db", dir);
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		errx(1, "%s: %s", path, sqlite3_errmsg(h));
	sqlite3_busy_timeout(h, 5000);
	while (db_int(h, q) != 0) {
		if (bench_now() - t0 > END_TIMEOUT)
			errx(1, "jobs not ended after %.0f s", END_TIMEOUT);
		usleep(500);
	}
	t = bench_now();
	if (db_int(h, "SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'") != B.n)
		errx(1, "not every job succeeded");
	sqlite3_close(h);
	return t;
}

static struct run
one_round(int dag)
{
	char dir[] = "/tmp/bench_dag.XXXXXX", sock[300], cmd[300];
	struct jc_conn *c;
	struct run r;
	long long *id;
	double t0, cpu0;
	pid_t pid;
	int a, b, width;

	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	if ((id = calloc((size_t)B.n, sizeof(*id))) == NULL)
		err(1, "calloc");
	pid = start(dir);
	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	if (jc_open(sock, &c) < 0)
		errx(1, "connect");
	cpu0 = cpu_of(pid);
	t0 = bench_now();
	if (!B.overlap)
		call(c, "{\"op\":\"pause\",\"queue\":\"default\"}");
	for (a = 0, width = B.fanout; a < B.n; a = b, width *= B.fanout) {
		b = a + width < B.n ? a + width : B.n;
		submit_level(c, dag, id, a, b);
	}
	r.submit = bench_now() - t0;
	if (!B.overlap)
		call(c, "{\"op\":\"resume\",\"queue\":\"default\"}");
	r.wall = wait_ended(dir, t0) - t0;
	r.cpu = cpu_of(pid) - cpu0;
	jc_close(c);
	bench_jobd_stop(pid);
	free(id);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		warnx("cannot remove %s", dir);
	return r;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_dag [-o] [-n jobs] [-f fanout] "
	    "[-r rounds] [-w workers] [-s sync] [JOBD]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	double wall[NSCEN][ROUNDS_MAX], sub[NSCEN][ROUNDS_MAX];
	double cpu[NSCEN][ROUNDS_MAX], mw[NSCEN], mc[NSCEN], edges;
	struct run r;
	int rounds = 3, ch;

	while ((ch = getopt(argc, argv, "of:n:r:s:w:")) != -1)
		switch (ch) {
		case 'o': B.overlap = 1; break;
		case 'f': B.fanout = atoi(optarg); break;
		case 'n': B.n = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 's': B.sync = optarg; break;
		case 'w': B.workers = atoi(optarg); break;
		default: usage();
		}
	if (optind < argc)
		B.jobd = argv[optind];
	if (B.n < 2 || B.fanout < 1 || B.fanout >= B.n || B.workers < 1 ||
	    rounds < 1 || rounds > ROUNDS_MAX)
		errx(2, "-n >= 2, -f 1..n-1, -w >= 1, -r 1..%d", ROUNDS_MAX);
	edges = B.n - B.fanout;
	printf("%d sleep-0 jobs, fan-out %d, %.0f edges, %d workers, "
	    "sync = %s, %s, %d rounds\n", B.n, B.fanout, edges, B.workers,
	    B.sync, B.overlap ? "queue running" : "queue paused while "
	    "submitting", rounds);
	for (int i = 0; i < rounds; i++)
		for (int s = 0; s < NSCEN; s++) {
			/* alternate which goes first: a warm page cache or
			 * a busy neighbour then favours neither */
			int k = (i & 1) ? NSCEN - 1 - s : s;

			r = one_round(k == DAG);
			wall[k][i] = r.wall;
			sub[k][i] = r.submit;
			cpu[k][i] = r.cpu;
		}
	for (int s = 0; s < NSCEN; s++) {
		mw[s] = bench_median(wall[s], (size_t)rounds);
		mc[s] = bench_median(cpu[s], (size_t)rounds);
		printf("%-12s %7.3f s (submits %6.3f s)  %8.0f jobs/s  "
		    "jobd CPU %5.1f us/job\n", scen_name[s], mw[s],
		    bench_median(sub[s], (size_t)rounds), B.n / mw[s],
		    1e6 * mc[s] / B.n);
	}
	printf("dag / independent: %.2fx (goal <= 2x: %s)\n",
	    mw[DAG] / mw[BASE], mw[DAG] <= 2 * mw[BASE] ? "PASS" : "MISS");
	printf("cost per edge: %.1f us wall, %.1f us jobd CPU\n",
	    1e6 * (mw[DAG] - mw[BASE]) / edges,
	    1e6 * (mc[DAG] - mc[BASE]) / edges);
	return 0;
}
