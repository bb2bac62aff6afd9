/*
 * test_jobd_storage.c — the real jobd when its database's storage fails:
 * a full disk (a small tmpfs, and a file size limit), a write-protected
 * file (at start and while running), a checkpoint that cannot write, the
 * database locked by an sqlite3 shell (while running and at start), the
 * file deleted or moved away, and a damaged file (at start and a page
 * found bad while running).
 *
 * What each proves, as docs/RELIABILITY.md ("Storage faults") promises:
 * a submit the database did not take is answered storage_error with a
 * message naming the file and SQLite's error, never ok; acknowledged jobs
 * stay readable; a job that ends during the fault is not lost (its end is
 * kept in memory and written once the database takes it, and no one is
 * told it ended before that); the log says what failed and where, and
 * when it works again; jobd stays up and recovers by itself when the
 * fault clears, and refuses to start, naming the file, when it cannot use
 * it — without touching it.
 *
 * Faults that need privileges (mounting a tmpfs, the immutable flag) are
 * skipped with a message where they are not allowed; the file size limit
 * (prlimit on jobd) needs none, so a full disk is always tested.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_jobd.h"

#define QUEUES "[queue.default]\nworkers = 4\ncapacity = 1000\ntimeout = 0\n"

/* ---- files ----------------------------------------------------------------- */

/* The bytes of DIR/name, NUL-terminated, malloc'ed (*lenp: their number,
 * if lenp is not NULL); NULL if it cannot be read. */
static char *
slurp(const char *name, size_t *lenp)
{
	FILE *f = fopen(tj_path(name), "re");
	char *buf;
	long len;

	if (f == NULL)
		return NULL;
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	ck_assert_int_ge(len = ftell(f), 0);
	rewind(f);
	ck_assert_ptr_nonnull(buf = malloc(len + 1));
	ck_assert_int_eq(fread(buf, 1, len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* What the last tj_run_jobd wrote (DIR/other.err) has needle. */
static void
other_err_has(const char *needle)
{
	char *s = slurp("other.err", NULL);

	ck_assert_msg(s != NULL && strstr(s, needle) != NULL,
	    "jobd's stderr lacks \"%s\":\n%s", needle, s);
	free(s);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

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

/* Make path write-protected even for root (the immutable flag), or undo
 * it.  False where the file system or the privileges do not allow it. */
static bool
immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), flags;
	bool ok;

	if (fd < 0)
		return false;
	ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	return ok;
}

/* A tmpfs of size on DIR/name, in a mount namespace of this test process
 * (and the jobd it starts): it goes away with them even if the test dies.
 * False (and a message) where mounting is not allowed. */
static bool
tmpfs_on(const char *name, const char *size, const char *test)
{
	char opts[32];

	ck_assert_int_eq(mkdir(tj_path(name), 0755), 0);
	snprintf(opts, sizeof(opts), "size=%s", size);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", tj_path(name), "tmpfs", 0, opts) < 0) {
		fprintf(stderr, "%s: cannot mount a tmpfs (%s): skipped; "
		    "test_file_size_limit fills the disk another way\n", test,
		    strerror(errno));
		return false;
	}
	return true;
}

/* jobd's log has needle, within TJ_TIMEOUT (a line may come just after
 * the answer it explains). */
static void
log_has(const char *needle)
{
	double end = tj_now() + TJ_TIMEOUT;

	while (strstr(tj_log(), needle) == NULL) {
		ck_assert_msg(tj_now() < end, "jobd's log lacks \"%s\":\n%s",
		    needle, tj_log());
		tj_sleep(0.02);
	}
}

/* ---- answers ------------------------------------------------------------- */

/* Submit a sleep; the answer, which may be an error. */
static json_t *
try_submit(struct tj_conn *c, double seconds)
{
	return tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':%g}}",
	    seconds);
}

/* The answer is storage_error and its message has every needle. */
static void
assert_storage_error(json_t *a, const char *n1, const char *n2)
{
	const char *msg;

	tj_assert_err(a, "storage_error");
	msg = tj_str(a, "error.message");
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, n1) != NULL && (n2 == NULL ||
	    strstr(msg, n2) != NULL), "message \"%s\" lacks \"%s\"/\"%s\"",
	    msg, n1, n2 != NULL ? n2 : "");
}

static json_int_t
running_now(struct tj_conn *c)
{
	return tj_int(tj_req(c, "{'op':'stats'}"), "queues.default.running");
}

/* A job that ran (id, sleeping) and ended while the database refused its
 * end: jobd holds the end, the database still says running, and a wait
 * is not answered as if it had ended. */
static void
assert_end_held(struct tj_conn *c, json_int_t id)
{
	double end = tj_now() + TJ_TIMEOUT;

	while (running_now(c) > 0) {
		ck_assert_msg(tj_now() < end, "job %lld still running",
		    (long long)id);
		tj_sleep(0.02);
	}
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)id), "running");
	ck_assert_str_eq(tj_str(tj_job(c, id), "state"), "running");
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'timeout':0.2}",
	    (long long)id), "timeout");
}

/* Once the fault has cleared: the held end is written, as it happened,
 * and the log says so. */
static void
assert_end_written(struct tj_conn *c, json_int_t id, double seconds)
{
	json_t *job = tj_wait(c, id, TJ_TIMEOUT);

	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert(tj_num(job, "result.slept") == seconds);
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)id), "succeeded");
	log_has("the last of those kept in memory");
}

/* ---- a full disk --------------------------------------------------------- */

/* The database on a 4 MiB tmpfs, filled up while jobd runs. */
START_TEST(test_disk_full)
{
	struct tj_conn *c;
	json_int_t done, ending, id;
	json_t *a;

	if (!tmpfs_on("mnt", "4m", "test_disk_full"))
		return;
	ck_assert_int_eq(symlink(tj_path("mnt/jobd.db"), tj_path("jobd.db")),
	    0);
	tj_start(TJ_DAEMON QUEUES);
	c = tj_connect();
	done = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(c, done, TJ_TIMEOUT);
	ending = tj_submit(c, "'kind':'sleep','args':{'seconds':0.5}");
	tj_wait_state(c, ending, "running", TJ_TIMEOUT);
	fill(tj_path("mnt/filler"));

	/* Refused, with why and where; nothing recorded; jobd answers. */
	assert_storage_error(try_submit(c, 0), "mnt/jobd.db", "full");
	a = tj_req(c, "{'op':'submit_group','jobs':[{'kind':'sleep','args':"
	    "{'seconds':0}},{'kind':'sleep','args':{'seconds':0}}]}");
	assert_storage_error(a, "mnt/jobd.db", "full");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
	ck_assert_str_eq(tj_str(tj_job(c, done), "state"), "succeeded");
	tj_assert_ok(tj_req(c, "{'op':'list'}"));
	assert_end_held(c, ending);
	log_has("database or disk is full (writes fail until this clears)");
	log_has("is kept in memory and written again");

	/* Room again: jobd carries on by itself. */
	ck_assert_int_eq(unlink(tj_path("mnt/filler")), 0);
	assert_end_written(c, ending, 0.5);
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	log_has("writes succeed again");
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

	tj_start(TJ_DAEMON QUEUES);
	c = tj_connect();
	done = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(c, done, TJ_TIMEOUT);
	ending = tj_submit(c, "'kind':'sleep','args':{'seconds':0.5}");
	tj_wait_state(c, ending, "running", TJ_TIMEOUT);
	set_fsize(tj_pid(), 1);

	assert_storage_error(try_submit(c, 0), "jobd.db", "File too large");
	assert_storage_error(try_submit(c, 0), "jobd.db", "File too large");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
	assert_end_held(c, ending);
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));

	set_fsize(tj_pid(), RLIM_INFINITY);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	assert_end_written(c, ending, 0.5);
	log_has("writes succeed again (");
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

	tj_start(TJ_DAEMON QUEUES);
	c = tj_connect();
	ending = tj_submit(c, "'kind':'sleep','args':{'seconds':0.5}");
	tj_wait_state(c, ending, "running", TJ_TIMEOUT);
	if (!immutable(tj_path("jobd.db-wal"), true)) {
		fprintf(stderr, "test_read_only_while_running: no immutable "
		    "files here (not root?): skipped\n");
		return;
	}
	assert_storage_error(try_submit(c, 0), "jobd.db",
	    "Operation not permitted");
	assert_end_held(c, ending);
	log_has("Operation not permitted) (writes fail until this clears)");
	ck_assert(immutable(tj_path("jobd.db-wal"), false));
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	assert_end_written(c, ending, 0.5);
}
END_TEST

/* A write-protected database at start: refused, named, left alone. */
START_TEST(test_read_only_at_start)
{
	char *before, *after;
	size_t blen, alen;
	bool imm;
	int code;

	tj_start(TJ_DAEMON QUEUES);
	tj_stop();
	ck_assert_ptr_nonnull(before = slurp("jobd.db", &blen));
	ck_assert_int_eq(chmod(tj_path("jobd.db"), 0444), 0);
	imm = immutable(tj_path("jobd.db"), true);
	if (geteuid() == 0 && !imm) {
		fprintf(stderr, "test_read_only_at_start: root, and no "
		    "immutable files here: skipped\n");
		free(before);
		return;
	}
	code = tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL);
	if (imm)
		ck_assert(immutable(tj_path("jobd.db"), false));
	ck_assert_int_eq(code, 1);
	other_err_has("jobd.db: the database file is read-only");
	ck_assert_ptr_nonnull(after = slurp("jobd.db", &alen));
	ck_assert(alen == blen && memcmp(after, before, blen) == 0);
	free(before);
	free(after);
	ck_assert_int_eq(chmod(tj_path("jobd.db"), 0644), 0);
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
	json_t *a;
	int i, n = 600;

	memset(pad, 'p', sizeof(pad) - 1);
	tj_start(TJ_DAEMON QUEUES);
	c = tj_connect();
	if (!immutable(tj_path("jobd.db"), true)) {
		fprintf(stderr, "test_checkpoint_fails: no immutable files "
		    "here (not root?): skipped\n");
		return;
	}
	/* 600 x 8 KB: past the 1000 pages of WAL that call a checkpoint */
	for (i = 0; i < n; i++)
		tj_send(c, "{'op':'submit','kind':'sleep','args':{'seconds':0,"
		    "'pad':'%s'}}", pad);
	for (i = 0; i < n; i++) {
		a = tj_recv(c);
		tj_assert_ok(a);
	}
	log_has("jobd.db: checkpoint failed: disk I/O error (Operation not "
	    "permitted); commits go on into the WAL");
	ck_assert(immutable(tj_path("jobd.db"), false));
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	log_has("jobd.db: checkpoint succeeded again");
	tj_wait_idle(c, 3 * TJ_TIMEOUT);
	tj_stop();
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'"), n + 1);
}
END_TEST

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

#define LOCK_DAEMON TJ_DAEMON "busy_timeout = 1\n"

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

	tj_start(LOCK_DAEMON QUEUES);
	c = tj_connect();
	lock_db(&l, 0);
	tj_send(c, "{'op':'submit','kind':'sleep','args':{'seconds':0}}");
	ck_assert_ptr_null(tj_line(c, 0.3));    /* waits for the commit */
	unlock_db(&l);
	id = tj_int(tj_recv(c), "id");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE id = "
	    "%lld", (long long)id), 1);

	/* Past busy_timeout: the submit fails, then the end (behind it). */
	ending = tj_submit(c, "'kind':'sleep','args':{'seconds':0.5}");
	tj_wait_state(c, ending, "running", TJ_TIMEOUT);
	lock_db(&l, 0);
	t0 = tj_now();
	a = try_submit(c, 0);
	tj_assert_time(tj_now() - t0, 1.0, 2.0);
	assert_storage_error(a, "jobd.db: ", "database is locked (another "
	    "process holds its write lock; waited 1000 ms)");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
	log_has("database is locked (another process");
	log_has("is kept in memory and written again");
	assert_end_held(c, ending);
	unlock_db(&l);
	assert_end_written(c, ending, 0.5);
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

	tj_start(LOCK_DAEMON QUEUES);
	tj_stop();
	lock_db(&l, 0);
	t0 = tj_now();
	code = tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL);
	tj_assert_time(tj_now() - t0, 1.0, 3.0);
	ck_assert_int_eq(code, 1);
	other_err_has("cannot open the database: ");
	other_err_has("jobd.db: cannot lock: database is locked (another "
	    "process");
	unlock_db(&l);

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

	tj_start(TJ_DAEMON QUEUES);
	c = tj_connect();
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_int_eq(rename(tj_path("jobd.db"), tj_path("moved.db")), 0);
	assert_storage_error(try_submit(c, 0), "jobd.db: the database file "
	    "is gone", NULL);
	log_has("not writing to a deleted file (writes fail until this "
	    "clears)");
	ck_assert_int_eq(rename(tj_path("moved.db"), tj_path("jobd.db")), 0);
	ck_assert_int_gt(tj_submit(c, "'kind':'sleep','args':{'seconds':0}"),
	    id);
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_wait_idle(c, TJ_TIMEOUT);

	ck_assert_int_eq(unlink(tj_path("jobd.db")), 0);
	assert_storage_error(try_submit(c, 0), "the database file is gone",
	    NULL);
	tj_stop();
	tj_restart();
	log_has("schema migrated from version 0");
	c = tj_connect();
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

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
	other_err_has(why);
	other_err_has("jobd.db: ");
	other_err_has("jobd leaves the file as it is");
	ck_assert_ptr_nonnull(after = slurp("jobd.db", &alen));
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

START_TEST(test_damaged_at_start)
{
	static char junk[8192];
	const char *text = "these are my notes, not a database\n";
	char *db;
	size_t len;

	tj_conf(TJ_DAEMON QUEUES);
	memset(junk, 0xab, sizeof(junk));
	refused(junk, sizeof(junk), "file is not a database");
	refused(text, strlen(text), "file is not a database");

	unlink(tj_path("jobd.db"));
	tj_restart();
	some_jobs();
	ck_assert_ptr_nonnull(db = slurp("jobd.db", &len));
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
	static char junk[65536];
	struct tj_conn *c;
	long long page, size;
	int fd, bad = 0, good = 0;
	json_t *a;

	tj_start(TJ_DAEMON QUEUES);
	some_jobs();
	page = tj_sql_int("SELECT pageno FROM dbstat WHERE name = 'jobs' AND "
	    "pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET (SELECT "
	    "count(*) / 2 FROM dbstat WHERE name = 'jobs' AND pagetype = "
	    "'leaf')");
	size = tj_sql_int("PRAGMA page_size");
	ck_assert_int_le(size, (long long)sizeof(junk));
	tj_restart();
	memset(junk, 0xff, sizeof(junk));
	ck_assert_int_ge(fd = open(tj_path("jobd.db"), O_WRONLY | O_CLOEXEC),
	    0);
	ck_assert_int_eq(pwrite(fd, junk, size, (page - 1) * size), size);
	close(fd);

	c = tj_connect();
	for (int id = 1; id <= 40; id++) {
		a = tj_req(c, "{'op':'get','id':%d}", id);
		if (tj_code(a) == NULL) {
			good++;
			continue;
		}
		assert_storage_error(a, "jobd.db: ", "malformed");
		bad++;
	}
	ck_assert_int_gt(bad, 0);
	ck_assert_int_gt(good, 0);
	log_has("a read failed: ");
	log_has("database disk image is malformed");
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
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
	tcase_add_test(tc, test_locked);
	tcase_add_test(tc, test_locked_at_start);
	tcase_add_test(tc, test_deleted_while_running);
	tcase_add_test(tc, test_damaged_at_start);
	tcase_add_test(tc, test_damaged_page_while_running);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_storage_suite());
}
