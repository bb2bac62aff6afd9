/*
 * test_watch.c — the event hub (watch.h): filters, one line per event made
 * only when someone watches, the bounded buffer, the dropped line in place
 * of what did not fit, and removal from inside a notify.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil.h"
#include "watch.h"

struct sink {
	int notified;
	char got[1 << 20];
	size_t len;
};

static void
notify(void *arg)
{
	((struct sink *)arg)->notified++;
}

static void
take(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	memcpy(s->got + s->len, data, len);
	s->len += len;
	s->got[s->len] = '\0';
}

static void
publish(struct watch_hub *h, int64_t id, int64_t group, const char *queue,
    int state)
{
	struct watch_job j = { .id = id, .group = group, .queue = queue,
		.kind = "sleep", .state = state, .attempts = 1,
		.max_attempts = 3, .created_at = 1.5 };

	watch_publish(h, &j);
}

static int
count(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

START_TEST(test_filters)
{
	struct watch_hub *h = watch_hub_new();
	struct sink *all = calloc(1, sizeof(*all)), *q = calloc(1, sizeof(*q));
	struct sink *one = calloc(1, sizeof(*one)), *g = calloc(1, sizeof(*g));
	struct watch_filter fq = { .queue = "batch" }, fi = { .id = 2 },
	    fg = { .group = 7 };
	struct watcher *w[4];

	publish(h, 1, 0, "default", STORE_QUEUED);      /* nobody: nothing */
	w[0] = watch_add(h, NULL, 65536, notify, all);
	w[1] = watch_add(h, &fq, 65536, notify, q);
	w[2] = watch_add(h, &fi, 65536, notify, one);
	w[3] = watch_add(h, &fg, 65536, notify, g);
	ck_assert_uint_eq(watch_count(h), 4);
	publish(h, 1, 0, "default", STORE_QUEUED);
	publish(h, 2, 7, "batch", STORE_RUNNING);
	publish(h, 3, 7, "default", STORE_FAILED);
	ck_assert_int_eq(all->notified, 3);
	ck_assert_int_eq(q->notified, 1);
	ck_assert_int_eq(one->notified, 1);
	ck_assert_int_eq(g->notified, 2);
	ck_assert_uint_gt(watch_take(w[0], take, all), 0);
	ck_assert_int_eq(count(all->got, "{\"event\":\"job\""), 3);
	ck_assert_int_eq(count(all->got, "\n"), 3);
	ck_assert_ptr_nonnull(strstr(all->got, "\"state\":\"running\""));
	ck_assert_ptr_nonnull(strstr(all->got, "\"group\":7"));
	ck_assert_uint_eq(watch_pending(w[0]), 0);
	ck_assert_uint_eq(watch_take(w[0], take, all), 0);
	watch_take(w[2], take, one);
	ck_assert_ptr_nonnull(strstr(one->got, "\"id\":2,"));
	ck_assert_int_eq(count(one->got, "\n"), 1);
	for (int i = 0; i < 4; i++)
		watch_remove(w[i]);
	ck_assert_uint_eq(watch_count(h), 0);
	watch_hub_free(h);
	free(all), free(q), free(one), free(g);
}
END_TEST

/* Past its bound a watcher drops events and says how many, once, after
 * the ones it kept; then it takes events again. */
START_TEST(test_bounded_and_dropped)
{
	struct watch_hub *h = watch_hub_new();
	struct sink *s = calloc(1, sizeof(*s));
	struct watcher *w = watch_add(h, NULL, 4096, notify, s);
	int kept;

	for (int i = 1; i <= 1000; i++)
		publish(h, i, 0, "default", STORE_QUEUED);
	ck_assert_uint_le(watch_pending(w), 4096);
	watch_take(w, take, s);
	kept = count(s->got, "{\"event\":\"job\"");
	ck_assert_int_gt(kept, 0);
	ck_assert_int_lt(kept, 1000);
	ck_assert_int_eq(count(s->got, "\"event\":\"dropped\""), 1);
	ck_assert_ptr_nonnull(strstr(s->got, "{\"event\":\"dropped\",\"count\":"));
	ck_assert_int_eq(atoi(strstr(s->got, "\"count\":") + 8), 1000 - kept);
	ck_assert_uint_eq(watch_dropped(h), (uint64_t)(1000 - kept));
	/* The dropped line comes last. */
	ck_assert_ptr_eq(strstr(s->got, "dropped"), strrchr(s->got, 'd') - 6);
	s->len = 0;
	publish(h, 1001, 0, "default", STORE_SUCCEEDED);
	watch_take(w, take, s);
	ck_assert_int_eq(count(s->got, "\"id\":1001"), 1);
	ck_assert_int_eq(count(s->got, "dropped"), 0);
	watch_remove(w);
	watch_hub_free(h);
	free(s);
}
END_TEST

/* The line is written by hand: it must be the JSON an answer would hold,
 * escapes, ill-formed UTF-8 (as U+FFFD), reals and nulls included, and a
 * job's cached parts follow its changes (a retry's new started_at). */
START_TEST(test_line_is_json)
{
	struct watch_hub *h = watch_hub_new();
	struct sink *s = calloc(1, sizeof(*s));
	struct watcher *w = watch_add(h, NULL, 65536, notify, s);
	struct watch_cache *cache = NULL;
	json_t *args = json_pack("{s:f,s:s}", "seconds", 0.1, "x", "a\"b");
	struct watch_job j = { .id = 42, .group = 9, .queue = "q\\1",
		.kind = "exec", .name = "tab\there \x01 bad\xff\xfe" "end",
		.state = STORE_FAILED, .args = args, .attempts = 2,
		.max_attempts = 3, .timeout = 2.5, .created_at = 1796622536.2958341,
		.started_at = 1796622537.5, .finished_at = 0,
		.result = "{\"out\":[1,2.5]}", .error = "line1\nline2 \"q\"",
		.cache = &cache };
	json_t *ev, *job;
	char *nl;

	watch_publish(h, &j);
	j.started_at = 1796622540.25;
	j.finished_at = 1796622541.125;
	j.result = NULL;
	watch_publish(h, &j);
	watch_take(w, take, s);
	ck_assert_ptr_nonnull(cache);
	ck_assert_ptr_nonnull(nl = strchr(s->got, '\n'));
	ck_assert_ptr_nonnull(ev = json_loadb(s->got, (size_t)(nl - s->got), 0,
	    NULL));
	job = json_object_get(ev, "job");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "event")), "job");
	ck_assert_int_eq(json_integer_value(json_object_get(job, "id")), 42);
	ck_assert_int_eq(json_integer_value(json_object_get(job, "group")), 9);
	ck_assert_str_eq(json_string_value(json_object_get(job, "queue")),
	    "q\\1");
	ck_assert_str_eq(json_string_value(json_object_get(job, "name")),
	    "tab\there \x01 bad\xef\xbf\xbd\xef\xbf\xbd" "end");
	ck_assert_str_eq(json_string_value(json_object_get(job, "error")),
	    "line1\nline2 \"q\"");
	ck_assert_str_eq(json_string_value(json_object_get(job, "state")),
	    "failed");
	ck_assert(json_equal(json_object_get(job, "args"), args));
	ck_assert(json_real_value(json_object_get(job, "created_at")) ==
	    1796622536.2958341);
	ck_assert(json_real_value(json_object_get(job, "timeout")) == 2.5);
	ck_assert(json_is_null(json_object_get(job, "finished_at")));
	ck_assert(json_is_null(json_object_get(job, "cancel_reason")));
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(
	    json_object_get(job, "result"), "out"), 0)), 1);
	ck_assert_ptr_nonnull(strstr(s->got, "\"created_at\":1796622536.295834,"));
	ck_assert_ptr_nonnull(strstr(s->got, "\"timeout\":2.5,"));
	json_decref(ev);
	/* The second event: the new start, an end, no result. */
	ck_assert_ptr_nonnull(ev = json_loads(nl + 1, 0, NULL));
	job = json_object_get(ev, "job");
	ck_assert(json_real_value(json_object_get(job, "started_at")) ==
	    1796622540.25);
	ck_assert(json_real_value(json_object_get(job, "finished_at")) ==
	    1796622541.125);
	ck_assert(json_is_null(json_object_get(job, "result")));
	json_decref(ev);
	/* No timeout, no group, no args: 0.0 and nulls. */
	s->len = 0;
	j = (struct watch_job){ .id = 1, .queue = "default", .kind = "sleep",
	    .state = STORE_QUEUED };
	watch_publish(h, &j);
	watch_take(w, take, s);
	ck_assert_ptr_nonnull(strstr(s->got, "\"args\":null,\"name\":null,"));
	ck_assert_ptr_nonnull(strstr(s->got, "\"timeout\":0.0,\"created_at\":"
	    "null,"));
	ck_assert_ptr_nonnull(strstr(s->got, "\"group\":null,\"run_at\":null,"
	    "\"priority\":0,\"retries\":0}}\n"));
	watch_remove(w);
	watch_hub_free(h);
	watch_cache_free(cache);
	json_decref(args);
	free(s);
}
END_TEST

struct self {
	struct watcher *w;
};

static void
remove_self(void *arg)
{
	struct self *s = arg;

	watch_remove(s->w);
	s->w = NULL;
}

START_TEST(test_remove_in_notify)
{
	struct watch_hub *h = watch_hub_new();
	struct self a = { 0 }, b = { 0 };

	a.w = watch_add(h, NULL, 4096, remove_self, &a);
	b.w = watch_add(h, NULL, 4096, remove_self, &b);
	publish(h, 1, 0, "default", STORE_QUEUED);
	ck_assert_ptr_null(a.w);
	ck_assert_ptr_null(b.w);
	ck_assert_uint_eq(watch_count(h), 0);
	watch_hub_free(h);
}
END_TEST

/* The events about no one job's state: to the watchers without an id or
 * group filter (and of the queue, when one is named); a duplicate to
 * whoever watches the holder; and each is a JSON line. */
START_TEST(test_other_events)
{
	struct watch_hub *h = watch_hub_new();
	struct sink *all = calloc(1, sizeof(*all)), *q = calloc(1, sizeof(*q));
	struct sink *one = calloc(1, sizeof(*one));
	struct watch_filter fq = { .queue = "batch" }, fi = { .id = 9 };
	struct watch_job dup = { .id = 20, .queue = "default", .kind = "sleep",
		.name = "a\"b", .state = STORE_QUEUED, .uid = (uid_t)-1 };
	struct watcher *w[3];
	json_t *v;
	char *line;

	w[0] = watch_add(h, NULL, 65536, notify, all);
	w[1] = watch_add(h, &fq, 65536, notify, q);
	w[2] = watch_add(h, &fi, 65536, notify, one);
	watch_publish_queue(h, "default", true);
	watch_publish_pruned(h, NULL, 12);
	watch_publish_pruned(h, "batch", 0);    /* nothing deleted: no event */
	watch_publish_pruned(h, "batch", 3);
	watch_publish_duplicate(h, &dup, 9);
	ck_assert_int_eq(all->notified, 4);
	ck_assert_int_eq(q->notified, 2);
	ck_assert_int_eq(one->notified, 1);
	watch_take(w[0], take, all);
	watch_take(w[1], take, q);
	watch_take(w[2], take, one);
	ck_assert_str_eq(q->got, "{\"event\":\"pruned\",\"queue\":null,"
	    "\"deleted\":12}\n{\"event\":\"pruned\",\"queue\":\"batch\","
	    "\"deleted\":3}\n");
	ck_assert_str_eq(one->got, "{\"event\":\"duplicate\",\"id\":9,"
	    "\"queue\":\"default\",\"kind\":\"sleep\",\"name\":\"a\\\"b\"}\n");
	ck_assert_ptr_nonnull(strstr(all->got, "{\"event\":\"queue\","
	    "\"queue\":\"default\",\"paused\":true}\n"));
	for (line = all->got; *line != '\0'; line = strchr(line, '\n') + 1) {
		ck_assert_ptr_nonnull(v = json_loadb(line,
		    (size_t)(strchr(line, '\n') - line), 0, NULL));
		json_decref(v);
	}
	for (int i = 0; i < 3; i++)
		watch_remove(w[i]);
	watch_hub_free(h);
	free(all);
	free(q);
	free(one);
}
END_TEST

/* Watchers without a filter share one log: each gets every event, in
 * order, whenever it takes (by callback or by buffer), the same bytes a
 * watcher with its own buffer gets; one that stalls loses events alone
 * and rejoins after its take; one removed mid-stream frees its place. */
START_TEST(test_shared_log)
{
	struct watch_hub *h = watch_hub_new();
	struct sink *own = calloc(1, sizeof(*own)), *a = calloc(1, sizeof(*a));
	struct sink *b = calloc(1, sizeof(*b)), *slow = calloc(1, sizeof(*slow));
	struct watch_filter any = { .queue = "default" };
	struct watcher *wo = watch_add(h, &any, 1 << 20, notify, own);
	struct watcher *wa = watch_add(h, NULL, 1 << 20, notify, a);
	struct watcher *wb = watch_add(h, NULL, 1 << 20, notify, b);
	struct watcher *ws = watch_add(h, NULL, 8192, notify, slow);
	struct watcher *gone = watch_add(h, NULL, 1 << 20, notify, slow);
	char *buf;
	size_t n;

	for (int i = 1; i <= 2000; i++) {
		publish(h, i, 0, "default", i % 3 ? STORE_RUNNING :
		    STORE_SUCCEEDED);
		if (i % 7 == 0)
			watch_take(wa, take, a);
		if (i % 500 == 0 && (n = watch_take_buf(wb, &buf)) > 0) {
			take(b, buf, n);
			free(buf);
		}
		if (i == 100) {
			watch_remove(gone);
			watch_take(ws, take, slow);
		}
	}
	watch_take(wo, take, own);
	watch_take(wa, take, a);
	ck_assert_uint_eq(watch_pending(wb), 0);        /* took at 2000 */
	ck_assert_int_eq(watch_take_buf(wb, &buf), 0);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(count(own->got, "{\"event\":\"job\""), 2000);
	ck_assert_str_eq(a->got, own->got);
	ck_assert_str_eq(b->got, own->got);
	/* slow filled its 8 KiB twice: before its take at 100, and after
	 * it rejoined (at 101) until now. */
	watch_take(ws, take, slow);
	ck_assert_int_eq(count(slow->got, "\"event\":\"dropped\""), 2);
	ck_assert_uint_eq(watch_dropped(h), (uint64_t)(2000 -
	    count(slow->got, "{\"event\":\"job\"")));
	ck_assert_ptr_nonnull(strstr(slow->got, "\"id\":101,"));
	/* It rejoined: the next event comes, nothing dropped. */
	slow->len = 0;
	publish(h, 2001, 0, "other", STORE_QUEUED);
	watch_take(ws, take, slow);
	ck_assert_int_eq(count(slow->got, "\"id\":2001,"), 1);
	ck_assert_int_eq(count(slow->got, "dropped"), 0);
	ck_assert_uint_eq(watch_pending(wo), 0);        /* other queue */
	watch_remove(wo);
	watch_remove(wa);
	watch_remove(wb);
	watch_remove(ws);
	watch_hub_free(h);
	free(own);
	free(a);
	free(b);
	free(slow);
}
END_TEST

static Suite *
watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");

	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_line_is_json);
	tcase_add_test(tc, test_bounded_and_dropped);
	tcase_add_test(tc, test_remove_in_notify);
	tcase_add_test(tc, test_other_events);
	tcase_add_test(tc, test_shared_log);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(watch_suite());
}
