/*
 * bench_multi.c — several jobd daemons on one PostgreSQL database.
 *
 *   bench_multi [-n jobs] [-d daemons] [-w workers] [-j jobd] CONNINFO
 *      e.g. bench_multi -n 60000 -d 3 "host=/tmp/pg dbname=b user=jobd"
 *
 * Empties the database (DROP SCHEMA public CASCADE), starts D daemons
 * (default 1) on it, each with its own socket and config (sync = full,
 * queue default with W workers, capacity N), and then:
 *  1. throughput: N `sleep 0` jobs pipelined, N/D on one connection to
 *     each daemon at once; timed from the first byte until the database
 *     holds no job queued or running (jobs/s), and how they spread;
 *  2. latency at a light load: 2,000 jobs submitted 1 ms apart, spread
 *     over the daemons; from each row, started_at - created_at (the time
 *     from the submit's insert to the start: what a claim costs), p50 and
 *     p99.
 * The daemons are stopped with SIGTERM and must exit 0.  docs/BENCH.md.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAXD 8

static const char *conninfo, *jobd = "./build/jobd";
static char dir[64];
static pid_t pids[MAXD];
static int nd = 1;
static long njobs = 60000, workers = 16;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
pg_num(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	double v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		errx(1, "%s: %s", sql, PQerrorMessage(c));
	v = PQgetisnull(r, 0, 0) ? -1 : strtod(PQgetvalue(r, 0, 0), NULL);
	PQclear(r);
	return v;
}

static void
pg_run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		errx(1, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static int
sock_connect(int i)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/jobd%d.sock", dir, i);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void
start(int i)
{
	char conf[128], errp[128];
	double end = now() + 30;
	FILE *f;
	int fd;

	snprintf(conf, sizeof(conf), "%s/jobd%d.conf", dir, i);
	snprintf(errp, sizeof(errp), "%s/jobd%d.err", dir, i);
	if ((f = fopen(conf, "w")) == NULL)
		err(1, "%s", conf);
	fprintf(f, "[daemon]\nsocket = %s/jobd%d.sock\nstore = postgresql\n"
	    "database = %s\nsync = full\nlog_level = warning\n"
	    "[queue.default]\nworkers = %ld\ncapacity = %ld\ntimeout = 0\n",
	    dir, i, conninfo, workers, njobs + 10000);
	fclose(f);
	if ((pids[i] = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0)
			dup2(fd, 2);
		execl(jobd, "jobd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	while ((fd = sock_connect(i)) < 0) {
		if (now() > end || waitpid(pids[i], NULL, WNOHANG) != 0)
			errx(1, "jobd %d did not start (%s)", i, errp);
		usleep(20000);
	}
	close(fd);
}

static void
stop_all(void)
{
	int st;

	for (int i = 0; i < nd; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < nd; i++)
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			errx(1, "jobd %d: exit status %#x", i, st);
}

/* Send n submits on each of the fds at once, every answer read. */
static void
pump(int *fd, long n)
{
	static const char line[] = "{\"op\":\"submit\",\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":0}}\n";
	size_t len = sizeof(line) - 1, total = len * (size_t)n;
	char *buf = malloc(total), rbuf[65536];
	size_t off[MAXD] = { 0 };
	long got[MAXD] = { 0 };
	struct pollfd p[MAXD];
	int live = nd;
	ssize_t k;

	if (buf == NULL)
		err(1, "malloc");
	for (long i = 0; i < n; i++)
		memcpy(buf + (size_t)i * len, line, len);
	for (int i = 0; i < nd; i++)
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	while (live > 0) {
		for (int i = 0; i < nd; i++) {
			p[i].fd = got[i] < n ? fd[i] : -1;
			p[i].events = POLLIN | (off[i] < total ? POLLOUT : 0);
		}
		if (poll(p, (nfds_t)nd, 30000) <= 0)
			errx(1, "no progress");
		for (int i = 0; i < nd; i++) {
			if (p[i].revents & POLLOUT && (k = write(fd[i], buf +
			    off[i], total - off[i])) > 0)
				off[i] += (size_t)k;
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if ((k = read(fd[i], rbuf, sizeof(rbuf))) <= 0)
				errx(1, "jobd %d closed", i);
			for (ssize_t t = 0; t < k; t++)
				if (rbuf[t] == '\n' && ++got[i] == n)
					live--;
			if (memmem(rbuf, (size_t)k, "\"ok\":false", 10) != NULL)
				errx(1, "jobd %d refused a submit", i);
		}
	}
	free(buf);
}

static void
wait_idle(PGconn *c)
{
	while (pg_num(c, "SELECT count(*) FROM jobs WHERE state IN "
	    "('queued', 'running')") > 0)
		usleep(2000);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_multi [-n jobs] [-d daemons] "
	    "[-w workers] [-j jobd] CONNINFO\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int fd[MAXD], c;
	double t0, t;
	char sql[256];
	PGconn *pg;

	while ((c = getopt(argc, argv, "n:d:w:j:")) != -1) {
		switch (c) {
		case 'n': njobs = atol(optarg); break;
		case 'd': nd = atoi(optarg); break;
		case 'w': workers = atol(optarg); break;
		case 'j': jobd = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || nd < 1 || nd > MAXD || njobs < nd)
		usage();
	conninfo = argv[optind];
	snprintf(dir, sizeof(dir), "/tmp/bench_multi.XXXXXX");
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	if (PQstatus(pg = PQconnectdb(conninfo)) != CONNECTION_OK)
		errx(1, "%s: %s", conninfo, PQerrorMessage(pg));
	pg_run(pg, "DROP SCHEMA public CASCADE");
	pg_run(pg, "CREATE SCHEMA public");
	for (int i = 0; i < nd; i++)
		start(i);
	for (int i = 0; i < nd; i++)
		if ((fd[i] = sock_connect(i)) < 0)
			err(1, "connect");

	t0 = now();
	pump(fd, njobs / nd);
	wait_idle(pg);
	t = now() - t0;
	printf("%d daemon(s), %ld no-op jobs: %.2f s, %.0f jobs/s\n", nd,
	    njobs / nd * nd, t, (double)(njobs / nd * nd) / t);
	/* A jobd without nodes (a baseline from before them) ran them all. */
	for (int i = 0; pg_num(pg, "SELECT count(*) FROM pg_tables WHERE "
	    "tablename = 'nodes'") > 0 && i < nd; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE "
		    "node = (SELECT min(id) + %d FROM nodes)", i);
		printf("  daemon %d ran %.0f\n", i, pg_num(pg, sql));
	}

	pg_run(pg, "DELETE FROM job_attempts");
	pg_run(pg, "DELETE FROM jobs");
	for (int k = 0; k < 2000; k++) {
		static const char one[] = "{\"op\":\"submit\",\"kind\":"
		    "\"sleep\",\"args\":{\"seconds\":0}}\n";

		if (write(fd[k % nd], one, sizeof(one) - 1) < 0)
			err(1, "write");
		usleep(1000);
	}
	wait_idle(pg);
	printf("  light load, insert to start: p50 %.2f ms, p99 %.2f ms\n",
	    1e3 * pg_num(pg, "SELECT percentile_cont(0.5) WITHIN GROUP "
	    "(ORDER BY started_at - created_at) FROM jobs"),
	    1e3 * pg_num(pg, "SELECT percentile_cont(0.99) WITHIN GROUP "
	    "(ORDER BY started_at - created_at) FROM jobs"));
	for (int i = 0; i < nd; i++)
		close(fd[i]);
	stop_all();
	PQfinish(pg);
	return 0;
}
