/*
 * bench_obs.c — what observability costs.
 *
 *   bench_obs [-r rounds] [-n jobs] [-S sync] [-w] [JOBD]
 *
 * In the same run, rounds interleaving three set-ups (each round runs all
 * three, in an order that rotates from round to round, so that load on a
 * shared machine and any drift hit each alike), N (100,000) `sleep 0` jobs
 * pipelined on one connection, as bench_jobd's scenario 1, with:
 *   off       no http_listen (no counters kept), no watcher;
 *   metrics   http_listen on (counters and histograms kept), no watcher;
 *   watchers  http_listen on and 10 `watch` connections, each read by a
 *             thread as fast as it can (every event is made and sent).
 * Each round gives its own ratios metrics/off and watchers/off (the three
 * ran within seconds of each other); the verdict is the median of those
 * ratios over the rounds (goals: >= 98 % and >= 95 %), with their range,
 * which a noisy box moves far less than the medians of the rates.  Also,
 * per set-up, jobd's CPU per job: utime + stime of /proc/PID/stat (the
 * whole process: loop, store writer, everything) and the loop thread's
 * own (/proc/PID/task/PID/schedstat, ns), from just before the first
 * submit to the last job's end — CPU, unlike time, a busy machine does
 * not inflate much.  Then /metrics with 100 queues that each ran a job:
 * the median and p99 response time of 200 GETs (goal: <= 2 ms).
 *
 * Timed from the first byte sent until `stats` says every job ended.
 * -w runs only the watchers set-up, once per round (to profile it:
 * `perf record -g -- bench_obs -w -r 1`).
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define WATCHERS 10
#define QUEUES   100
#define GETS     200
#define MAXR     31

static char dir[64], sock[96], conf[128], db[128];
static const char *jobd = "./build/jobd";
static const char *sync_mode = "full";
static pid_t pid;
static int port;

/* ---- jobd ------------------------------------------------------------------ */

static int
unix_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
start(bool http, int queues)
{
	char log[160], buf[4096];
	FILE *f;
	int fd, i;

	snprintf(db, sizeof(db), "%s/j.db", dir);
	unlink(db);
	snprintf(buf, sizeof(buf), "%s-wal", db);
	unlink(buf);
	if ((f = fopen(conf, "w")) == NULL)
		err(1, "%s", conf);
	fprintf(f, "[daemon]\nsocket = %s\ndatabase = %s\nsync = %s\n"
	    "max_line = 64M\nshutdown_grace = 5\nhttp_listen = %s\n"
	    "[queue.default]\nworkers = 16\ncapacity = 1000000\n", sock, db,
	    sync_mode, http ? "127.0.0.1:0" : "");
	for (i = 1; i < queues; i++)
		fprintf(f, "[queue.q%d]\n", i);
	fclose(f);
	snprintf(log, sizeof(log), "%s/jobd.err", dir);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen(log, "w", stderr) == NULL)
			_exit(127);
		execl(jobd, jobd, "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 2000 && (fd = unix_connect()) < 0; i++)
		usleep(5000);
	if (fd < 0)
		errx(1, "jobd did not start (see %s)", log);
	close(fd);
	/* The listener's line may come just after the socket's. */
	for (port = 0, i = 0; http && port == 0 && i < 2000; i++) {
		if ((f = fopen(log, "r")) == NULL)
			err(1, "%s", log);
		while (fgets(buf, sizeof(buf), f) != NULL) {
			char *p = strstr(buf, "http://127.0.0.1:");

			if (p != NULL)
				port = atoi(p + strlen("http://127.0.0.1:"));
		}
		fclose(f);
		if (port == 0)
			usleep(5000);
	}
	if (http && port == 0)
		errx(1, "no http port in %s", log);
}

static void
stop(void)
{
	int st;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		errx(1, "jobd did not exit 0");
}

/* ---- jobd's CPU ---------------------------------------------------------------- */

struct cpu {
	double proc;            /* utime + stime of the whole process, s */
	double loop;            /* the loop (main) thread's time on CPU, s */
};

static struct cpu
jobd_cpu(void)
{
	struct cpu c = { 0, 0 };
	char path[64], buf[1024], *p;
	unsigned long long ut, st, ns;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		/* After "(comm)": state is field 3, utime 14, stime 15. */
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %llu %llu", &ut, &st) == 2)
			c.proc = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%llu", &ns) == 1)
			c.loop = (double)ns / 1e9;
		fclose(f);
	}
	return c;
}

/* ---- the no-op round --------------------------------------------------------- */

struct sender {
	int fd;
	size_t n;
};

static void *
sender_main(void *arg)
{
	static const char line[] =
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0}}\n";
	struct sender *s = arg;
	size_t per = 1000, i, k;
	char *buf = malloc(per * (sizeof(line) - 1));

	for (k = 0; k < per; k++)
		memcpy(buf + k * (sizeof(line) - 1), line, sizeof(line) - 1);
	for (i = 0; i < s->n; i += per) {
		size_t len = (s->n - i < per ? s->n - i : per) *
		    (sizeof(line) - 1), off = 0;

		while (off < len) {
			ssize_t w = write(s->fd, buf + off, len - off);

			if (w < 0)
				err(1, "write");
			off += (size_t)w;
		}
	}
	free(buf);
	return NULL;
}

/* Read and count lines on fd until n have come. */
static void
read_lines(int fd, size_t n)
{
	char buf[1 << 16];
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = read(fd, buf, sizeof(buf))) <= 0)
			errx(1, "jobd closed the connection");
		for (ssize_t i = 0; i < r; i++)
			got += buf[i] == '\n';
	}
}

/* One request, one answer line, into buf. */
static void
request(int fd, const char *req, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		err(1, "write");
	while (got == 0 || buf[got - 1] != '\n') {
		if ((r = read(fd, buf + got, len - got - 1)) <= 0)
			errx(1, "no answer to %s", req);
		got += (size_t)r;
	}
	buf[got] = '\0';
}

static long
stat_num(const char *ans, const char *key)
{
	const char *p = strstr(ans, key);

	return p != NULL ? atol(p + strlen(key)) : -1;
}

static atomic_bool watching;

static void *
watcher_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[1 << 16];

	while (atomic_load(&watching)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) > 0 && read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
	return NULL;
}

struct result {
	double rate;            /* jobs/s */
	double proc_us, loop_us; /* jobd's CPU per job, us */
};

static struct result
noop_round(size_t n, bool http, int watchers)
{
	struct cpu c0, c1;
	struct result res;
	pthread_t wt[WATCHERS], st;
	int wfd[WATCHERS], fd, sfd, i;
	struct sender s;
	char ans[8192];
	double t0, t;

	start(http, 1);
	atomic_store(&watching, true);
	for (i = 0; i < watchers; i++) {
		wfd[i] = unix_connect();
		request(wfd[i], "{\"op\":\"watch\"}\n", ans, sizeof(ans));
		pthread_create(&wt[i], NULL, watcher_main,
		    (void *)(intptr_t)wfd[i]);
	}
	fd = unix_connect();
	sfd = unix_connect();
	s = (struct sender){ .fd = fd, .n = n };
	c0 = jobd_cpu();
	t0 = bench_now();
	pthread_create(&st, NULL, sender_main, &s);
	read_lines(fd, n);
	pthread_join(st, NULL);
	for (;;) {
		request(sfd, "{\"op\":\"stats\"}\n", ans, sizeof(ans));
		if (stat_num(ans, "\"succeeded\":") >= (long)n)
			break;
		usleep(2000);
	}
	t = bench_now() - t0;
	c1 = jobd_cpu();
	atomic_store(&watching, false);
	for (i = 0; i < watchers; i++) {
		pthread_join(wt[i], NULL);
		close(wfd[i]);
	}
	close(fd);
	close(sfd);
	stop();
	res.rate = (double)n / t;
	res.proc_us = (c1.proc - c0.proc) * 1e6 / (double)n;
	res.loop_us = (c1.loop - c0.loop) * 1e6 / (double)n;
	return res;
}

/* ---- /metrics ------------------------------------------------------------------ */

static double
http_get_metrics(size_t *bytes)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port) };
	char buf[1 << 16];
	double t0;
	ssize_t r;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*bytes = 0;
	t0 = bench_now();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err(1, "connect");
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		err(1, "write");
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		*bytes += (size_t)r;
	close(fd);
	return bench_now() - t0;
}

static void
metrics_bench(void)
{
	double v[GETS];
	char req[256], ans[1 << 16];
	size_t bytes = 0;
	int fd, i;

	start(true, QUEUES);
	fd = unix_connect();
	for (i = 0; i < QUEUES; i++) {
		if (i == 0)
			snprintf(req, sizeof(req), "{\"op\":\"submit\",\"kind\":"
			    "\"sleep\",\"args\":{\"seconds\":0}}\n");
		else
			snprintf(req, sizeof(req), "{\"op\":\"submit\",\"kind\":"
			    "\"sleep\",\"args\":{\"seconds\":0},\"queue\":"
			    "\"q%d\"}\n", i);
		request(fd, req, ans, sizeof(ans));
	}
	usleep(200000);
	for (i = 0; i < GETS; i++)
		v[i] = http_get_metrics(&bytes);
	qsort(v, GETS, sizeof(v[0]), bench_cmp_double);
	printf("/metrics, %d queues (%zu bytes): median %.3f ms, p99 %.3f ms "
	    "(goal <= 2 ms) %s\n", QUEUES, bytes, v[GETS / 2] * 1e3,
	    v[GETS * 99 / 100] * 1e3, v[GETS / 2] <= 0.002 ? "PASS" : "MISS");
	close(fd);
	stop();
}

static const char *const setup_name[3] = { "off", "metrics",
	"10 watchers" };

/* Set-up k of three, as noop_round runs it. */
static struct result
setup_round(size_t n, int k)
{
	return noop_round(n, k > 0, k == 2 ? WATCHERS : 0);
}

/* The median of the field at off of rs[0..n). */
static double
median_of(const struct result *rs, int n, size_t off)
{
	double v[MAXR] = { 0 };

	for (int i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&rs[i] + off);
	return bench_median(v, (size_t)n);
}

static void
report(const struct result rs[3][MAXR], int rounds, size_t n)
{
	double ratio[2][MAXR] = { { 0 } }, lo[2], hi[2], med[2];
	static const double goal[2] = { 0.98, 0.95 };

	for (int k = 0; k < 2; k++) {
		lo[k] = 1e9, hi[k] = 0;
		for (int r = 0; r < rounds; r++) {
			ratio[k][r] = rs[k + 1][r].rate / rs[0][r].rate;
			lo[k] = ratio[k][r] < lo[k] ? ratio[k][r] : lo[k];
			hi[k] = ratio[k][r] > hi[k] ? ratio[k][r] : hi[k];
		}
		med[k] = bench_median(ratio[k], (size_t)rounds);
	}
	printf("no-op jobs/s (sync=%s, %zu jobs, %d interleaved rounds), "
	    "median rate / CPU per job of jobd (whole, loop thread):\n",
	    sync_mode, n, rounds);
	for (int k = 0; k < 3; k++)
		printf("  %-12s %8.0f jobs/s  %6.2f us  %6.2f us\n",
		    setup_name[k], median_of(rs[k], rounds,
		    offsetof(struct result, rate)), median_of(rs[k], rounds,
		    offsetof(struct result, proc_us)), median_of(rs[k], rounds,
		    offsetof(struct result, loop_us)));
	for (int k = 0; k < 2; k++) {
		double cpu[MAXR] = { 0 };

		/* What the rate would be where jobd's CPU sets the pace. */
		for (int r = 0; r < rounds; r++)
			cpu[r] = rs[0][r].proc_us / rs[k + 1][r].proc_us;
		printf("%s / off: median of the rounds' ratios %.1f %% (range "
		    "%.1f-%.1f %%), goal >= %.0f %% %s; CPU-bound: %.1f %% "
		    "(median of off's CPU per job / this one's)\n",
		    setup_name[k + 1], 100 * med[k], 100 * lo[k], 100 * hi[k],
		    100 * goal[k], med[k] >= goal[k] ? "PASS" : "MISS",
		    100 * bench_median(cpu, (size_t)rounds));
	}
}

int
main(int argc, char **argv)
{
	static struct result rs[3][MAXR];
	struct result one;
	size_t n = 100000;
	int rounds = 5, c, r;
	bool only_watchers = false;

	while ((c = getopt(argc, argv, "r:n:S:w")) != -1) {
		switch (c) {
		case 'w': only_watchers = true; break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': n = (size_t)atol(optarg); break;
		case 'S': sync_mode = optarg; break;
		default:
			fprintf(stderr, "usage: bench_obs [-r rounds] [-n jobs] "
			    "[-S full|normal] [-w] [JOBD]\n");
			return 2;
		}
	}
	if (optind < argc)
		jobd = argv[optind];
	if (rounds < 1 || rounds > MAXR)
		errx(2, "-r: 1..%d", MAXR);
	snprintf(dir, sizeof(dir), "/tmp/bench_obs.XXXXXX");
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	snprintf(sock, sizeof(sock), "%s/j.sock", dir);
	snprintf(conf, sizeof(conf), "%s/j.conf", dir);
	signal(SIGPIPE, SIG_IGN);
	for (r = 0; only_watchers && r < rounds; r++) {
		one = noop_round(n, true, getenv("BENCH_W") ?
		    atoi(getenv("BENCH_W")) : WATCHERS);
		printf("round %d: watchers %.0f jobs/s, %.2f us CPU per job "
		    "(loop %.2f)\n", r + 1, one.rate, one.proc_us, one.loop_us);
	}
	for (r = 0; !only_watchers && r < rounds; r++) {
		/* Rotate the order: off first, then metrics first, ... */
		for (int i = 0; i < 3; i++) {
			int k = (r + i) % 3;

			rs[k][r] = setup_round(n, k);
		}
		printf("round %d: off %.0f, metrics %.0f (%.1f %%), 10 watchers "
		    "%.0f (%.1f %%) jobs/s; CPU/job %.2f, %.2f, %.2f us\n",
		    r + 1, rs[0][r].rate, rs[1][r].rate,
		    100 * rs[1][r].rate / rs[0][r].rate, rs[2][r].rate,
		    100 * rs[2][r].rate / rs[0][r].rate, rs[0][r].proc_us,
		    rs[1][r].proc_us, rs[2][r].proc_us);
		fflush(stdout);
	}
	if (!only_watchers) {
		report(rs, rounds, n);
		metrics_bench();
	}
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	if (system(conf) != 0)
		warnx("could not remove %s", dir);
	return 0;
}
