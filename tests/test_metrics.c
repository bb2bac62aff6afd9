/*
 * test_metrics.c — the counters and the Prometheus page (metrics.h):
 * label escaping, families written once and together, histograms
 * cumulative, only the queues the caller shows, series per (queue, kind)
 * once seen, and the page accepted by promtool (which must be installed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kind.h"
#include "metrics.h"
#include "store.h"
#include "testutil.h"

static int
count(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_escape)
{
	struct met_buf b = { 0 };

	met_escape(&b, "a\"b\\c\nd");
	ck_assert_str_eq(b.p, "a\\\"b\\\\c\\nd");
	met_buf_free(&b);
}
END_TEST

static char *
page(struct met *m, const struct met_qstate *qs, size_t n)
{
	struct met_view v = { .queues = qs, .nqueues = n, .connections = 3,
		.start_time = 1e9 };
	struct met_buf b = { 0 };

	ck_assert_int_eq(met_write(m, &v, &b), 0);
	return b.p;
}

START_TEST(test_page)
{
	struct met *m = met_new();
	struct met_queue *a = met_queue(m, "a"), *odd = met_queue(m, "o\"dd");
	const struct kind *sleep = kind_find("sleep"), *ex = kind_find("exec");
	struct met_qstate qs[] = { { .name = "a", .queued = 4, .running = 2,
		.workers = 8 }, { .name = "o\"dd", .workers = 1 } };
	char *p;

	ck_assert_ptr_eq(met_queue(m, "a"), a);
	ck_assert_ptr_eq(met_queue_find(m, "a"), a);
	met_submitted(a, sleep);
	met_submitted(a, sleep);
	met_started(a, 0.002);
	met_ended(a, sleep, STORE_SUCCEEDED, 0.003);
	met_ended(a, sleep, STORE_FAILED, 20);
	met_submitted(odd, ex);
	met_ended(odd, ex, STORE_CANCELLED, -1);        /* never ran */
	met_submitted(NULL, sleep);                     /* off: nothing */
	p = page(m, qs, 2);
	ck_assert_int_eq(count(p, "# TYPE jobd_jobs_submitted_total counter"),
	    1);
	ck_assert_ptr_nonnull(strstr(p, "\njobd_jobs_submitted_total{queue="
	    "\"a\",kind=\"sleep\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(p, "{queue=\"o\\\"dd\",kind=\"exec\"} 1"));
	ck_assert_ptr_null(strstr(p, "queue=\"a\",kind=\"exec\""));
	ck_assert_ptr_nonnull(strstr(p, "jobd_jobs_ended_total{queue=\"a\","
	    "kind=\"sleep\",state=\"failed\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(p, "jobd_job_duration_seconds_bucket{"
	    "queue=\"a\",kind=\"sleep\",le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(p, "jobd_job_duration_seconds_bucket{"
	    "queue=\"a\",kind=\"sleep\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(p, "jobd_job_duration_seconds_count{"
	    "queue=\"o\\\"dd\",kind=\"exec\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(p, "jobd_queue_jobs{queue=\"a\",state="
	    "\"queued\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(p, "jobd_queue_wait_seconds_count{queue="
	    "\"a\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(p, "\njobd_connections 3\n"));
	ck_assert_ptr_nonnull(strstr(p, "jobd_build_info{version=\""));
	ck_assert_ptr_nonnull(strstr(p, "\nprocess_open_fds "));
	ck_assert_ptr_nonnull(strstr(p, "\nprocess_start_time_seconds 1000000000\n"));
	free(p);
	/* A queue not shown (removed by a reload) is absent. */
	p = page(m, qs, 1);
	ck_assert_ptr_null(strstr(p, "o\\\"dd"));
	ck_assert_int_eq(count(p, "# TYPE jobd_queue_jobs gauge"), 1);
	free(p);
	met_free(m);
}
END_TEST

START_TEST(test_promtool)
{
	struct met *m = met_new();
	struct met_queue *a = met_queue(m, "q.1-x");
	struct met_qstate qs[] = { { .name = "q.1-x", .workers = 2 } };
	char path[] = "/tmp/jobd-met-XXXXXX", cmd[128], *p;
	int fd, rc;

	met_submitted(a, kind_find("http"));
	met_ended(a, kind_find("http"), STORE_TIMED_OUT, 30);
	p = page(m, qs, 1);
	/* Not a skip: .ci/deps installs promtool (package prometheus). */
	ck_assert_msg(access("/usr/bin/promtool", X_OK) == 0,
	    "no /usr/bin/promtool: install the package prometheus");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, p, strlen(p)), (ssize_t)strlen(p));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >&2", path);
	rc = system(cmd);
	unlink(path);
	ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
	    "promtool refused:\n%s", p);
	free(p);
	met_free(m);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_page);
	tcase_add_test(tc, test_promtool);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(metrics_suite());
}
