/*
 * test_jobd_ident.c — who may do what on jobd's socket, with real users.
 *
 * The runner process makes two groups and three users, their names ending
 * in its pid so that two runs at once do not collide:
 *   jdtg_PID   the socket's group (socket_mode 0660)
 *   jdta_PID   admin_group
 *   jdt1_PID   in neither group: may not even connect
 *   jdt2_PID   in the socket group: a plain user
 *   jdt3_PID   in both: an admin
 * and removes them after the tests, passed or failed (an unchecked
 * fixture runs in the runner, which a failing test does not take down).
 * jobd runs as root; jobctl runs as each user (fork, initgroups, setgid,
 * setuid, exec), as a login would set the user up.  What jobd recorded
 * is read back with the sqlite3 shell and with get.
 *
 * Making users needs root and useradd: without them the test says why
 * and passes without running.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_jobd.h"
#include "tu_users.h"

static struct tu_user outsider, plain, admin;
static char sock_group[32], admin_group[32];
static char setup_err[256];             /* why the users are not there */

/* ---- the users (runner process) ------------------------------------------ */

static void
users_setup(void)
{
	char both[80];

	tu_group_add(sock_group, sizeof(sock_group), "jdtg", setup_err,
	    sizeof(setup_err));
	tu_group_add(admin_group, sizeof(admin_group), "jdta", setup_err,
	    sizeof(setup_err));
	snprintf(both, sizeof(both), "%s,%s", sock_group, admin_group);
	tu_user_add(&outsider, "jdt1", NULL, setup_err, sizeof(setup_err));
	tu_user_add(&plain, "jdt2", sock_group, setup_err, sizeof(setup_err));
	tu_user_add(&admin, "jdt3", both, setup_err, sizeof(setup_err));
}

/* Whatever setup managed to make goes, even after a failed test. */
static void
users_teardown(void)
{
	tu_user_del(&outsider);
	tu_user_del(&plain);
	tu_user_del(&admin);
	tu_group_del(sock_group);
	tu_group_del(admin_group);
}

/* ---- jobctl as a user ---------------------------------------------------- */

/* The child: become u and exec jobctl with argv; never returns. */
static void __attribute__((noreturn))
ctl_child(const struct tu_user *u, int out, char **argv)
{
	dup2(out, 1);
	dup2(out, 2);
	if (initgroups(u->name, u->gid) < 0 || setgid(u->gid) < 0 ||
	    setuid(u->uid) < 0) {
		dprintf(2, "become %s: %s\n", u->name, strerror(errno));
		_exit(126);
	}
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Read fd to its end (up to TJ_TIMEOUT); the text, kept by the harness. */
static char *
read_all(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double end = tj_now() + TJ_TIMEOUT;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		ck_assert_msg(poll(&p, 1, 100) >= 0 || errno == EINTR, "poll");
		ck_assert_msg(tj_now() < end, "jobctl did not finish");
		if (p.revents == 0)
			continue;
		if (len + 1 == cap)
			ck_assert_ptr_nonnull(buf = realloc(buf, cap *= 2));
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* What one jobctl run as a user did. */
struct run {
	int status;             /* its exit status */
	pid_t pid;
	char *out;              /* stdout and stderr (malloc'd) */
	json_t *answer;         /* the --json answer line, or NULL */
};

/* jobctl -s SOCKET --json ARGS... (NULL-terminated) as u. */
static void
ctl_as(struct run *r, const struct tu_user *u, ...)
{
	char *argv[16], bin[512], *line;
	int p[2], argc = 0, st;
	va_list ap;

	/* A copy the users can reach: the build dir may be in /root. */
	snprintf(bin, sizeof(bin), "%s", tu_reachable(tj_bin("jobctl")));
	argv[argc++] = bin;
	argv[argc++] = "-s";
	argv[argc++] = (char *)tj_path("jobd.sock");
	argv[argc++] = "--json";
	va_start(ap, u);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(r->pid = fork(), 0);
	if (r->pid == 0)
		ctl_child(u, p[1], argv);
	close(p[1]);
	r->out = read_all(p[0]);
	close(p[0]);
	ck_assert_int_eq(waitpid(r->pid, &st, 0), r->pid);
	ck_assert_msg(WIFEXITED(st), "jobctl as %s: killed", u->name);
	r->status = WEXITSTATUS(st);
	line = strstr(r->out, "{\"ok\"");
	r->answer = line != NULL ? json_loads(line, JSON_DISABLE_EOF_CHECK,
	    NULL) : NULL;
}

static void
run_free(struct run *r)
{
	free(r->out);
	json_decref(r->answer);
}

/* The answer's error code and message, asserted to be there. */
static void
assert_refused(struct run *r, int status, const char *code,
    const char *msg_part)
{
	const char *msg;

	ck_assert_msg(r->status == status && r->answer != NULL,
	    "status %d, output: %s", r->status, r->out);
	ck_assert_str_eq(tj_code(r->answer), code);
	msg = tj_str(r->answer, "error.message");
	ck_assert_msg(msg != NULL && strstr(msg, msg_part) != NULL,
	    "message \"%s\" lacks \"%s\"", msg, msg_part);
}

/* A submit or cancel as u that must succeed; a submit's id. */
static json_int_t
ok_as(const struct tu_user *u, const char *cmd, const char *arg1,
    const char *arg2)
{
	struct run r;
	json_int_t id = 0;

	ctl_as(&r, u, cmd, arg1, arg2, NULL);
	ck_assert_msg(r.status == 0 && r.answer != NULL &&
	    tj_code(r.answer) == NULL, "%s as %s: status %d, output: %s", cmd,
	    u->name, r.status, r.out);
	if (strcmp(cmd, "submit") == 0)
		id = tj_int(r.answer, "id");
	run_free(&r);
	return id;
}

static const char *
num(json_int_t v)
{
	static char buf[4][24];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%lld", (long long)v);
	return buf[i];
}

/* ---- the test ------------------------------------------------------------ */

START_TEST(test_who_may_do_what)
{
	struct tj_conn *c;
	json_int_t r, a, b, d;
	json_t *job;
	struct run x;
	char want[128];

	ck_assert_msg(setup_err[0] == '\0', "%s", setup_err);
	/* visibility = all: a plain user sees root's job, so the refusal
	 * to cancel it says why (test_jobd_visibility has own). */
	tj_start(TJ_DAEMON "socket_mode = 0660\nsocket_group = %s\n"
	    "admin_group = %s\nmax_queued_per_user = 2\nvisibility = all\n"
	    "[queue.default]\nworkers = 1\ncapacity = 100\n", sock_group,
	    admin_group);
	tu_open_dirs(tj_path("jobd.sock"));
	c = tj_connect();

	/* Not in the socket's group: the socket's mode keeps it out. */
	ctl_as(&x, &outsider, "ping", NULL);
	ck_assert_msg(x.status == 3 && strstr(x.out, "permission denied"),
	    "status %d, output: %s", x.status, x.out);
	run_free(&x);

	/* root's job runs (one worker); the user's queue behind it. */
	r = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, r, "running", TJ_TIMEOUT);
	ck_assert_int_eq(tj_int(tj_job(c, r), "submitted_by.uid"), 0);
	ck_assert_int_eq(tj_int(tj_job(c, r), "submitted_by.pid"), getpid());
	ctl_as(&x, &plain, "submit", "sleep", "30", NULL);
	ck_assert_msg(x.status == 0 && x.answer != NULL, "%s", x.out);
	a = tj_int(x.answer, "id");
	ck_assert_int_eq(tj_sql_int("SELECT submit_uid FROM jobs WHERE id = "
	    "%lld", (long long)a), plain.uid);
	ck_assert_int_eq(tj_sql_int("SELECT submit_gid FROM jobs WHERE id = "
	    "%lld", (long long)a), plain.gid);
	ck_assert_int_eq(tj_sql_int("SELECT submit_pid FROM jobs WHERE id = "
	    "%lld", (long long)a), x.pid);
	run_free(&x);
	job = tj_job(c, a);
	ck_assert_int_eq(tj_int(job, "submitted_by.uid"), plain.uid);
	ck_assert_int_eq(tj_int(job, "submitted_by.gid"), plain.gid);

	/* Not the user's job: forbidden, and it runs on. */
	ctl_as(&x, &plain, "cancel", num(r), NULL);
	assert_refused(&x, 1, "forbidden", "belongs to user 0");
	run_free(&x);
	ck_assert_str_eq(tj_str(tj_job(c, r), "state"), "running");

	/* Two queued at most. */
	b = ok_as(&plain, "submit", "sleep", "30");
	ctl_as(&x, &plain, "submit", "sleep", "30", NULL);
	snprintf(want, sizeof(want), "user %u has 2 jobs queued "
	    "(max_queued_per_user = 2)", (unsigned)plain.uid);
	assert_refused(&x, 1, "queue_full", want);
	run_free(&x);

	/* admin_group: may cancel anyone's job, has no limit. */
	ok_as(&admin, "cancel", num(a), NULL);
	for (int i = 0; i < 3; i++)
		ok_as(&admin, "submit", "sleep", "30");
	ck_assert_str_eq(tj_str(tj_job(c, a), "state"), "cancelled");

	/* root may cancel the user's job; the user its own. */
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)b));
	d = ok_as(&plain, "submit", "sleep", "30");
	ok_as(&plain, "cancel", num(d), NULL);
	ck_assert_str_eq(tj_str(tj_job(c, d), "state"), "cancelled");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)r));
}
END_TEST

static Suite *
ident_suite(void)
{
	Suite *s = suite_create("jobd_ident");
	TCase *tc = tj_tcase("users", 60);

	tcase_add_unchecked_fixture(tc, users_setup, users_teardown);
	tcase_add_test(tc, test_who_may_do_what);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_users_main("test_jobd_ident", ident_suite);
}
