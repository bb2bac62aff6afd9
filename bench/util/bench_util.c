/*
 * bench_util.c — see bench_util.h.
 */
#include <err.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_util.h"
#include "jc.h"
#include "store.h"

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t
bench_jobd_exec(const char *path, const char *conf)
{
	pid_t pid;

	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execl(path, "jobd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

struct jc_conn *
bench_jobd_ready(const char *sock, double timeout, double *took)
{
	struct jc_conn *c;
	double t0 = bench_now();
	char *line;
	size_t len;

	for (;;) {
		if (jc_open(sock, &c) == 0) {
			if (jc_send(c, "{\"op\":\"ping\"}", 13, timeout) == 0 &&
			    jc_recv(c, timeout, &line, &len) == 0)
				break;
			jc_close(c);
		}
		if (bench_now() - t0 > timeout)
			errx(1, "jobd did not start on %s", sock);
		usleep(1000);
	}
	if (took != NULL)
		*took = bench_now() - t0;
	return c;
}

void
bench_jobd_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		errx(1, "jobd did not exit 0");
}

void
bench_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		errx(1, "%.80s: %s", sql, msg != NULL ? msg : "?");
}

void
bench_sql_step(sqlite3 *db, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		errx(1, "step: %s: %s", sqlite3_sql(s), sqlite3_errmsg(db));
	sqlite3_reset(s);
}

int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(const double *v, size_t n)
{
	double *s, m;

	if ((s = malloc(n * sizeof(*s))) == NULL)
		err(1, "malloc");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

double
bench_percentile(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return sorted[k > 0 ? k - 1 : 0];
}

void
bench_store_done(void *arg, int status)
{
	struct bench_count *c = arg;

	c->done++;
	if (status != 0)
		c->failed++;
}

void
bench_store_wait(struct event_base *base, const struct bench_count *c,
    size_t n)
{
	while (c->done < n)
		event_base_loop(base, EVLOOP_ONCE);
	if (c->failed > 0)
		errx(1, "%zu writes failed: %s", c->failed, store_errmsg());
}
