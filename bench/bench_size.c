/*
 * bench_size.c — does jobd cost the same with 10 rows or 10 million?
 *
 *   bench_size [-n jobs] [-k gets] [-d dir] [SIZE...] [-j JOBD]
 *
 * For each SIZE (default 0 and 1000000) the bench makes a database of
 * SIZE ended jobs (90 % succeeded, 10 % failed, two queues; written with
 * SQLite directly into a file jobd created, so the schema is jobd's), then
 * starts JOBD (default ./build/jobd) on it and measures, each with the
 * same work whatever the size:
 *   start-up   exec until the first ping is answered (recovery included);
 *   jobs/s     N (20,000) `sleep 0` jobs pipelined on one connection,
 *              until stats shows none live (sync = normal, 16 workers);
 *   get        K (2,000) gets of random ended ids: median and p99;
 *   list       default (100 newest) and filtered (state failed, queue q2);
 *   stats      median and p99 of K.
 * and prints one row per size, so the figures can be compared in one run
 * (docs/BENCH.md, "Cost with size").  jobd is stopped with SIGTERM.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <sqlite3.h>

#include "bench_util.h"
#include "jc.h"

#define TIMEOUT 60.0

static const char *jobd_path = "./build/jobd";
static char dir[256];
static bool nosync;             /* -S: skip the fsync after a fill */

static struct jc_conn *
ready(double *took)
{
	char sock[512];

	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	return bench_jobd_ready(sock, TIMEOUT, took);
}

static pid_t
start_jobd(void)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "%s/jobd.conf", dir);
	return bench_jobd_exec(jobd_path, conf);
}

/* One request, its answer (borrowed); fails on an error answer. */
static const char *
call(struct jc_conn *c, const char *req)
{
	char *line;
	size_t len;

	if (jc_send(c, req, strlen(req), TIMEOUT) < 0 ||
	    jc_recv(c, TIMEOUT, &line, &len) < 0)
		errx(1, "no answer to %s", req);
	if (strncmp(line, "{\"ok\":true", 10) != 0)
		errx(1, "%s -> %.200s", req, line);
	return line;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and p99 in ms of k runs of req (formatted with a random id). */
static void
latency(struct jc_conn *c, const char *fmt, long maxid, int k, double *med,
    double *p99)
{
	double *t = calloc((size_t)k, sizeof(*t)), t0;
	char req[256];

	for (int i = 0; i < k; i++) {
		snprintf(req, sizeof(req), fmt, maxid > 0 ? 1 + random() %
		    maxid : 1);
		t0 = bench_now();
		call(c, req);
		t[i] = (bench_now() - t0) * 1e3;
	}
	qsort(t, (size_t)k, sizeof(*t), dcmp);
	*med = t[k / 2];
	*p99 = t[k * 99 / 100];
	free(t);
}

/* CPU seconds (user + system) of jobd's threads named comm (NULL: all
 * of them), from /proc/PID/task/TID/stat. */
static double
cpu_of(pid_t pid, const char *comm)
{
	char path[384], buf[1024], *p;
	unsigned long ut, st;
	double sum = 0;
	struct dirent *d;
	DIR *dp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dp = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid,
		    d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    (comm == NULL || (strstr(buf, comm) != NULL &&
		    strstr(buf, comm) < p)) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%lu %lu", &ut, &st) == 2)
			sum += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		fclose(f);
	}
	closedir(dp);
	return sum;
}

/* N sleep-0 jobs pipelined, until none is live: jobs/s. */
static double
throughput(struct jc_conn *c, int n)
{
	static const char req[] = "{\"op\":\"submit\",\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":0}}";
	double t0 = bench_now();
	char *line;
	size_t len;
	int sent = 0, got = 0;

	while (got < n) {
		while (sent < n && sent - got < 2000) {
			if (jc_send(c, req, sizeof(req) - 1, TIMEOUT) < 0)
				errx(1, "send");
			sent++;
		}
		if (jc_recv(c, TIMEOUT, &line, &len) < 0)
			errx(1, "recv");
		got++;
	}
	while (strstr(call(c, "{\"op\":\"stats\"}"), "\"live\":0}") ==
	    NULL)
		usleep(1000);
	return n / (bench_now() - t0);
}

/* The database: jobd makes the schema, SQLite the rows. */
static void
make_db(long size)
{
	char path[512], sql[1024];
	double took;
	sqlite3 *db;
	pid_t pid;
	int fd;

	pid = start_jobd();
	jc_close(ready(&took));
	bench_jobd_stop(pid);
	if (size == 0)
		return;
	snprintf(path, sizeof(path), "%s/jobd.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		errx(1, "%s", path);
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = OFF; BEGIN; "
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < %ld) INSERT INTO jobs (queue, kind, state, args, "
	    "attempts, created_at, started_at, finished_at, result, error) "
	    "SELECT CASE WHEN i %% 2 THEN 'default' ELSE 'q2' END, 'sleep', "
	    "CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'succeeded' END, "
	    "'{\"seconds\":0}', 1, 1.7e9 + i * 0.001, 1.7e9 + i * 0.001, "
	    "1.7e9 + i * 0.001, '{\"slept\":0}', CASE WHEN i %% 10 = 0 THEN "
	    "'boom' END FROM n; COMMIT", size);
	bench_sql(db, sql);
	sqlite3_close(db);
	/* The fill's pages on disk before jobd starts: else its first
	 * checkpoint's fsync waits for the writeback of the whole file
	 * (hundreds of MB), and the bench measured the fill, not jobd. */
	if (!nosync && (fd = open(path, O_RDWR)) >= 0) {
		if (fsync(fd) < 0)
			warn("fsync %s", path);
		close(fd);
	}
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
	    "sync = normal\nlog_level = warning\nretain_succeeded = 0\n"
	    "retain_failed = 0\n[queue.default]\nworkers = 16\n"
	    "capacity = 100000\n[queue.q2]\n", dir, dir);
	fclose(f);
}

static void
one_size(long size, int n, int k)
{
	double up, rate, gm, g99, lm, l99, fm, f99, sm, s99, w0, a0;
	struct jc_conn *c;
	char cmd[600];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "rm -f %s/jobd.db*", dir);
	if (system(cmd) != 0)
		errx(1, "%s", cmd);
	write_conf();
	make_db(size);
	pid = start_jobd();
	c = ready(&up);
	w0 = cpu_of(pid, "(store_writer");
	a0 = cpu_of(pid, NULL);
	rate = throughput(c, n);
	w0 = (cpu_of(pid, "(store_writer") - w0) * 1e6 / n;
	a0 = (cpu_of(pid, NULL) - a0) * 1e6 / n;
	latency(c, "{\"op\":\"get\",\"id\":%ld}", size, k, &gm, &g99);
	latency(c, "{\"op\":\"list\"}", 0, k / 10, &lm, &l99);
	latency(c, "{\"op\":\"list\",\"state\":\"failed\",\"queue\":\"q2\"}",
	    0, k / 10, &fm, &f99);
	latency(c, "{\"op\":\"stats\"}", 0, k, &sm, &s99);
	jc_close(c);
	bench_jobd_stop(pid);
	printf("%10ld  %8.3f  %8.0f  %5.1f/%5.1f  %5.3f/%5.3f  %5.2f/%5.2f  "
	    "%5.2f/%5.2f  %5.3f/%5.3f\n", size, up, rate, w0, a0, gm, g99, lm,
	    l99, fm, f99, sm, s99);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	long sizes[8] = { 0, 1000000 };
	int c, n = 20000, k = 2000, nsizes = 2, given = 0;
	const char *base = "/tmp";
	char cmd[600];

	while ((c = getopt(argc, argv, "n:k:d:j:S")) != -1)
		switch (c) {
		case 'S': nosync = true; break;
		case 'n': n = atoi(optarg); break;
		case 'k': k = atoi(optarg); break;
		case 'd': base = optarg; break;
		case 'j': jobd_path = optarg; break;
		default:
			fprintf(stderr, "usage: bench_size [-S] [-n jobs] "
			    "[-k gets] [-d dir] [-j jobd] [SIZE...]\n");
			return 2;
		}
	for (; optind < argc && given < 8; optind++)
		sizes[given++] = atol(argv[optind]);
	if (given > 0)
		nsizes = given;
	if (n < 1 || k < 10)
		errx(2, "-n >= 1, -k >= 10");
	snprintf(dir, sizeof(dir), "%s/bench_size.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	srandom(1);
	printf("%10s  %8s  %8s  %11s  %11s  %11s  %11s  %11s\n",
	    "ended rows", "start s", "jobs/s", "cpu us/job", "get ms",
	    "list ms", "filtered", "stats ms");
	printf("%10s  %8s  %8s  %11s  %11s  %11s  %11s  %11s\n", "", "", "",
	    "writer/all", "med/p99", "med/p99", "med/p99", "med/p99");
	for (int i = 0; i < nsizes; i++)
		one_size(sizes[i], n, k);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		warnx("could not remove %s", dir);
	return 0;
}
