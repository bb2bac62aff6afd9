/*
 * test_jobd_unique.c — unique_key and unique_for against the real jobd:
 * a duplicate answers the holder's id with "duplicate": true and makes no
 * row, concurrent submits from several connections make one job, an
 * ended job frees the key unless unique_for covers it, across a restart
 * too; the bad inputs.
 */
#include <stdio.h>
#include <string.h>

#include "tu_jobd.h"

#define UNIQUE_CONF TJ_DAEMON "[queue.default]\nworkers = 4\n" \
	"capacity = 10000\ntimeout = 0\n"

START_TEST(test_duplicate_answers_the_holder)
{
	struct tj_conn *c;
	json_int_t a;
	json_t *r;

	tj_start(UNIQUE_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'unique_key':'k1'");
	r = tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':1},"
	    "'unique_key':'k1','queue':'default','tag':5}");
	tj_assert_ok(r);
	ck_assert_int_eq(tj_int(r, "id"), a);
	ck_assert(json_is_true(json_object_get(r, "duplicate")));
	ck_assert_int_eq(tj_int(r, "tag"), 5);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 1);
	ck_assert_str_eq(tj_str(tj_job(c, a), "unique_key"), "k1");
	/* A plain submit has no "duplicate" field. */
	r = tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'unique_key':'k2'}");
	ck_assert_ptr_null(json_object_get(r, "duplicate"));
	/* The holder ends: the key is free again. */
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)a));
	ck_assert_int_ne(tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'unique_key':'k1'"), a);
	tj_close(c);
}
END_TEST

/* Eight connections pipeline the same key at once: one job. */
START_TEST(test_concurrent_submits_make_one)
{
	struct tj_conn *c[8];
	json_int_t first = 0;
	int dups = 0;

	tj_start(UNIQUE_CONF);
	for (int i = 0; i < 8; i++)
		c[i] = tj_connect();
	for (int k = 0; k < 25; k++)
		for (int i = 0; i < 8; i++)
			tj_send(c[i], "{'op':'submit','kind':'sleep','args':"
			    "{'seconds':30},'unique_key':'race'}");
	for (int k = 0; k < 25; k++)
		for (int i = 0; i < 8; i++) {
			json_t *r = tj_recv(c[i]);

			tj_assert_ok(r);
			if (first == 0)
				first = tj_int(r, "id");
			ck_assert_int_eq(tj_int(r, "id"), first);
			dups += json_is_true(json_object_get(r, "duplicate"));
		}
	ck_assert_int_eq(dups, 199);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 1);
	for (int i = 0; i < 8; i++)
		tj_close(c[i]);
}
END_TEST

/* unique_for also counts ended jobs created in the window, across a
 * restart (the database decides, not memory). */
START_TEST(test_unique_for_window)
{
	struct tj_conn *c;
	json_int_t a;
	json_t *r;

	tj_start(UNIQUE_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'unique_key':'w'");
	tj_wait(c, a, TJ_TIMEOUT);
	tj_close(c);
	tj_stop();
	tj_restart();
	c = tj_connect();
	r = tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'unique_key':'w','unique_for':3600}");
	ck_assert_int_eq(tj_int(r, "id"), a);
	ck_assert(json_is_true(json_object_get(r, "duplicate")));
	/* Without the window, an ended holder holds nothing. */
	ck_assert_int_gt(tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'unique_key':'w'"), a);
	tj_close(c);
}
END_TEST

START_TEST(test_bad_input)
{
	char key[300];
	struct tj_conn *c;

	tj_start(UNIQUE_CONF);
	c = tj_connect();
	memset(key, 'k', 256);
	key[256] = '\0';
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'unique_key':''}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'unique_key':'%s'}", key), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'unique_key':7}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'unique_key':'a','unique_for':-1}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'unique_for':10}"), "bad_request");
	key[255] = '\0';
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'unique_key':'%s'",
	    key);
	tj_close(c);
}
END_TEST

static Suite *
jobd_unique_suite(void)
{
	Suite *s = suite_create("jobd_unique");
	TCase *tc = tj_tcase("unique", 60);

	tcase_add_test(tc, test_duplicate_answers_the_holder);
	tcase_add_test(tc, test_concurrent_submits_make_one);
	tcase_add_test(tc, test_unique_for_window);
	tcase_add_test(tc, test_bad_input);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_unique_suite());
}
