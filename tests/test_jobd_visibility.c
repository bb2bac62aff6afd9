/*
 * test_jobd_visibility.c — whose jobs a client sees (visibility), with
 * real users on real connections.
 *
 * The runner process makes two groups and three users (names ending in
 * its pid), and removes them after the tests, passed or failed:
 *   jdvg_PID   the socket's group (socket_mode 0660)
 *   jdva_PID   admin_group
 *   jdv1_PID   alice, in the socket group
 *   jdv2_PID   bob, in the socket group
 *   jdv3_PID   carol, in both: an admin
 * jobd runs as root.  Each user's connection is made by a child that
 * became the user (tu_connect_as), so jobd reads that user's SO_PEERCRED
 * and SO_PEERGROUPS; the test then speaks the protocol on it.
 *
 * What is checked: with visibility = own (the default) a job or group of
 * another user answers exactly as one that does not exist — the same
 * code, the same message, no other field, and at once (a wait does not
 * wait) — for get, wait, cancel and group ops, whether it is queued,
 * running or ended; list shows the client's own jobs only; root and
 * admin_group see every job; visibility = all shows every job to everyone
 * and a reload switches live.
 *
 * Making users needs root and useradd: without them the test says why
 * and is skipped (77).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tu_jobd.h"
#include "tu_users.h"

static struct tu_user alice, bob, carol;
static char sock_group[32], admin_group[32];
static char setup_err[256];

/* ---- the users (runner process) ------------------------------------------ */

static void
users_setup(void)
{
	char both[80];

	tu_group_add(sock_group, sizeof(sock_group), "jdvg", setup_err,
	    sizeof(setup_err));
	tu_group_add(admin_group, sizeof(admin_group), "jdva", setup_err,
	    sizeof(setup_err));
	snprintf(both, sizeof(both), "%s,%s", sock_group, admin_group);
	tu_user_add(&alice, "jdv1", sock_group, setup_err, sizeof(setup_err));
	tu_user_add(&bob, "jdv2", sock_group, setup_err, sizeof(setup_err));
	tu_user_add(&carol, "jdv3", both, setup_err, sizeof(setup_err));
}

static void
users_teardown(void)
{
	tu_user_del(&alice);
	tu_user_del(&bob);
	tu_user_del(&carol);
	tu_group_del(sock_group);
	tu_group_del(admin_group);
}

/* ---- helpers ------------------------------------------------------------- */

#define VIS_CONF                                                             \
	TJ_DAEMON "socket_mode = 0660\nsocket_group = %s\nadmin_group = %s\n" \
	"%s[queue.default]\nworkers = 8\ncapacity = 100\n"

static void
start_as_root(const char *extra)
{
	ck_assert_msg(setup_err[0] == '\0', "%s", setup_err);
	tj_start(VIS_CONF, sock_group, admin_group, extra);
	tu_open_dirs(tj_path("jobd.sock"));
}

static struct tj_conn *
conn_as(const struct tu_user *u)
{
	return tj_adopt(tu_connect_as(u, tj_path("jobd.sock")));
}

/* The answer must be exactly {"ok":false,"error":{"code":"not_found",
 * "message":"no WHAT N"}}: nothing in it tells a hidden job (group) from
 * a missing one. */
static void
assert_none(json_t *a, const char *what, json_int_t n)
{
	char want[64];

	snprintf(want, sizeof(want), "no %s %lld", what, (long long)n);
	tj_assert_err(a, "not_found");
	ck_assert_msg(json_object_size(a) == 2 &&
	    json_object_size(tj_at(a, "error")) == 2, "extra fields: %s",
	    tj_dump(a));
	ck_assert_str_eq(tj_str(a, "error.message"), want);
}

/* Every op that names job id (or group gid, when > 0) answers c as if it
 * did not exist; a wait answers at once, not after its timeout. */
static void
assert_hidden(struct tj_conn *c, json_int_t id, json_int_t gid)
{
	double t0 = tj_now();

	assert_none(tj_req(c, "{'op':'get','id':%lld}", (long long)id),
	    "job", id);
	assert_none(tj_req(c, "{'op':'wait','id':%lld,'timeout':60}",
	    (long long)id), "job", id);
	assert_none(tj_req(c, "{'op':'cancel','id':%lld}", (long long)id),
	    "job", id);
	if (gid > 0) {
		assert_none(tj_req(c, "{'op':'wait','group':%lld,"
		    "'timeout':60}", (long long)gid), "group", gid);
		assert_none(tj_req(c, "{'op':'cancel','group':%lld}",
		    (long long)gid), "group", gid);
	}
	ck_assert_msg(tj_now() - t0 < 30, "a hidden job's wait waited");
}

/* The ids of c's list (filters: the inside of the request after "op"),
 * newest first, into ids[max]; how many. */
static size_t
list_ids(struct tj_conn *c, const char *filters, json_int_t *ids,
    size_t max)
{
	json_t *a = tj_req(c, "{'op':'list'%s%s}", filters[0] ? "," : "",
	    filters);
	json_t *jobs = tj_at(a, "jobs");
	size_t n = json_array_size(jobs);

	tj_assert_ok(a);
	ck_assert_uint_le(n, max);
	for (size_t i = 0; i < n; i++)
		ids[i] = json_integer_value(json_object_get(
		    json_array_get(jobs, i), "id"));
	return n;
}

static json_int_t
submit_sleep(struct tj_conn *c, double secs)
{
	return tj_submit(c, "'kind':'sleep','args':{'seconds':%g}", secs);
}

/* ---- the tests ----------------------------------------------------------- */

START_TEST(test_own_jobs_only)
{
	struct tj_conn *root, *a, *b, *adm;
	json_int_t a1, a2, b1, r1, ga, missing, ids[16];
	json_t *ans;

	start_as_root("");              /* visibility's default: own */
	root = tj_connect();
	a = conn_as(&alice);
	b = conn_as(&bob);
	adm = conn_as(&carol);

	r1 = submit_sleep(root, 60);
	a1 = submit_sleep(a, 60);
	a2 = submit_sleep(a, 0);
	ans = tj_req(a, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}}]}");
	tj_assert_ok(ans);
	ga = tj_int(ans, "group");
	b1 = submit_sleep(b, 0);
	tj_wait(a, a2, TJ_TIMEOUT);
	tj_wait(b, b1, TJ_TIMEOUT);
	tj_wait_state(root, a1, "running", TJ_TIMEOUT);
	missing = b1 + 1000;

	/* Bob: alice's running, queued and ended jobs, her group and root's
	 * job are answered as the missing job and a missing group are. */
	assert_hidden(b, missing, missing);
	assert_hidden(b, a1, ga);       /* running, and a live group */
	assert_hidden(b, a2, 0);        /* ended */
	assert_hidden(b, tj_int(ans, "ids.1"), 0);
	assert_hidden(b, r1, 0);
	/* ... and stay as they were. */
	ck_assert_str_eq(tj_str(tj_job(root, a1), "state"), "running");
	tj_assert_err(tj_req(a, "{'op':'wait','group':%lld,'timeout':0}",
	    (long long)ga), "timeout");

	/* Each lists its own jobs only, with the filters applied. */
	ck_assert_uint_eq(list_ids(b, "", ids, 16), 1);
	ck_assert_int_eq(ids[0], b1);
	ck_assert_uint_eq(list_ids(b, "'state':'running'", ids, 16), 0);
	ck_assert_uint_eq(list_ids(a, "", ids, 16), 4);
	ck_assert_int_eq(ids[0], tj_int(ans, "ids.1"));
	ck_assert_int_eq(ids[3], a1);
	ck_assert_uint_eq(list_ids(a, "'state':'succeeded'", ids, 16), 1);
	ck_assert_int_eq(ids[0], a2);
	ck_assert_uint_eq(list_ids(a, "'queue':'default','limit':2", ids,
	    16), 2);

	/* Its owner sees and cancels it; so may admin_group and root. */
	ck_assert_str_eq(tj_str(tj_job(a, a1), "state"), "running");
	ck_assert_int_eq(tj_int(tj_job(b, b1), "submitted_by.uid"), bob.uid);
	ck_assert_uint_eq(list_ids(adm, "", ids, 16), 6);
	ck_assert_uint_eq(list_ids(root, "", ids, 16), 6);
	ck_assert_int_eq(tj_int(tj_job(adm, b1), "submitted_by.uid"),
	    bob.uid);
	tj_assert_ok(tj_req(adm, "{'op':'cancel','id':%lld}",
	    (long long)a1));
	tj_assert_ok(tj_req(a, "{'op':'cancel','group':%lld}",
	    (long long)ga));
	tj_assert_ok(tj_req(root, "{'op':'cancel','id':%lld}",
	    (long long)r1));
	/* Ended now: still hidden from bob, not "not_cancellable". */
	assert_hidden(b, a1, ga);
	tj_assert_err(tj_req(a, "{'op':'cancel','id':%lld}", (long long)a1),
	    "not_cancellable");
}
END_TEST

/* visibility = all: everyone sees every job (a cancel of another's is
 * forbidden, saying why); a reload to own hides them at once. */
START_TEST(test_all_then_reload_to_own)
{
	struct tj_conn *root, *a, *b;
	json_int_t a1, ids[8];
	double end;

	start_as_root("visibility = all\n");
	root = tj_connect();
	a = conn_as(&alice);
	b = conn_as(&bob);
	a1 = submit_sleep(a, 60);
	ck_assert_int_eq(tj_int(tj_job(b, a1), "submitted_by.uid"),
	    alice.uid);
	tj_assert_err(tj_req(b, "{'op':'cancel','id':%lld}", (long long)a1),
	    "forbidden");
	ck_assert_uint_eq(list_ids(b, "", ids, 8), 1);

	tj_conf(VIS_CONF, sock_group, admin_group, "visibility = own\n");
	tj_signal(SIGHUP);
	end = tj_now() + TJ_TIMEOUT;
	while (tj_code(tj_req(b, "{'op':'get','id':%lld}", (long long)a1)) ==
	    NULL) {
		ck_assert_msg(tj_now() < end, "the reload did not apply");
		tj_sleep(0.05);
	}
	assert_hidden(b, a1, 0);
	ck_assert_uint_eq(list_ids(b, "", ids, 8), 0);
	ck_assert_uint_eq(list_ids(a, "", ids, 8), 1);
	tj_assert_ok(tj_req(a, "{'op':'cancel','id':%lld}", (long long)a1));
	(void)root;
}
END_TEST

static Suite *
visibility_suite(void)
{
	Suite *s = suite_create("jobd_visibility");
	TCase *tc = tj_tcase("visibility", 60);

	tcase_add_unchecked_fixture(tc, users_setup, users_teardown);
	tcase_add_test(tc, test_own_jobs_only);
	tcase_add_test(tc, test_all_then_reload_to_own);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_users_main("test_jobd_visibility", visibility_suite);
}
