/*
 * test_jobd_dbfile.c — the real jobd when its database file is in the
 * way: locked by another process (an sqlite3 shell in BEGIN IMMEDIATE)
 * while jobd runs and at its start, moved away or deleted under it, and
 * damaged (at start, a page found bad while it runs, and the groups
 * table under a cancel of an ended group).
 * test_jobd_storage.c does the storage under the file: full, read-only.
 *
 * The promises are the same (docs/RELIABILITY.md, "Storage faults"): a
 * write waits for a lock up to busy_timeout and is never answered before
 * its commit; storage_error naming the file and the reason when the
 * database cannot take it; a job's end kept until it can; a log line
 * saying what and where; recovery by itself where the fault clears; a
 * clear refusal at start, leaving the file as it is, where it cannot.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_fault.h"

/* ---- locked by another process ------------------------------------------ */

/* An sqlite3 shell holding the database's write lock. */
struct locker {
	pid_t pid;
	int in, out;
	bool commits;                   /* by itself, after a while */
};

/* Start sqlite3 on the database with BEGIN IMMEDIATE and return once it
 * holds the lock; with hold > 0 it commits by itself hold s later. */
static void
lock_db(struct locker *l, double hold)
{
	int in[2], out[2];
	pid_t parent = getpid();
	char buf[256];
	size_t len = 0;
	ssize_t n;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_ge(l->pid = fork(), 0);
	if (l->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execlp("sqlite3", "sqlite3", "-batch", tj_path("jobd.db"),
		    (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	l->in = in[1];
	l->out = out[0];
	l->commits = hold > 0;
	dprintf(l->in, "BEGIN IMMEDIATE;\nSELECT 'held';\n");
	if (hold > 0)
		dprintf(l->in, ".shell sleep %.3f\nCOMMIT;\n", hold);
	while (memmem(buf, len, "held", 4) == NULL) {
		n = read(l->out, buf + len, sizeof(buf) - 1 - len);
		ck_assert_msg(n > 0, "sqlite3 did not take the lock");
		len += n;
	}
}

/* Commit (unless it does so itself) and wait for the shell to exit. */
static void
unlock_db(struct locker *l)
{
	int status;

	dprintf(l->in, "%s.quit\n", l->commits ? "" : "COMMIT;\n");
	close(l->in);
	ck_assert_int_eq(waitpid(l->pid, &status, 0), l->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "sqlite3 failed: %#x", status);
	close(l->out);
}

/* A short busy_timeout, to see it pass, and a long one, for a lock let go
 * within it even on a slow machine. */
#define LOCK_SHORT TJ_DAEMON "busy_timeout = 1\n" TF_QUEUES
#define LOCK_LONG TJ_DAEMON "busy_timeout = 10\n" TF_QUEUES

/* A write waits up to busy_timeout for the lock: it goes through if the
 * lock goes first, and fails past it; never answered before a commit.  A
 * job that ends meanwhile keeps its end until the lock goes. */
START_TEST(test_locked)
{
	struct tj_conn *c;
	struct locker l;
	json_int_t ending, id;
	double t0;
	json_t *a;

	tj_start(LOCK_LONG);
	c = tj_connect();
	lock_db(&l, 0);
	tj_send(c, "{'op':'submit','kind':'sleep','args':{'seconds':0}}");
	ck_assert_ptr_null(tj_line(c, 0.3));    /* waits for the commit */
	unlock_db(&l);
	id = tj_int(tj_recv(c), "id");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE id = "
	    "%lld", (long long)id), 1);

	/* Past busy_timeout: the submit fails, then the end (behind it). */
	tj_stop();
	tj_conf(LOCK_SHORT);
	tj_restart();
	c = tj_connect();
	ending = tf_start_running(c);
	lock_db(&l, 0);
	t0 = tj_now();
	a = tf_try_submit(c, 0);
	tj_assert_time(tj_now() - t0, 1.0, 2.0);
	tf_assert_storage_error(a, "jobd.db: ", "database is locked (another "
	    "process holds its write lock; waited 1000 ms)");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
	tf_log_has("database is locked (another process");
	tf_log_has("is kept in memory and written again");
	tf_assert_end_held(c, ending);
	unlock_db(&l);
	tf_assert_end_written(c, ending);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

/* Locked at start: jobd waits busy_timeout, then refuses to start; a
 * lock let go within it is waited for. */
START_TEST(test_locked_at_start)
{
	struct locker l;
	double t0;
	int code;

	tj_start(LOCK_SHORT);
	tj_stop();
	lock_db(&l, 0);
	t0 = tj_now();
	code = tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL);
	tj_assert_time(tj_now() - t0, 1.0, 3.0);
	ck_assert_int_eq(code, 1);
	tf_stderr_has("cannot open the database: ");
	tf_stderr_has("jobd.db: cannot lock: database is locked (another "
	    "process");
	unlock_db(&l);

	tj_conf(LOCK_LONG);
	lock_db(&l, 0.5);
	t0 = tj_now();
	tj_restart();
	ck_assert_msg(tj_now() - t0 >= 0.4, "started in %.3f s, while locked",
	    tj_now() - t0);
	unlock_db(&l);
	tj_submit(tj_connect(), "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

/* ---- deleted, moved, damaged --------------------------------------------- */

/* The file moved away under jobd, then back; then deleted.  SQLite would
 * go on writing to the file it has open; jobd refuses instead, and says
 * so.  Deleted, it stays so: a restart makes a new database. */
START_TEST(test_deleted_while_running)
{
	struct tj_conn *c;
	json_int_t id;

	tj_start(TJ_DAEMON TF_QUEUES);
	c = tj_connect();
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_int_eq(rename(tj_path("jobd.db"), tj_path("moved.db")), 0);
	tf_assert_storage_error(tf_try_submit(c, 0), "jobd.db: the database file "
	    "is gone", NULL);
	tf_log_has("not writing to a deleted file (writes fail until this "
	    "clears)");
	ck_assert_int_eq(rename(tj_path("moved.db"), tj_path("jobd.db")), 0);
	ck_assert_int_gt(tj_submit(c, "'kind':'sleep','args':{'seconds':0}"),
	    id);
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_wait_idle(c, TJ_TIMEOUT);

	ck_assert_int_eq(unlink(tj_path("jobd.db")), 0);
	tf_assert_storage_error(tf_try_submit(c, 0), "the database file is gone",
	    NULL);
	tj_stop();
	tj_restart();
	tf_log_has("schema migrated from version 0");
	c = tj_connect();
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Damaged at start (garbage, a file of another kind, a database cut
 * short): refused with SQLite's reason, exit 1, the file untouched. */
static void
refused(const void *data, size_t len, const char *why)
{
	char *after;
	size_t alen;

	write_file(tj_path("jobd.db"), data, len);
	unlink(tj_path("other.err"));
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL), 1);
	tf_stderr_has(why);
	tf_stderr_has("jobd.db: ");
	tf_stderr_has("jobd leaves the file as it is");
	ck_assert_ptr_nonnull(after = tf_slurp("jobd.db", &alen));
	ck_assert_msg(alen == len && memcmp(after, data, len) == 0,
	    "jobd changed the file");
	free(after);
}

/* 40 ended jobs of 1 KB each, written through to the file by a stop. */
static void
some_jobs(void)
{
	struct tj_conn *c = tj_connect();

	for (int i = 0; i < 40; i++)
		tj_submit(c, "'kind':'sleep','args':{'seconds':0,"
		    "'pad':'%01000d'}", i);
	tj_wait_idle(c, TJ_TIMEOUT);
	tj_close(c);
	tj_stop();
}

/* Restart jobd (stopped) and, under it, overwrite page (from 1) of its
 * database with 0xff: a damage SQLite notices when it reads that page. */
static void
smash_page(long long page)
{
	static char junk[65536];
	long long size = tj_sql_int("PRAGMA page_size");
	int fd;

	ck_assert_int_le(size, (long long)sizeof(junk));
	tj_restart();
	memset(junk, 0xff, sizeof(junk));
	ck_assert_int_ge(fd = open(tj_path("jobd.db"), O_WRONLY | O_CLOEXEC),
	    0);
	ck_assert_int_eq(pwrite(fd, junk, size, (page - 1) * size), size);
	close(fd);
}

START_TEST(test_damaged_at_start)
{
	static char junk[8192];
	const char *text = "these are my notes, not a database\n";
	char *db;
	size_t len;

	tj_conf(TJ_DAEMON TF_QUEUES);
	memset(junk, 0xab, sizeof(junk));
	refused(junk, sizeof(junk), "file is not a database");
	refused(text, strlen(text), "file is not a database");

	unlink(tj_path("jobd.db"));
	tj_restart();
	some_jobs();
	ck_assert_ptr_nonnull(db = tf_slurp("jobd.db", &len));
	ck_assert_uint_gt(len, 40000);
	refused(db, len / 2, "database disk image is malformed");
	free(db);
}
END_TEST

/* A page of the jobs table overwritten while jobd runs: reading a job on
 * it is answered storage_error and logged, the other jobs are served, and
 * jobd goes on taking new ones. */
START_TEST(test_damaged_page_while_running)
{
	struct tj_conn *c;
	long long page;
	int bad = 0, good = 0;
	json_t *a;

	tj_start(TJ_DAEMON TF_QUEUES);
	some_jobs();
	page = tj_sql_int("SELECT pageno FROM dbstat WHERE name = 'jobs' AND "
	    "pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET (SELECT "
	    "count(*) / 2 FROM dbstat WHERE name = 'jobs' AND pagetype = "
	    "'leaf')");
	smash_page(page);

	c = tj_connect();
	for (int id = 1; id <= 40; id++) {
		a = tj_req(c, "{'op':'get','id':%d}", id);
		if (tj_code(a) == NULL) {
			good++;
			continue;
		}
		tf_assert_storage_error(a, "jobd.db: ", "malformed");
		bad++;
	}
	ck_assert_int_gt(bad, 0);
	ck_assert_int_gt(good, 0);
	tf_log_has("a read failed: ");
	tf_log_has("database disk image is malformed");
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

/* The groups table's page overwritten under a running jobd, after the
 * group ended: a cancel of the group must read it from the store, and
 * that failed read is answered storage_error and logged, not
 * not_cancellable as if every job of the group had ended. */
START_TEST(test_damaged_group_cancel)
{
	struct tj_conn *c;
	long long page;
	json_int_t g;
	json_t *a;

	tj_start(TJ_DAEMON TF_QUEUES);
	c = tj_connect();
	a = tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0}},"
	    "{'kind':'sleep','args':{'seconds':0}}]}");
	ck_assert_ptr_null(tj_code(a));
	g = tj_int(a, "group");
	tj_assert_ok(tj_req(c, "{'op':'wait','group':%lld,'timeout':%g}",
	    (long long)g, TJ_TIMEOUT));
	tj_assert_err(tj_req(c, "{'op':'cancel','group':%lld}", (long long)g),
	    "not_cancellable");
	tj_close(c);
	tj_stop();
	page = tj_sql_int("SELECT rootpage FROM sqlite_schema WHERE name = "
	    "'groups'");
	smash_page(page);

	c = tj_connect();
	a = tj_req(c, "{'op':'cancel','group':%lld}", (long long)g);
	tf_assert_storage_error(a, "jobd.db: ", "malformed");
	tf_log_has("a read failed: ");
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

static Suite *
jobd_dbfile_suite(void)
{
	Suite *s = suite_create("jobd_dbfile");
	TCase *tc = tj_tcase("dbfile", 60);

	tcase_add_test(tc, test_locked);
	tcase_add_test(tc, test_locked_at_start);
	tcase_add_test(tc, test_deleted_while_running);
	tcase_add_test(tc, test_damaged_at_start);
	tcase_add_test(tc, test_damaged_page_while_running);
	tcase_add_test(tc, test_damaged_group_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_dbfile_suite());
}
