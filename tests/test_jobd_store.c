/*
 * test_jobd_store.c — the [daemon] store key through the real jobd: the
 * default and an explicit `store = sqlite` keep jobs in the database file;
 * `store = postgresql` (named by the contract, not built yet) and an
 * unknown value stop jobd before it touches anything, with FILE:LINE.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tu_fault.h"

/* The config's lines 1-3 are tj_conf's [daemon], socket and database, so
 * the key is on line 4. */
START_TEST(test_sqlite_explicit)
{
	struct tj_conn *c;
	json_int_t id;

	tj_start("store = sqlite\n" TF_QUEUES);
	c = tj_connect();
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_close(c);
	tj_stop();
	ck_assert_int_eq(access(tj_path("jobd.db"), F_OK), 0);
}
END_TEST

/* jobd with "store = value" exits 1 saying msg, and makes no database. */
static void
refused(const char *value, const char *msg)
{
	tj_conf("store = %s\n" TF_QUEUES, value);
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL), 1);
	tf_stderr_has(msg);
	ck_assert_int_eq(access(tj_path("jobd.db"), F_OK), -1);
}

START_TEST(test_postgresql_not_built)
{
	refused("postgresql", "jobd.conf:4: store = postgresql: not built yet");
	/* --check-config says the same, for a package's pre-start check. */
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "--check-config", "-c",
	    "@conf", NULL), 1);
	tf_stderr_has("jobd.conf:4: store = postgresql: not built yet");
}
END_TEST

START_TEST(test_unknown_refused)
{
	refused("mysql", "jobd.conf:4: store: must be sqlite, not \"mysql\"");
}
END_TEST

static Suite *
jobd_store_suite(void)
{
	Suite *s = suite_create("jobd_store");
	TCase *tc = tj_tcase("store", 60);

	tcase_add_test(tc, test_sqlite_explicit);
	tcase_add_test(tc, test_postgresql_not_built);
	tcase_add_test(tc, test_unknown_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_store_suite());
}
