/*
 * bench_prune.c — what pruning a million jobs costs: one batch's
 * transaction, and the submits that come in meanwhile.
 *
 *   bench_prune [-n rows] [-b batch] [-r rate] [-s seconds] [-d dir]
 *               [-j jobd]
 *
 * Both parts start from N (1,000,000) ended `sleep 0` jobs, each with its
 * job_attempts row, finished long ago, written with SQLite straight into a
 * file that jobd's store created (and fsynced before the measuring).
 *  1. The store alone (store.h, sync = normal): store_prune of B (250)
 *     jobs (jobd's PRUNE_BATCH) then store_flush, again and again until none is
 *     left: the time of each batch (its transaction, incremental vacuum
 *     included, plus the hand-over to the writer thread: microseconds).
 *  2. jobd (sync = normal, 16 workers): `sleep 0` submits at R per second
 *     (10,000) on one connection, paced by a thread (each submit sent
 *     at its time or at once if late, never early); answers read by
 *     another; each submit's latency is answer − send.  First S seconds
 *     with retention off (the baseline), then jobd restarted with
 *     retain_succeeded = 1s, prune_interval = 1, the same load until the
 *     last of the N rows is gone.  Prints median, p99 and max of each
 *     phase, how long the pruning took and the rate the load really had.
 * (docs/BENCH.md, "Pruning".)
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "bench_util.h"
#include "store.h"

static const char *jobd_path = "./build/jobd";
static char dir[64], dbpath[128];
static long nrows = 1000000;
static size_t batch = 250;      /* daemon/prune.c's PRUNE_BATCH */

static void
report(const char *what, double *v, size_t n)
{
	if (n == 0) {
		printf("%s: none\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), bench_cmp_double);
	printf("%s: %zu, median %.3f ms, p99 %.3f ms, max %.3f ms\n", what, n,
	    bench_percentile(v, n, 0.5) * 1e3,
	    bench_percentile(v, n, 0.99) * 1e3, v[n - 1] * 1e3);
}

/* A fresh database: the store's schema, then N ended jobs with their
 * attempts, on disk. */
static void
make_db(void)
{
	struct store_opts o = { .path = dbpath };
	char q[2000];
	struct store *st;
	sqlite3 *db;
	int fd;

	snprintf(q, sizeof(q), "rm -f %s %s-wal %s-shm", dbpath, dbpath,
	    dbpath);
	if (system(q) != 0)
		errx(1, "%s", q);
	if (store_open(&st, NULL, &o) < 0)
		errx(1, "%s", store_errmsg());
	store_close(st);
	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		errx(1, "%s", dbpath);
	snprintf(q, sizeof(q), "PRAGMA synchronous = OFF; BEGIN; "
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < %ld) INSERT INTO jobs (id, queue, kind, state, args, "
	    "attempts, created_at, started_at, finished_at, result) "
	    "SELECT i, 'default', 'sleep', 'succeeded', '{\"seconds\":0}', 1, "
	    "1.7e9 + i * 0.001, 1.7e9 + i * 0.001, 1.7e9 + i * 0.001, "
	    "'{\"slept\":0}' FROM n; INSERT INTO job_attempts (job_id, "
	    "attempt, started_at, finished_at, state, result) SELECT id, 1, "
	    "started_at, finished_at, 'succeeded', result FROM jobs; COMMIT",
	    nrows);
	bench_sql(db, q);
	sqlite3_close(db);
	if ((fd = open(dbpath, O_RDWR)) < 0 || fsync(fd) < 0)
		err(1, "fsync %s", dbpath);
	close(fd);
}

static void
on_pruned(void *arg, int status)
{
	if (status < 0)
		errx(1, "prune: %s", store_errmsg());
	(void)arg;
}

/* Part 1: batches of 1,000 through the store until none is left. */
static void
store_part(void)
{
	struct store_opts o = { .path = dbpath, .sync = STORE_SYNC_NORMAL };
	struct store_prune p = { .before = 1.8e9, .limit = batch };
	struct event_base *base = event_base_new();
	double *t = calloc((size_t)nrows / batch + 2, sizeof(*t)), t0, all;
	char what[64];
	size_t n = 0, deleted;
	struct store *st;

	if (store_open(&st, base, &o) < 0)
		errx(1, "%s", store_errmsg());
	all = bench_now();
	do {
		t0 = bench_now();
		if (store_prune(st, &p, &deleted, on_pruned, NULL) < 0)
			errx(1, "%s", store_errmsg());
		store_flush(st);
		t[n++] = bench_now() - t0;
	} while (deleted == p.limit && n < (size_t)nrows / batch + 2);
	all = bench_now() - all;
	store_close(st);
	event_base_free(base);
	printf("store: %ld jobs pruned in %.2f s (%.0f jobs/s)\n", nrows, all,
	    nrows / all);
	snprintf(what, sizeof(what), "store: one batch of %zu", batch);
	report(what, t, n);
	free(t);
}

/* ---- part 2: jobd under a submit load ----------------------------------- */

struct load {
	int fd;
	double rate;
	volatile bool stop;
	double *sent;           /* send time of submit i */
	size_t cap, nsent;
};

static void *
sender(void *arg)
{
	static const char req[] = "{\"op\":\"submit\",\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":0}}\n";
	struct load *l = arg;
	double t0 = bench_now(), due, wait;
	struct timespec ts;

	while (!l->stop && l->nsent < l->cap) {
		due = t0 + (double)l->nsent / l->rate;
		if ((wait = due - bench_now()) > 0) {   /* no spinning: 2 cores */
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		l->sent[l->nsent] = bench_now();
		if (write(l->fd, req, sizeof(req) - 1) != sizeof(req) - 1)
			err(1, "write");
		__atomic_add_fetch(&l->nsent, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static pid_t
start_jobd(bool prune)
{
	char conf[600];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/jobd.conf", dir);
	if ((f = fopen(conf, "w")) == NULL)
		err(1, "%s", conf);
	fprintf(f, "[daemon]\nsocket = %s/jobd.sock\ndatabase = %s\n"
	    "sync = normal\nlog_level = warning\nretain_succeeded = %s\n"
	    "retain_failed = 0\nprune_interval = 1\n[queue.default]\n"
	    "workers = 16\ncapacity = 1000000\n", dir, dbpath,
	    prune ? "1s" : "0");
	fclose(f);
	return bench_jobd_exec(jobd_path, conf);
}

static int
connect_jobd(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double t0 = bench_now();
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/jobd.sock", dir);
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
			err(1, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (bench_now() - t0 > 30)
			errx(1, "jobd did not start");
		usleep(10000);
	}
}

/* Are the N fixture rows gone?  (min(id): the primary key's first row.) */
static bool
pruned(sqlite3 *db)
{
	sqlite3_stmt *s;
	bool gone = false;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(min(id), 1e18) FROM jobs",
	    -1, &s, NULL) != SQLITE_OK)
		errx(1, "%s", sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW)
		gone = sqlite3_column_double(s, 0) > (double)nrows;
	sqlite3_finalize(s);
	return gone;
}

/* One phase: submits at rate until secs pass (prune false) or the rows
 * are gone; the latencies reported as what. */
static void
jobd_phase(bool prune, double rate, double secs, const char *what)
{
	struct load l = { .rate = rate, .cap = (size_t)(rate * 600) };
	double *lat, t0, took;
	size_t got = 0, nl = 0;
	char buf[65536];
	pthread_t th;
	sqlite3 *db;
	ssize_t r;
	pid_t pid;

	pid = start_jobd(prune);
	l.fd = connect_jobd();
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		errx(1, "%s", dbpath);
	l.sent = calloc(l.cap, sizeof(*l.sent));
	lat = calloc(l.cap, sizeof(*lat));
	t0 = bench_now();
	pthread_create(&th, NULL, sender, &l);
	while (!l.stop || got < __atomic_load_n(&l.nsent, __ATOMIC_ACQUIRE)) {
		if ((r = read(l.fd, buf, sizeof(buf))) <= 0)
			errx(1, "jobd closed");
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] == '\n')
				lat[nl++] = bench_now() - l.sent[got++];
		if (!l.stop && (prune ? (got % 1000 == 0 && pruned(db)) :
		    bench_now() - t0 > secs))
			l.stop = true;
		if (!l.stop && bench_now() - t0 > 600)
			errx(1, "pruning took more than 10 minutes");
	}
	took = bench_now() - t0;
	pthread_join(th, NULL);
	sqlite3_close(db);
	close(l.fd);
	bench_jobd_stop(pid);
	printf("%s: %.1f s, %zu submits (%.0f/s)\n", what, took, got,
	    got / took);
	report(what, lat, nl);
	free(l.sent);
	free(lat);
}

int
main(int argc, char **argv)
{
	double rate = 10000, secs = 10;
	const char *base = "/tmp";
	char cmd[600];
	int c;

	while ((c = getopt(argc, argv, "n:b:r:s:d:j:")) != -1)
		switch (c) {
		case 'b': batch = (size_t)atol(optarg); break;
		case 'n': nrows = atol(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 's': secs = atof(optarg); break;
		case 'd': base = optarg; break;
		case 'j': jobd_path = optarg; break;
		default:
			fprintf(stderr, "usage: bench_prune [-n rows] [-b batch] "
			    "[-r rate] [-s seconds] [-d dir] [-j jobd]\n");
			return 2;
		}
	if (nrows < 1000 || rate <= 0 || secs <= 0 || batch < 1 ||
	    batch > STORE_PRUNE_MAX)
		errx(2, "-n >= 1000, -r and -s > 0, -b 1 to %d",
		    STORE_PRUNE_MAX);
	if (strlen(base) > 40)
		errx(2, "-d: a directory name of at most 40 bytes");
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "%s/bench_prune.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	snprintf(dbpath, sizeof(dbpath), "%s/jobd.db", dir);
	make_db();
	store_part();
	make_db();
	jobd_phase(false, rate, secs, "submit, no pruning");
	jobd_phase(true, rate, secs, "submit while pruning");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		warnx("could not remove %s", dir);
	return 0;
}
