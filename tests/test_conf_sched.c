/*
 * test_conf_sched.c — [schedule.NAME] sections (conf.h: struct
 * conf_schedule): every key, the job's submit fields checked as a
 * client's, each refusal with its exact FILE:LINE, and the dump.
 *
 * Each test runs in a fresh temporary directory, so errors read
 * "jobd.conf:LINE: ...".
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "testutil.h"

static char tmpdir[64];
static char oldcwd[PATH_MAX];
static char err[CONF_ERRLEN];

static void
setup(void)
{
	ck_assert_ptr_nonnull(getcwd(oldcwd, sizeof(oldcwd)));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf_sched.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(chdir(tmpdir), 0);
}

static void
teardown(void)
{
	unlink("jobd.conf");
	unlink("dump.conf");
	ck_assert_int_eq(chdir(oldcwd), 0);
	ck_assert_int_eq(rmdir(tmpdir), 0);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static struct conf *
ok(const char *text)
{
	struct conf *c = NULL;

	put("jobd.conf", text);
	ck_assert_msg(conf_load("jobd.conf", &c, err, sizeof(err)) == 0,
	    "%s", err);
	return c;
}

static void
bad(const char *text, const char *want)
{
	struct conf *c = NULL;

	put("jobd.conf", text);
	ck_assert_int_eq(conf_load("jobd.conf", &c, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, want);
}

/* Only the start of the message matters (it goes on with details). */
static void
bad_prefix(const char *text, const char *want)
{
	struct conf *c = NULL;

	put("jobd.conf", text);
	ck_assert_int_eq(conf_load("jobd.conf", &c, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
}

#define NIGHTLY "[schedule.nightly]\ncron = 30 2 * * *\nkind = sleep\n" \
	"args = {\"seconds\":0}\n"

START_TEST(test_minimal)
{
	struct conf *c = ok(NIGHTLY);
	const struct conf_schedule *s;
	json_t *sub;

	ck_assert_uint_eq(conf_schedule_count(c), 1);
	s = conf_schedule(c, 0);
	ck_assert_ptr_null(conf_schedule(c, 1));
	ck_assert_str_eq(s->name, "nightly");
	ck_assert_str_eq(s->cron, "30 2 * * *");
	ck_assert_ptr_null(s->timezone);
	ck_assert_int_eq(s->overlap, CONF_OVERLAP_SKIP);
	ck_assert_int_eq(s->catch_up, CONF_CATCH_UP_LATEST);
	ck_assert(!s->paused);
	ck_assert_int_eq(s->line, 1);
	sub = json_loads(s->submit, 0, NULL);
	ck_assert_ptr_nonnull(sub);
	ck_assert_str_eq(json_string_value(json_object_get(sub, "kind")),
	    "sleep");
	ck_assert(json_is_object(json_object_get(sub, "args")));
	json_decref(sub);
	conf_free(c);
}
END_TEST

START_TEST(test_every_key)
{
	struct conf *c = ok("[queue.bk]\n"
	    "[schedule.backup]\n"
	    "cron = @daily\n"
	    "timezone = Europe/Berlin\n"
	    "kind = exec\n"
	    "args = {\"argv\":[\"/bin/true\"]}\n"
	    "queue = bk\n"
	    "name = nightly backup\n"
	    "timeout = 15m\n"
	    "max_attempts = 2\n"
	    "idempotent = no\n"
	    "unique_key = backup\n"
	    "overlap = allow\n"
	    "catch_up = all\n"
	    "paused = yes\n");
	const struct conf_schedule *s = conf_schedule(c, 0);
	json_t *sub = json_loads(s->submit, 0, NULL);

	ck_assert_str_eq(s->timezone, "Europe/Berlin");
	ck_assert_int_eq(s->overlap, CONF_OVERLAP_ALLOW);
	ck_assert_int_eq(s->catch_up, CONF_CATCH_UP_ALL);
	ck_assert(s->paused);
	ck_assert_str_eq(json_string_value(json_object_get(sub, "queue")),
	    "bk");
	ck_assert_str_eq(json_string_value(json_object_get(sub, "name")),
	    "nightly backup");
	ck_assert(json_number_value(json_object_get(sub, "timeout")) == 900);
	ck_assert_int_eq(json_integer_value(json_object_get(sub,
	    "max_attempts")), 2);
	ck_assert(json_is_false(json_object_get(sub, "idempotent")));
	ck_assert_str_eq(json_string_value(json_object_get(sub,
	    "unique_key")), "backup");
	json_decref(sub);
	conf_free(c);
}
END_TEST

/* The list: 6 fields, 61, a zero step, an unknown zone. */
START_TEST(test_bad_cron_and_zone)
{
	bad_prefix("[schedule.a]\ncron = * * * * * *\n",
	    "jobd.conf:2: cron: ");
	bad_prefix("[schedule.a]\ncron = 61 * * * *\n", "jobd.conf:2: cron: ");
	bad_prefix("[schedule.a]\ncron = */0 * * * *\n",
	    "jobd.conf:2: cron: ");
	bad_prefix("[schedule.a]\ncron = @often\n", "jobd.conf:2: cron: ");
	bad_prefix("[schedule.a]\ncron = * * * * *\ntimezone = Mars/Olympus\n",
	    "jobd.conf:3: timezone: ");
	bad_prefix("[schedule.a]\ncron = * * * * *\ntimezone = ../etc/passwd\n",
	    "jobd.conf:3: timezone: ");
}
END_TEST

START_TEST(test_bad_keys)
{
	bad_prefix("[schedule.a]\ncron = * * * * *\ncolour = red\n",
	    "jobd.conf:3: unknown key \"colour\" in a [schedule.NAME] "
	    "section; known keys: cron, timezone, ");
	bad("[schedule.a]\ncron = * * * * *\ncron = 1 * * * *\n",
	    "jobd.conf:3: duplicate key \"cron\" in [schedule.a] (first set "
	    "at line 2)");
	bad("[schedule.a]\noverlap = never\n",
	    "jobd.conf:2: overlap: must be skip or allow, not \"never\"");
	bad("[schedule.a]\ncatch_up = some\n",
	    "jobd.conf:2: catch_up: must be latest, none or all, not "
	    "\"some\"");
	bad_prefix("[schedule.a]\npaused = maybe\n",
	    "jobd.conf:2: paused: must be no, yes, ");
	bad("[schedule.a]\nkind = teleport\n",
	    "jobd.conf:2: kind: unknown kind \"teleport\"");
	bad("[schedule.a]\nargs = {\"seconds\":\n",
	    "jobd.conf:2: args: not valid JSON: {\"seconds\":");
	bad_prefix("[schedule.a]\nargs = [1]\n", "jobd.conf:2: ");
	bad_prefix("[schedule.a]\ntimeout = -3\n", "jobd.conf:2: timeout: ");
	bad_prefix("[schedule.a]\ntimeout = 7x\n", "jobd.conf:2: timeout: ");
	bad("[schedule.a]\nmax_attempts = two\n",
	    "jobd.conf:2: max_attempts: must be an integer, not \"two\"");
	bad_prefix("[schedule.a]\nmax_attempts = 0\n",
	    "jobd.conf:2: field \"max_attempts\"");
	bad_prefix("[schedule.a]\nidempotent = perhaps\n",
	    "jobd.conf:2: idempotent: must be ");
}
END_TEST

START_TEST(test_section_checks)
{
	bad("[schedule.a]\nkind = sleep\nargs = {\"seconds\":0}\n",
	    "jobd.conf:1: [schedule.a] needs a cron line (cron = ...)");
	bad("\n[schedule.a]\ncron = @hourly\n",
	    "jobd.conf:2: [schedule.a] needs a kind (kind = ...)");
	bad_prefix("[schedule.a]\ncron = @hourly\nkind = sleep\n"
	    "args = {\"seconds\":\"x\"}\n", "jobd.conf:4: args: ");
	bad_prefix("[schedule.a]\ncron = @hourly\nkind = sleep\n",
	    "jobd.conf:1: args: ");     /* {} has no seconds */
	bad("[schedule.a]\ncron = @hourly\nkind = sleep\n"
	    "args = {\"seconds\":1}\nqueue = nowhere\n",
	    "jobd.conf:5: queue: no [queue.nowhere] section (a schedule's "
	    "queue must be configured)");
	bad("[schedule.a b]\n", "jobd.conf:1: bad schedule name \"a b\": use "
	    "1 to 64 of A-Z a-z 0-9 _ . -");
	bad("[schedule.]\n", "jobd.conf:1: bad schedule name \"\": use "
	    "1 to 64 of A-Z a-z 0-9 _ . -");
	bad(NIGHTLY "[schedule.nightly]\n",
	    "jobd.conf:5: duplicate section [schedule.nightly] (first at "
	    "line 1)");
}
END_TEST

/* A schedule may name a queue declared after it. */
START_TEST(test_queue_declared_later)
{
	struct conf *c = ok(NIGHTLY "queue = late\n[queue.late]\n");

	ck_assert_uint_eq(conf_schedule_count(c), 1);
	conf_free(c);
}
END_TEST

START_TEST(test_dump_round_trip)
{
	struct conf *c = ok("[schedule.x]\ncron = */5 * * * 1-5\n"
	    "timezone = America/New_York\nkind = sleep\n"
	    "args = {\"seconds\":0.5}\ntimeout = 90\nname = five\n"
	    "idempotent = yes\ncatch_up = none\n" NIGHTLY);
	struct conf *c2 = NULL;
	FILE *f = fopen("dump.conf", "w");

	ck_assert_ptr_nonnull(f);
	conf_dump(f, c);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(conf_load("dump.conf", &c2, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_uint_eq(conf_schedule_count(c2), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct conf_schedule *a = conf_schedule(c, i);
		const struct conf_schedule *b = conf_schedule(c2, i);

		ck_assert_str_eq(a->name, b->name);
		ck_assert_str_eq(a->cron, b->cron);
		ck_assert_str_eq(a->submit, b->submit);
		ck_assert_int_eq(a->catch_up, b->catch_up);
		ck_assert(a->paused == b->paused);
	}
	conf_free(c);
	conf_free(c2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf_sched");
	TCase *tc = tcase_create("conf_sched");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_minimal);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_bad_cron_and_zone);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_section_checks);
	tcase_add_test(tc, test_queue_declared_later);
	tcase_add_test(tc, test_dump_round_trip);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
