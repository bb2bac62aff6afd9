/*
 * test_jobd_storage.c — the real jobd when the storage under its database
 * fails while it runs: a full disk (a small tmpfs filled up, and a file
 * size limit), the file write-protected (while running and at start), and
 * a checkpoint that cannot write.  test_jobd_dbfile.c does the file
 * itself: locked, deleted, damaged.
 *
 * What each proves, as docs/RELIABILITY.md ("Storage faults") promises:
 * a submit the database did not take is answered storage_error with a
 * message naming the file and SQLite's error, never ok; acknowledged jobs
 * stay readable; a job that ends during the fault is not lost (its end is
 * kept in memory and written once the database takes it, and no one is
 * told it ended before that); the log says what failed and where, and
 * when it works again; jobd stays up and recovers by itself when the
 * fault clears, and refuses to start, naming the file, when it cannot use
 * it, without touching it.
 *
 * Faults that need privileges (mounting a tmpfs, the immutable flag) are
 * skipped with a message where they are not allowed; the file size limit
 * (prlimit on jobd) needs none, so a full disk is always tested.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_fault.h"

/* ---- faults --------------------------------------------------------------- */

/* Fill the file system of path with a file there; returns its size. */
static size_t
fill(const char *path)
{
	static char chunk[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t total = 0, n = sizeof(chunk);
	ssize_t w;

	ck_assert_int_ge(fd, 0);
	memset(chunk, 'x', sizeof(chunk));
	while (n > 0)
		if ((w = write(fd, chunk, n)) > 0)
			total += w;
		else
			n /= 2;                 /* fill the last pages too */
	ck_assert_int_eq(errno, ENOSPC);
	close(fd);
	return total;
}

/* The database on a tmpfs of size mounted on DIR/mnt (DIR/jobd.db links
 * to it), in a mount namespace of this test process and the jobd it
 * starts: the mount goes away with them even if the test dies midway.
 * False, with a message naming test, where mounting is not allowed. */
static bool
db_on_tmpfs(const char *size, const char *test)
{
	char opts[32];

	ck_assert_int_eq(mkdir(tj_path("mnt"), 0755), 0);
	snprintf(opts, sizeof(opts), "size=%s", size);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", tj_path("mnt"), "tmpfs", 0, opts) < 0) {
		fprintf(stderr, "%s: cannot mount a tmpfs (%s): skipped\n",
		    test, strerror(errno));
		return false;
	}
	ck_assert_int_eq(symlink(tj_path("mnt/jobd.db"), tj_path("jobd.db")),
	    0);
	return true;
}

/* A file write-protected by the immutable flag (which stops writes
 * through open descriptors too, on ext4 but not on tmpfs), and a guard
 * process that clears the flag if the test dies first: an immutable file
 * left in /tmp could not be deleted. */
struct guard {
	const char *path;
	pid_t pid;
	int fd;                         /* its end closes: the test is done */
};

/* Protect path; false, with a message naming test, where the flag cannot
 * be set (it needs CAP_LINUX_IMMUTABLE). */
static bool
protect(struct guard *g, const char *path, const char *test)
{
	int p[2];
	char c;

	g->path = path;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_ge(g->pid = fork(), 0);
	if (g->pid == 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		tu_immutable(path, false);
		_exit(0);
	}
	close(p[0]);
	g->fd = p[1];
	if (tu_immutable(path, true))
		return true;
	fprintf(stderr, "%s: no immutable files here (%s): skipped\n", test,
	    strerror(errno));
	close(g->fd);
	ck_assert_int_eq(waitpid(g->pid, NULL, 0), g->pid);
	return false;
}

static void
unprotect(struct guard *g)
{
	ck_assert(tu_immutable(g->path, false));
	close(g->fd);
	ck_assert_int_eq(waitpid(g->pid, NULL, 0), g->pid);
}

/* ---- a full disk --------------------------------------------------------- */

/* The database on a 4 MiB tmpfs, filled up while jobd runs. */
START_TEST(test_disk_full)
{
	struct tj_conn *c;
	json_int_t done, ending, id;
	json_t *a;

	if (!db_on_tmpfs("4m", "test_disk_full (test_file_size_limit fills "
	    "the disk another way)"))
		return;
	tj_start(TJ_DAEMON TF_QUEUES);
	c = tj_connect();
	ending = tf_start_running(c);
	done = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(c, done, TJ_TIMEOUT);
	fill(tj_path("mnt/filler"));

	/* Refused, with why and where; nothing recorded; jobd answers. */
	tf_assert_storage_error(tf_try_submit(c, 0), "mnt/jobd.db", "full");
	a = tj_req(c, "{'op':'submit_group','jobs':[{'kind':'sleep','args':"
	    "{'seconds':0}},{'kind':'sleep','args':{'seconds':0}}]}");
	tf_assert_storage_error(a, "mnt/jobd.db", "full");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
	ck_assert_str_eq(tj_str(tj_job(c, done), "state"), "succeeded");
	tj_assert_ok(tj_req(c, "{'op':'list'}"));
	tf_assert_end_held(c, ending);
	tf_log_has("database or disk is full (writes fail until this clears)");
	tf_log_has("is kept in memory and written again");

	/* Room again: jobd carries on by itself. */
	ck_assert_int_eq(unlink(tj_path("mnt/filler")), 0);
	tf_assert_end_written(c, ending);
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	tf_log_has("writes succeed again");
	tj_stop();
	ck_assert_int_eq(umount(tj_path("mnt")), 0);
}
END_TEST

static void
set_fsize(pid_t pid, rlim_t cur)
{
	struct rlimit rl;

	ck_assert_int_eq(prlimit(pid, RLIMIT_FSIZE, NULL, &rl), 0);
	rl.rlim_cur = cur;
	ck_assert_msg(prlimit(pid, RLIMIT_FSIZE, &rl, NULL) == 0, "prlimit: %s",
	    strerror(errno));
}

/* A file size limit on jobd (ulimit -f) stops every write that grows a
 * file: the WAL's, and the log's too.  jobd must neither die of SIGXFSZ
 * nor ack; lifting the limit is the disk freeing up. */
START_TEST(test_file_size_limit)
{
	struct tj_conn *c;
	json_int_t done, ending;

	tj_start(TJ_DAEMON TF_QUEUES);
	c = tj_connect();
	ending = tf_start_running(c);
	done = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(c, done, TJ_TIMEOUT);
	set_fsize(tj_pid(), 1);

	tf_assert_storage_error(tf_try_submit(c, 0), "jobd.db", "File too large");
	tf_assert_storage_error(tf_try_submit(c, 0), "jobd.db", "File too large");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
	tf_assert_end_held(c, ending);
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));

	set_fsize(tj_pid(), RLIM_INFINITY);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tf_assert_end_written(c, ending);
	tf_log_has("writes succeed again (");
	tj_stop();
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 3);
}
END_TEST

/* ---- write-protected ------------------------------------------------------- */

/* Made read-only under a running jobd (the WAL is where commits go), then
 * writable again. */
START_TEST(test_read_only_while_running)
{
	struct tj_conn *c;
	json_int_t ending;
	struct guard g;

	tj_start(TJ_DAEMON TF_QUEUES);
	c = tj_connect();
	ending = tf_start_running(c);
	if (!protect(&g, tj_path("jobd.db-wal"),
	    "test_read_only_while_running"))
		return;
	tf_assert_storage_error(tf_try_submit(c, 0), "jobd.db",
	    "Operation not permitted");
	tf_assert_end_held(c, ending);
	tf_log_has("Operation not permitted) (writes fail until this clears)");
	unprotect(&g);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tf_assert_end_written(c, ending);
}
END_TEST

/* A write-protected database at start: refused, named, left alone.  Root
 * ignores file modes: it gets the immutable flag too. */
START_TEST(test_read_only_at_start)
{
	char *before, *after;
	size_t blen, alen;
	struct guard g;
	int code;

	tj_start(TJ_DAEMON TF_QUEUES);
	tj_stop();
	ck_assert_ptr_nonnull(before = tf_slurp("jobd.db", &blen));
	ck_assert_int_eq(chmod(tj_path("jobd.db"), 0400), 0);
	if (geteuid() == 0 && !protect(&g, tj_path("jobd.db"),
	    "test_read_only_at_start (as root)")) {
		free(before);
		return;
	}
	code = tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL);
	if (geteuid() == 0)
		unprotect(&g);
	ck_assert_int_eq(code, 1);
	tf_stderr_has("jobd.db: the database file is read-only");
	ck_assert_ptr_nonnull(after = tf_slurp("jobd.db", &alen));
	ck_assert(alen == blen && memcmp(after, before, blen) == 0);
	free(before);
	free(after);
	ck_assert_int_eq(chmod(tj_path("jobd.db"), 0600), 0);
	tj_restart();
}
END_TEST

/* The main file write-protected, the WAL not: commits go on (and are
 * acked), the checkpoints that would copy them into the file fail and
 * say so; once it is writable a checkpoint succeeds, and nothing is
 * lost. */
START_TEST(test_checkpoint_fails)
{
	static char pad[8001];
	struct tj_conn *c;
	struct guard g;
	json_t *a;
	int i, n = 600;

	memset(pad, 'p', sizeof(pad) - 1);
	tj_start(TJ_DAEMON TF_QUEUES);
	c = tj_connect();
	if (!protect(&g, tj_path("jobd.db"), "test_checkpoint_fails"))
		return;
	/* 600 x 8 KB: past the 1000 pages of WAL that call a checkpoint */
	for (i = 0; i < n; i++)
		tj_send(c, "{'op':'submit','kind':'sleep','args':{'seconds':0,"
		    "'pad':'%s'}}", pad);
	for (i = 0; i < n; i++) {
		a = tj_recv(c);
		tj_assert_ok(a);
	}
	tf_log_has("jobd.db: checkpoint failed: disk I/O error (Operation not "
	    "permitted); commits go on into the WAL");
	unprotect(&g);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tf_log_has("jobd.db: checkpoint succeeded again");
	tj_wait_idle(c, 3 * TJ_TIMEOUT);
	tj_stop();
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'"), n + 1);
}
END_TEST

static Suite *
jobd_storage_suite(void)
{
	Suite *s = suite_create("jobd_storage");
	TCase *tc = tj_tcase("storage", 60);

	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_file_size_limit);
	tcase_add_test(tc, test_read_only_while_running);
	tcase_add_test(tc, test_read_only_at_start);
	tcase_add_test(tc, test_checkpoint_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_storage_suite());
}
