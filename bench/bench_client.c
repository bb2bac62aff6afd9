/*
 * bench_client.c — submits/s through the C client library's calls
 * (lib/client/jc.h), the figure next to the Python client's
 * (bench/bench_python) and bench_jobd's raw writer thread.
 *
 *   bench_client [-n jobs] [-r rounds] [-w window] [JOBD]
 *
 * Each round starts JOBD (default ./build/jobd) on a fresh database in a
 * temporary directory (sync = full, workers 16, capacity n, as
 * bench_python does) and times, on one connection, first send to last
 * answer:
 *  1. pipelined: n jc_submit_send, then n jc_answer_recv (the sends read
 *     answers into the buffer while the socket is full);
 *  2. windowed: at most -w (64) submits in flight, an answer read before
 *     each send past that, as a client with a bounded queue would;
 *  3. one at a time: n / 10 blocking jc_submit, a round trip (and a
 *     commit) each.
 * Prints the median of the rounds for each, and the bench's own CPU per
 * pipelined submit (building, sending, reading and parsing: the
 * library's cost).  jobd dies with the bench
 * (PR_SET_PDEATHSIG) and is stopped with SIGTERM after each round.  See
 * docs/BENCH.md.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "jc.h"

/* Every call's bound: a stuck jobd ends the bench instead of hanging it. */
#define BC_TIMEOUT 120.0
#define BC_ROUNDS_MAX 15

struct round {
	char dir[64];
	char sock[96];
	pid_t pid;
};

/* This process's CPU seconds (the library's, not jobd's). */
static double
bc_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double
bc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start jobd on a fresh directory; connect to it once it answers. */
static struct jc_conn *
bc_start(struct round *r, const char *jobd, int n)
{
	char conf[128];
	struct jc_conn *c;
	pid_t parent = getpid();
	FILE *f;

	snprintf(r->dir, sizeof(r->dir), "/tmp/jbcl.XXXXXX");
	if (mkdtemp(r->dir) == NULL)
		err(1, "mkdtemp");
	snprintf(r->sock, sizeof(r->sock), "%s/s", r->dir);
	snprintf(conf, sizeof(conf), "%s/jobd.conf", r->dir);
	if ((f = fopen(conf, "w")) == NULL)
		err(1, "%s", conf);
	fprintf(f, "[daemon]\nsocket = %s\ndatabase = %s/db\nsync = full\n"
	    "[queue.default]\nworkers = 16\ncapacity = %d\n", r->sock, r->dir,
	    n);
	fclose(f);
	if ((r->pid = fork()) == -1)
		err(1, "fork");
	if (r->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		freopen("/dev/null", "w", stderr);
		execl(jobd, "jobd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (double end = bc_now() + 30; bc_now() < end; usleep(10000))
		if (jc_open(r->sock, &c) == 0) {
			jc_set_timeout(c, BC_TIMEOUT);
			if (jc_ping(c, NULL) == 0)
				return c;
			jc_close(c);
		}
	errx(1, "%s did not start", jobd);
}

static void
bc_stop(struct round *r, struct jc_conn *c)
{
	char cmd[128];
	int st;

	jc_close(c);
	kill(r->pid, SIGTERM);
	if (waitpid(r->pid, &st, 0) != r->pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		warnx("jobd did not exit 0");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	if (system(cmd) != 0)
		warnx("could not remove %s", r->dir);
}

static void
bc_fail(struct jc_conn *c, const char *what, int rc)
{
	errx(1, "%s: %d: %s %s", what, rc, jc_last_error(c)->name,
	    jc_last_error(c)->message);
}

static void
bc_answer(struct jc_conn *c)
{
	json_t *ans;
	int rc;

	if ((rc = jc_answer_recv(c, &ans)) != 0)
		bc_fail(c, "answer", rc);
	json_decref(ans);
}

/* n submits with at most window in flight (window >= n: all at once);
 * *cpu: the client's CPU microseconds per submit. */
static double
bc_pipelined(struct jc_conn *c, const json_t *args, int n, int window,
    double *cpu)
{
	double t0 = bc_now(), c0 = bc_cpu();
	int sent, read = 0, rc;

	for (sent = 0; sent < n; sent++) {
		if (sent - read >= window) {
			bc_answer(c);
			read++;
		}
		if ((rc = jc_submit_send(c, "sleep", args, NULL)) != 0)
			bc_fail(c, "send", rc);
	}
	for (; read < n; read++)
		bc_answer(c);
	*cpu = (bc_cpu() - c0) * 1e6 / n;
	return n / (bc_now() - t0);
}

static double
bc_blocking(struct jc_conn *c, const json_t *args, int n)
{
	double t0 = bc_now();
	int64_t id;
	int rc;

	for (int i = 0; i < n; i++)
		if ((rc = jc_submit(c, "sleep", args, NULL, &id, NULL)) != 0)
			bc_fail(c, "submit", rc);
	return n / (bc_now() - t0);
}

static void
bc_print(const char *what, double *v, int rounds)
{
	printf("%-34s %9.0f submits/s  (", what, v[rounds / 2]);
	for (int i = 0; i < rounds; i++)
		printf("%s%.0f", i ? " " : "", v[i]);
	printf(")\n");
}

int
main(int argc, char **argv)
{
	double pip[BC_ROUNDS_MAX], win[BC_ROUNDS_MAX], one[BC_ROUNDS_MAX];
	double cpu[BC_ROUNDS_MAX], unused;
	int n = 20000, rounds = 3, window = 64, ch;
	const char *jobd = "./build/jobd";
	json_t *args = json_pack("{s:i}", "seconds", 0);
	char what[64];
	struct jc_conn *c;
	struct round r;

	while ((ch = getopt(argc, argv, "n:r:w:")) != -1) {
		switch (ch) {
		case 'n': n = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_client [-n jobs] "
			    "[-r rounds] [-w window] [jobd]\n");
			return 2;
		}
	}
	if (n < 10 || rounds < 1 || rounds > BC_ROUNDS_MAX || window < 1)
		errx(2, "-n >= 10, -r 1..%d, -w >= 1", BC_ROUNDS_MAX);
	if (optind < argc)
		jobd = argv[optind];
	for (int i = 0; i < rounds; i++) {
		c = bc_start(&r, jobd, 2 * n + n / 10);
		pip[i] = bc_pipelined(c, args, n, n, &cpu[i]);
		win[i] = bc_pipelined(c, args, n, window, &unused);
		one[i] = bc_blocking(c, args, n / 10);
		bc_stop(&r, c);
	}
	qsort(pip, rounds, sizeof(double), bench_cmp_double);
	qsort(win, rounds, sizeof(double), bench_cmp_double);
	qsort(one, rounds, sizeof(double), bench_cmp_double);
	qsort(cpu, rounds, sizeof(double), bench_cmp_double);
	printf("C client library, sync = full, median of %d rounds:\n", rounds);
	snprintf(what, sizeof(what), "%d pipelined (all in flight)", n);
	bc_print(what, pip, rounds);
	printf("%-34s %9.1f us of client CPU per submit\n", "", cpu[rounds / 2]);
	snprintf(what, sizeof(what), "%d windowed (%d in flight)", n, window);
	bc_print(what, win, rounds);
	snprintf(what, sizeof(what), "%d one at a time (jc_submit)", n / 10);
	bc_print(what, one, rounds);
	json_decref(args);
	return 0;
}
