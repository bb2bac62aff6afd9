/*
 * bench_http.c — `http` jobs through the real daemon.
 *
 *   bench_http [-v] [-r rounds] [-n jobs] [-w workers] [-c per_host]
 *              [-d dir] [JOBD]
 *
 * Starts a keep-alive HTTP/1.1 server in this process (libevent's evhttp
 * on a thread of its own, answering every request with 200 and a 3-byte
 * body, counting the connections it accepts), then, once per round, JOBD
 * (default ./build/jobd) on a fresh database with one queue of `workers`
 * (64) workers, capacity `jobs`, http_per_host `per_host` (8), the rest
 * of the config at its defaults (sync = full).  Each round submits `jobs`
 * (10,000) GET jobs to the server as submit_groups of up to 10,000, waits
 * for every group, and measures, from the first byte sent to the last wait
 * answer:
 *
 *  - http jobs per second, and jobd's CPU time per job;
 *  - connections the server accepted per 1,000 jobs (the pool at work:
 *    ideally per_host in all, so per_host * 1000 / jobs);
 *  - the same number of `sleep 0` jobs on the same config, in the same
 *    round, as the baseline: what the daemon costs without HTTP.
 *
 * Prints the medians over the rounds (-v: every round too).  Every job
 * must succeed and the server must see every request, else the bench
 * fails.  jobd is stopped with SIGTERM and must exit 0; it dies with the
 * bench anyway (PR_SET_PDEATHSIG).  See docs/HTTP.md and docs/BENCH.md.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "bench_util.h"
#include "jc.h"

#define ROUNDS_MAX   31
#define GROUP_MAX    10000      /* jobs in one submit_group (protocol) */
#define IO_TIMEOUT   300.0      /* s for one round's traffic */

static int rounds = 5;
static long njobs = 10000, workers = 64, per_host = 8;
static bool verbose;
static const char *jobd_path = "./build/jobd";

/* ---- helpers ------------------------------------------------------------- */

/* ---- the HTTP server ----------------------------------------------------- */

static struct {
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	int port;
	unsigned long conns, requests;  /* __atomic */
} srv;

static void
srv_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *body = evhttp_request_get_output_buffer(req);

	__atomic_add_fetch(&srv.requests, 1, __ATOMIC_RELAXED);
	evbuffer_add(body, "ok\n", 3);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static struct bufferevent *
srv_conn(struct event_base *base, void *arg)
{
	__atomic_add_fetch(&srv.conns, 1, __ATOMIC_RELAXED);
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void *
srv_main(void *arg)
{
	event_base_dispatch(srv.base);
	return NULL;
}

static void
srv_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (evthread_use_pthreads() < 0 ||
	    (srv.base = event_base_new()) == NULL ||
	    (srv.http = evhttp_new(srv.base)) == NULL)
		errx(1, "libevent setup failed");
	evhttp_set_gencb(srv.http, srv_request, NULL);
	evhttp_set_bevcb(srv.http, srv_conn, NULL);
	if ((bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0)) ==
	    NULL)
		errx(1, "cannot bind the HTTP server");
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &len) < 0)
		err(1, "getsockname");
	srv.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (pthread_create(&srv.thread, NULL, srv_main, NULL) != 0)
		errx(1, "pthread_create");
}

static void
srv_stop(void)
{
	event_base_loopbreak(srv.base);
	pthread_join(srv.thread, NULL);
	evhttp_free(srv.http);
	event_base_free(srv.base);
}

/* ---- jobd ---------------------------------------------------------------- */

static struct {
	char dir[256], conf[300], sock[300], log[300], db[300];
	pid_t pid;
	clockid_t cpu;
} J;

static void
rm_dir(void)
{
	char p[320];

	unlink(J.conf);
	unlink(J.sock);
	unlink(J.log);
	unlink(J.db);
	snprintf(p, sizeof(p), "%s-wal", J.db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", J.db);
	unlink(p);
	rmdir(J.dir);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	fprintf(stderr, "bench_http: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (J.pid > 0) {
		kill(J.pid, SIGKILL);
		if ((f = fopen(J.log, "r")) != NULL) {
			fprintf(stderr, "--- jobd's log:\n");
			while (fgets(line, sizeof(line), f) != NULL)
				fputs(line, stderr);
			fclose(f);
		}
	}
	exit(1);
}

static void
write_conf(void)
{
	FILE *f = fopen(J.conf, "w");

	if (f == NULL)
		err(1, "%s", J.conf);
	fprintf(f, "; generated by bench_http\n[daemon]\nsocket = %s\n"
	    "database = %s\nmax_line = 64M\nhttp_per_host = %ld\n"
	    "http_allow = 127.0.0.0/8\n"
	    "\n[queue.default]\nworkers = %ld\ncapacity = %ld\ntimeout = 0\n",
	    J.sock, J.db, per_host, workers, njobs);
	if (fclose(f) != 0)
		err(1, "%s", J.conf);
}

/* A connection to jobd (lib/client), or NULL (errno set). */
static struct jc_conn *
conn_open(void)
{
	struct jc_conn *c;
	int rc;

	if ((rc = jc_open(J.sock, &c)) < 0)
		errno = -rc;
	return c;
}

/* Write all of p, or die. */
static void
conn_write(struct jc_conn *c, const char *p, size_t n)
{
	int rc;

	if ((rc = jc_write(c, p, n, IO_TIMEOUT)) < 0)
		die("write to jobd: %s", strerror(-rc));
}

/* The next line from c (without its \n, valid until the next call), or
 * NULL at the end or past the deadline. */
static char *
conn_line(struct jc_conn *c, double deadline)
{
	double left = deadline - bench_now();
	char *line;
	size_t len;

	return jc_recv(c, left > 0 ? left : 0, &line, &len) == 0 ? line :
	    NULL;
}

static void
jobd_start(void)
{
	double deadline = bench_now() + 10;
	struct jc_conn *c;
	int fd, st;
	pid_t parent = getpid();

	write_conf();
	if ((J.pid = fork()) < 0)
		err(1, "fork");
	if (J.pid == 0) {
		if ((fd = open(J.log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
			_exit(126);
		dup2(fd, 2);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		execl(jobd_path, "jobd", "-c", J.conf, (char *)NULL);
		_exit(127);
	}
	while ((c = conn_open()) == NULL) {
		if (waitpid(J.pid, &st, WNOHANG) == J.pid ||
		    bench_now() > deadline)
			die("jobd (%s) did not start", jobd_path);
		usleep(5000);
	}
	jc_close(c);
	if (clock_getcpuclockid(J.pid, &J.cpu) != 0)
		die("clock_getcpuclockid");
}

static void
jobd_stop(void)
{
	int st;

	kill(J.pid, SIGTERM);
	if (waitpid(J.pid, &st, 0) != J.pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("jobd did not exit 0 on SIGTERM");
	J.pid = 0;
	unlink(J.db);
}

static double
jobd_cpu(void)
{
	struct timespec ts;

	clock_gettime(J.cpu, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- one round ----------------------------------------------------------- */

/* A submit_group of n jobs of the kind with args, as one line. */
static char *
group_line(long n, const char *kind, const char *args, size_t *len)
{
	size_t one = strlen(kind) + strlen(args) + 32, size = 64 + n * one;
	char *line = malloc(size), *p = line;

	if (line == NULL)
		err(1, "malloc");
	p += sprintf(p, "{\"op\":\"submit_group\",\"jobs\":[");
	for (long i = 0; i < n; i++)
		p += sprintf(p, "%s{\"kind\":\"%s\",\"args\":%s}", i ? "," : "",
		    kind, args);
	p += sprintf(p, "]}\n");
	*len = (size_t)(p - line);
	return line;
}

static long
count(const char *s, const char *what)
{
	long n = 0;

	while ((s = strstr(s, what)) != NULL)
		n++, s++;
	return n;
}

/* Run njobs jobs of kind/args; the wall time and jobd's CPU seconds. */
static void
run_jobs(const char *kind, const char *args, double *wall, double *cpu)
{
	long groups[(njobs + GROUP_MAX - 1) / GROUP_MAX], ng = 0, ok = 0;
	double deadline = bench_now() + IO_TIMEOUT, t0, c0;
	char req[128], *line, *ans;
	struct jc_conn *c;
	size_t len;

	if ((c = conn_open()) == NULL)
		die("connect: %s", strerror(errno));
	c0 = jobd_cpu();
	t0 = bench_now();
	for (long done = 0; done < njobs; done += GROUP_MAX) {
		line = group_line(njobs - done < GROUP_MAX ? njobs - done :
		    GROUP_MAX, kind, args, &len);
		conn_write(c, line, len);
		free(line);
		if ((ans = conn_line(c, deadline)) == NULL ||
		    (line = strstr(ans, "\"group\":")) == NULL)
			die("submit_group: %s", ans ? ans : "no answer");
		groups[ng++] = strtol(line + 8, NULL, 10);
	}
	for (long i = 0; i < ng; i++) {
		len = (size_t)snprintf(req, sizeof(req), "{\"op\":\"wait\","
		    "\"group\":%ld}\n", groups[i]);
		conn_write(c, req, len);
		if ((ans = conn_line(c, deadline)) == NULL)
			die("wait: no answer");
		ok += count(ans, "\"state\":\"succeeded\"");
	}
	*wall = bench_now() - t0;
	*cpu = jobd_cpu() - c0;
	jc_close(c);
	if (ok != njobs)
		die("%ld of %ld %s jobs succeeded", ok, njobs, kind);
}

struct res {
	double http_rate, http_cpu_us, conns_per_k;
	double sleep_rate, sleep_cpu_us;
};

static void
round_run(int i, struct res *r)
{
	unsigned long c0, q0, conns, reqs;
	char args[128];
	double wall, cpu;

	snprintf(args, sizeof(args), "{\"url\":\"http://127.0.0.1:%d/\"}",
	    srv.port);
	jobd_start();
	c0 = __atomic_load_n(&srv.conns, __ATOMIC_RELAXED);
	q0 = __atomic_load_n(&srv.requests, __ATOMIC_RELAXED);
	run_jobs("http", args, &wall, &cpu);
	conns = __atomic_load_n(&srv.conns, __ATOMIC_RELAXED) - c0;
	reqs = __atomic_load_n(&srv.requests, __ATOMIC_RELAXED) - q0;
	if (reqs != (unsigned long)njobs)
		die("the server saw %lu requests for %ld jobs", reqs, njobs);
	r->http_rate = njobs / wall;
	r->http_cpu_us = cpu / njobs * 1e6;
	r->conns_per_k = conns * 1000.0 / njobs;
	run_jobs("sleep", "{\"seconds\":0}", &wall, &cpu);
	r->sleep_rate = njobs / wall;
	r->sleep_cpu_us = cpu / njobs * 1e6;
	jobd_stop();
	if (verbose)
		printf("round %d: http %.0f jobs/s (%.1f us CPU/job), %lu "
		    "connections; sleep 0 %.0f jobs/s (%.1f us CPU/job)\n",
		    i + 1, r->http_rate, r->http_cpu_us, conns, r->sleep_rate,
		    r->sleep_cpu_us);
}

/* ---- main ---------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_http [-v] [-r rounds] [-n jobs] "
	    "[-w workers] [-c per_host] [-d dir] [JOBD]\n");
	exit(2);
}

static long
num(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end != '\0' || v < min || v > max)
		usage();
	return v;
}

static void
report(const struct res *r, int n)
{
	double v[5][ROUNDS_MAX];

	for (int i = 0; i < n; i++) {
		v[0][i] = r[i].http_rate;
		v[1][i] = r[i].http_cpu_us;
		v[2][i] = r[i].conns_per_k;
		v[3][i] = r[i].sleep_rate;
		v[4][i] = r[i].sleep_cpu_us;
	}
	printf("bench_http: %ld jobs, %ld workers, http_per_host %ld, medians "
	    "of %d rounds\n", njobs, workers, per_host, n);
	printf("  http GET jobs/s              %10.0f\n",
	    bench_median(v[0], (size_t)n));
	printf("  jobd CPU per http job        %10.1f us\n",
	    bench_median(v[1], (size_t)n));
	printf("  connections per 1,000 jobs   %10.2f\n",
	    bench_median(v[2], (size_t)n));
	printf("  sleep 0 jobs/s (baseline)    %10.0f\n",
	    bench_median(v[3], (size_t)n));
	printf("  jobd CPU per sleep 0 job     %10.1f us\n",
	    bench_median(v[4], (size_t)n));
}

int
main(int argc, char **argv)
{
	struct res r[ROUNDS_MAX];
	const char *base = "/tmp";
	int ch;

	while ((ch = getopt(argc, argv, "vr:n:w:c:d:")) != -1)
		switch (ch) {
		case 'v': verbose = true; break;
		case 'r': rounds = (int)num(optarg, 1, ROUNDS_MAX); break;
		case 'n': njobs = num(optarg, 1, 1000000); break;
		case 'w': workers = num(optarg, 1, 100000); break;
		case 'c': per_host = num(optarg, 1, 65536); break;
		case 'd': base = optarg; break;
		default: usage();
		}
	if (optind < argc)
		jobd_path = argv[optind];
	snprintf(J.dir, sizeof(J.dir), "%s/bench_http.XXXXXX", base);
	if (mkdtemp(J.dir) == NULL)
		err(1, "mkdtemp %s", J.dir);
	snprintf(J.conf, sizeof(J.conf), "%s/jobd.conf", J.dir);
	snprintf(J.sock, sizeof(J.sock), "%s/jobd.sock", J.dir);
	if (strlen(J.sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		errx(1, "%s: too long for a socket path (-d)", J.sock);
	snprintf(J.log, sizeof(J.log), "%s/jobd.log", J.dir);
	snprintf(J.db, sizeof(J.db), "%s/jobd.db", J.dir);
	signal(SIGPIPE, SIG_IGN);
	srv_start();
	for (int i = 0; i < rounds; i++)
		round_run(i, &r[i]);
	srv_stop();
	rm_dir();
	report(r, rounds);
	return 0;
}
