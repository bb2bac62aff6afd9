/*
 * bench_unique.c — submits with a unique_key against plain ones.
 *
 *   bench_unique [-n jobs] [-r rounds] [JOBD]
 *
 * Starts JOBD (default ./build/jobd) on a fresh database per scenario
 * (sync = normal, a paused-free queue of capacity n with no workers busy:
 * the jobs are `sleep 0` on 1 worker, so the measure is the submit path),
 * pipelines n submits on one connection and times the first byte sent to
 * the last answer read, for: plain submits (the baseline), a distinct
 * unique_key each (every insert writes the key's two index entries), and
 * one key for all (every submit after the first is a duplicate: the
 * UNIQUE live index refuses the insert, then a look-up, no row).  Prints submits/s, the median of the
 * rounds, and each unique scenario as a share of the baseline (goal: >=
 * 80 %).  See docs/BENCH.md.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "jc.h"


enum { PLAIN, DISTINCT, SAME, NSCEN };
static const char *const scen_name[NSCEN] = { "plain", "unique, distinct",
	"unique, duplicates" };

/* Start jobd in dir; its pid. */
static pid_t
start(const char *jobd, const char *dir, int n)
{
	char conf[512], sock[300];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/jobd.conf", dir);
	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	if ((f = fopen(conf, "w")) == NULL)
		err(1, "%s", conf);
	fprintf(f, "[daemon]\nsocket = %s\ndatabase = %s/jobd.db\n"
	    "sync = normal\nlog_level = warning\n[queue.default]\n"
	    "workers = 1\ncapacity = %d\n", sock, dir, n + 1);
	fclose(f);
	pid = bench_jobd_exec(jobd, conf);
	jc_close(bench_jobd_ready(sock, 5, NULL));
	return pid;
}

static double
one_round(const char *jobd, int scen, int n)
{
	char dir[] = "/tmp/bench_unique.XXXXXX", sock[300], line[160], *ans;
	struct jc_conn *c;
	double t0, t;
	size_t len;
	pid_t pid;

	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	pid = start(jobd, dir, n);
	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	if (jc_open(sock, &c) < 0)
		errx(1, "connect");
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		int k = snprintf(line, sizeof(line), "{\"op\":\"submit\","
		    "\"kind\":\"sleep\",\"args\":{\"seconds\":0}");

		if (scen == DISTINCT)
			k += snprintf(line + k, sizeof(line) - k,
			    ",\"unique_key\":\"k%d\"", i);
		else if (scen == SAME)
			k += snprintf(line + k, sizeof(line) - k,
			    ",\"unique_key\":\"same\"");
		k += snprintf(line + k, sizeof(line) - k, "}");
		if (jc_send(c, line, (size_t)k, 30) < 0)
			errx(1, "send");
	}
	for (int i = 0; i < n; i++)
		if (jc_recv(c, 60, &ans, &len) < 0 ||
		    strncmp(ans, "{\"ok\":true", 10) != 0)
			errx(1, "answer %d: %s", i, i >= 0 ? "bad" : "");
	t = bench_now() - t0;
	jc_close(c);
	bench_jobd_stop(pid);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	if (system(line) != 0)
		warnx("cannot remove %s", dir);
	return n / t;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *jobd = "./build/jobd";
	double rate[NSCEN][16], med[NSCEN];
	int n = 50000, rounds = 3, ch;

	while ((ch = getopt(argc, argv, "n:r:")) != -1)
		switch (ch) {
		case 'n': n = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_unique [-n jobs] "
			    "[-r rounds] [JOBD]\n");
			return 2;
		}
	if (optind < argc)
		jobd = argv[optind];
	if (n < 1 || rounds < 1 || rounds > 16)
		errx(2, "-n >= 1, -r 1..16");
	for (int r = 0; r < rounds; r++)
		for (int s = 0; s < NSCEN; s++)
			rate[s][r] = one_round(jobd, s, n);
	for (int s = 0; s < NSCEN; s++) {
		qsort(rate[s], (size_t)rounds, sizeof(double), cmp);
		med[s] = rate[s][rounds / 2];
		printf("%-20s %9.0f submits/s", scen_name[s], med[s]);
		if (s != PLAIN)
			printf("  %5.1f %% of plain  (goal >= 80 %%: %s)",
			    100 * med[s] / med[PLAIN],
			    med[s] >= 0.8 * med[PLAIN] ? "PASS" : "MISS");
		printf("\n");
	}
	return 0;
}
