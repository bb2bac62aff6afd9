/*
 * test_jobctl.c — jobctl, the client, run as a program against a fake
 * jobd.
 *
 * The fake is a thread serving a Unix socket in a temporary directory: it
 * records every request line and answers each with the next canned line
 * (or closes the connection, or sends half a line).  Each test runs
 * build/jobctl (JOBD_BUILD_DIR, else the directory of this program) with
 * TZ=UTC and checks what was sent — the exact JSON — what was printed and
 * the exit status.  Usage errors must send nothing at all.
 *
 * The ctl_* modules' pieces that are easier to reach directly (the line
 * reader on huge lines, number parsing) are tested at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_args.h"
#include "jc.h"
#include "ctl_show.h"
#include "testutil.h"

/* ---- the fake jobd ------------------------------------------------------- */

/* Replies: a line to send (the fake adds '\n'), or one of these. */
#define FAKE_CLOSE "<close>" /* close the connection, no answer */
#define FAKE_HALF  "<half>"  /* send half a line, then close */
#define FAKE_MAX   16

static struct fake {
	char dir[64];
	char path[128];
	int lfd;
	int stop[2];
	pthread_t thr;
	bool running;
	const char *greeting; /* sent at accept, then closed */
	const char *replies[FAKE_MAX];
	size_t nreplies, next;
	pthread_mutex_t mu;
	char *log; /* every request line, each ending in '\n' */
	size_t loglen;
	int conns;
} fk;

static int fds_before;

/* The last run of jobctl. */
struct run {
	int status; /* exit status, or 128 + signal */
	char *out, *err;
};

static struct run last;

static void
fake_record(const char *line, size_t len)
{
	pthread_mutex_lock(&fk.mu);
	fk.log = realloc(fk.log, fk.loglen + len + 2);
	memcpy(fk.log + fk.loglen, line, len);
	fk.loglen += len;
	fk.log[fk.loglen++] = '\n';
	fk.log[fk.loglen] = '\0';
	pthread_mutex_unlock(&fk.mu);
}

static void
fake_write(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0 && (n = send(fd, s, len, MSG_NOSIGNAL)) > 0) {
		s += n;
		len -= n;
	}
}

/* Answer one request line; false when the connection is to close. */
static bool
fake_answer(int fd)
{
	const char *r = fk.next < fk.nreplies ? fk.replies[fk.next] : NULL;

	fk.next++;
	if (r == NULL || strcmp(r, FAKE_CLOSE) == 0)
		return false;
	if (strcmp(r, FAKE_HALF) == 0) {
		fake_write(fd, "{\"ok\":tr", 8);
		return false;
	}
	fake_write(fd, r, strlen(r));
	fake_write(fd, "\n", 1);
	return true;
}

/* Serve one connection until the client closes or a reply says close. */
static void
fake_serve(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap), *nl;
	ssize_t n;

	for (;;) {
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			fake_record(buf, nl - buf);
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len);
			if (!fake_answer(fd))
				goto out;
		}
		if (len == cap)
			buf = realloc(buf, cap *= 2);
		if ((n = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += n;
	}
out:
	free(buf);
}

static void *
fake_main(void *arg)
{
	struct pollfd pfd[2] = { { fk.lfd, POLLIN, 0 },
		{ fk.stop[0], POLLIN, 0 } };
	int fd;

	for (;;) {
		if (poll(pfd, 2, -1) < 0 || pfd[1].revents != 0)
			break;
		if ((fd = accept(fk.lfd, NULL, NULL)) < 0)
			continue;
		fk.conns++;
		if (fk.greeting != NULL)
			fake_write(fd, fk.greeting, strlen(fk.greeting));
		else
			fake_serve(fd);
		close(fd);
	}
	return NULL;
}

/* A socket at path, bound; listening when listening. */
static int
sock_at(const char *path, bool listening)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

/* Start the fake with these replies (NULL-terminated). */
static void
fake_start(const char *first, ...)
{
	va_list ap;
	const char *r;

	va_start(ap, first);
	for (r = first; r != NULL; r = va_arg(ap, const char *)) {
		ck_assert_uint_lt(fk.nreplies, FAKE_MAX);
		fk.replies[fk.nreplies++] = r;
	}
	va_end(ap);
	fk.lfd = sock_at(fk.path, true);
	ck_assert_int_eq(pipe2(fk.stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&fk.thr, NULL, fake_main, NULL), 0);
	fk.running = true;
}

static void
fake_stop(void)
{
	if (!fk.running)
		return;
	ck_assert_int_eq(write(fk.stop[1], "x", 1), 1);
	pthread_join(fk.thr, NULL);
	close(fk.lfd);
	close(fk.stop[0]);
	close(fk.stop[1]);
	fk.running = false;
}

/* Every request line the fake got so far. */
static const char *
fake_log(void)
{
	return fk.log ? fk.log : "";
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void
setup(void)
{
	fds_before = tu_fd_count();
	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.mu, NULL);
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/test_jobctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fk.dir));
	snprintf(fk.path, sizeof(fk.path), "%s/jobd.sock", fk.dir);
}

static void
teardown(void)
{
	fake_stop();
	free(fk.log);
	free(last.out);
	free(last.err);
	last.out = last.err = NULL;
	pthread_mutex_destroy(&fk.mu);
	ck_assert_int_eq(nftw(fk.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	ck_assert_int_eq(tu_fd_count(), fds_before);
}

/* ---- running jobctl ------------------------------------------------------ */


static const char *
jobctl_path(void)
{
	static char path[PATH_MAX + 16];
	const char *dir = getenv("JOBD_BUILD_DIR");
	char self[PATH_MAX];
	ssize_t n;

	if (dir != NULL && *dir != '\0') {
		snprintf(path, sizeof(path), "%s/jobctl", dir);
		return path;
	}
	/* Run by hand (valgrind): this program sits in the build dir. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(path, sizeof(path), "%s/jobctl", self);
	return path;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[65536];
	size_t n;

	ck_assert_ptr_nonnull(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* In the child: files for stdin/stdout/stderr, TZ=UTC, no JOBD_SOCKET
 * unless env gives one, maybe another user; then exec. */
static void __attribute__((noreturn))
child(char **argv, const char *env, uid_t uid)
{
	char in[128], out[128], err[128];

	snprintf(in, sizeof(in), "%s/stdin", fk.dir);
	snprintf(out, sizeof(out), "%s/stdout", fk.dir);
	snprintf(err, sizeof(err), "%s/stderr", fk.dir);
	if (access(in, F_OK) != 0)
		strcpy(in, "/dev/null");
	if (dup2(open(in, O_RDONLY | O_CLOEXEC), 0) < 0 ||
	    dup2(open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
	    1) < 0 ||
	    dup2(open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
	    2) < 0)
		_exit(125);
	setenv("TZ", "UTC", 1);
	unsetenv("JOBD_SOCKET");
	if (env != NULL)
		putenv((char *)env);
	if (uid != 0 && (setgid(uid) != 0 || setuid(uid) != 0))
		_exit(124);
	execv(argv[0], argv);
	_exit(126);
}

/* Run jobctl with args (NULL-terminated) as uid (0: as we are), env an
 * extra "NAME=value" or NULL; fills last. */
static int
run_as(uid_t uid, const char *env, const char *const *args)
{
	char *argv[64];
	double t0 = (double)time(NULL);
	int n = 0, st;
	pid_t pid, w;
	char path[128];

	/* Another user gets a copy it can reach: the build dir may sit in a
	 * home it cannot enter (/root is 0700). */
	argv[n++] = (char *)(uid != 0 ? tu_reachable(jobctl_path()) :
	    jobctl_path());
	for (; *args != NULL && n < 63; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	free(last.out);
	free(last.err);
	fflush(NULL);
	if ((pid = fork()) == 0)
		child(argv, env, uid);
	ck_assert_int_gt(pid, 0);
	/* Poll, so that a jobctl that hangs fails the test, not Check. */
	while ((w = waitpid(pid, &st, WNOHANG)) == 0) {
		if (time(NULL) - t0 > 10 * tu_slow()) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("jobctl %s hung", argv[1]);
		}
		usleep(2000);
	}
	ck_assert_int_eq(w, pid);
	last.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	snprintf(path, sizeof(path), "%s/stdout", fk.dir);
	last.out = slurp(path);
	snprintf(path, sizeof(path), "%s/stderr", fk.dir);
	last.err = slurp(path);
	return last.status;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
/* jobctl ARGS... on the fake's socket (given as -s). */
#define CTL(...) run_as(0, NULL, ARGS("-s", fk.path, __VA_ARGS__))
/* jobctl ARGS... with no -s. */
#define CTL_BARE(...) run_as(0, NULL, ARGS(__VA_ARGS__))

static void
put_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fk.dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* The exit status, stdout and stderr of the last run, all at once, so a
 * failure shows everything. */
#define ck_run(status_, out_, err_)                                        \
	do {                                                              \
		ck_assert_msg(last.status == (status_) &&                 \
		    strcmp(last.out, (out_)) == 0 &&                     \
		    strcmp(last.err, (err_)) == 0,                       \
		    "status %d (want %d)\n--- stdout:\n%s--- want:\n%s"  \
		    "--- stderr:\n%s--- want:\n%s", last.status,          \
		    (status_), last.out, (out_), last.err, (err_));      \
	} while (0)

/* Same, stderr only has to contain err_. */
#define ck_run_err(status_, out_, err_)                                    \
	do {                                                              \
		ck_assert_msg(last.status == (status_) &&                 \
		    strcmp(last.out, (out_)) == 0 &&                     \
		    strstr(last.err, (err_)) != NULL,                    \
		    "status %d (want %d)\n--- stdout:\n%s--- want:\n%s"  \
		    "--- stderr:\n%s--- want in it:\n%s\n", last.status,  \
		    (status_), last.out, (out_), last.err, (err_));      \
	} while (0)

#define ck_sent(want)                                                      \
	ck_assert_msg(strcmp(fake_log(), (want)) == 0,                     \
	    "sent:\n%s--- want:\n%s", fake_log(), (want))

/* ---- canned answers ------------------------------------------------------ */

#define JOB_OK                                                                \
	"{\"id\":42,\"queue\":\"default\",\"kind\":\"exec\",\"state\":"      \
	"\"succeeded\",\"args\":{\"argv\":[\"make\",\"-C\",\"/srv/site\"]},"   \
	"\"name\":\"site build\",\"attempts\":1,\"max_attempts\":3,"          \
	"\"timeout\":600,\"created_at\":1767225600.125,\"started_at\":"        \
	"1767225600.1312,\"finished_at\":1767225612.5071,\"result\":"          \
	"{\"exit_code\":0,\"signal\":null,\"stdout\":\"ok\\n\",\"stderr\":"  \
	"\"\",\"truncated\":false},\"error\":null,\"cancel_reason\":null,"     \
	"\"group\":null}"

#define JOB_FAILED                                                            \
	"{\"id\":43,\"queue\":\"batch\",\"kind\":\"sleep\",\"state\":"        \
	"\"failed\",\"args\":{\"seconds\":0.5,\"fail\":\"boom\"},\"name\":"    \
	"null,\"attempts\":1,\"max_attempts\":3,\"timeout\":0,\"created_at\":" \
	"1767225700.5,\"started_at\":1767225700.5,\"finished_at\":"           \
	"1767225701.0,\"result\":{\"slept\":0.5},\"error\":\"boom\\nline 2\"," \
	"\"cancel_reason\":null,\"group\":7}"

#define JOB_QUEUED                                                            \
	"{\"id\":44,\"queue\":\"default\",\"kind\":\"sleep\",\"state\":"      \
	"\"queued\",\"args\":{\"seconds\":5},\"name\":\"nap\",\"attempts\":0," \
	"\"max_attempts\":3,\"timeout\":300,\"created_at\":1767225800.0,"      \
	"\"started_at\":null,\"finished_at\":null,\"result\":null,\"error\":"  \
	"null,\"cancel_reason\":null,\"group\":null}"

#define JOB_CANCELLED                                                         \
	"{\"id\":45,\"queue\":\"default\",\"kind\":\"sleep\",\"state\":"      \
	"\"cancelled\",\"args\":{\"seconds\":5},\"name\":null,\"attempts\":1," \
	"\"max_attempts\":3,\"timeout\":300,\"created_at\":1767225800.0,"      \
	"\"started_at\":1767225800.25,\"finished_at\":1767225801.0,"          \
	"\"result\":null,\"error\":null,\"cancel_reason\":\"superseded\","     \
	"\"group\":null}"

#define ANS_JOB(j)  "{\"ok\":true,\"job\":" j "}"
#define ANS_ID(n)   "{\"ok\":true,\"id\":" #n "}"
#define ANS_ERR(code, msg)                                               \
	"{\"ok\":false,\"error\":{\"code\":\"" code "\",\"message\":\"" msg \
	"\"}}"

/* ---- the lifecycle's commands -------------------------------------------- */

START_TEST(test_lifecycle_commands)
{
	fake_start(ANS_ID(7), "{\"ok\":true,\"queue\":\"q\",\"paused\":true}",
	    "{\"ok\":true,\"queue\":\"q\",\"paused\":false}",
	    "{\"ok\":true,\"id\":7,\"state\":\"queued\"}",
	    "{\"ok\":true,\"deleted\":12}", NULL);
	CTL("submit", "--priority", "0", "--retries", "3", "--at",
	    "1800000000", "sleep", "1");
	ck_run(0, "7\n", "");
	CTL("pause", "q");
	ck_run(0, "queue q: paused\n", "");
	CTL("resume", "q");
	ck_run(0, "queue q: running\n", "");
	CTL("retry", "7");
	ck_run(0, "job 7: queued\n", "");
	CTL("prune", "--before", "0s", "--state", "failed");
	ck_run(0, "deleted 12 jobs\n", "");
	/* Checked before anything is sent. */
	CTL("submit", "--priority", "10", "sleep", "1");
	ck_assert_int_eq(last.status, 2);
	CTL("submit", "--delay", "7x", "sleep", "1");
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(last.err, "unknown unit"));
	CTL("prune");
	ck_assert_int_eq(last.status, 2);
	CTL("retry");
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(fake_log(), "\"priority\":0,\"retries\":3"));
	ck_assert_ptr_nonnull(strstr(fake_log(), "\"run_at\":1800000000"));
	ck_assert_ptr_nonnull(strstr(fake_log(), "{\"op\":\"pause\",\"queue\":"
	    "\"q\"}\n{\"op\":\"resume\",\"queue\":\"q\"}\n{\"op\":\"retry\","
	    "\"id\":7}\n{\"op\":\"prune\",\"before\":"));
	ck_assert_ptr_nonnull(strstr(fake_log(), "\"states\":[\"failed\"]"));
}
END_TEST

/* ---- unique keys and schedules ----------------------------------------- */

START_TEST(test_unique_and_schedules)
{
	fake_start(ANS_ID(7), "{\"ok\":true,\"id\":7,\"duplicate\":true}",
	    "{\"ok\":true,\"schedules\":[{\"name\":\"nightly\",\"cron\":"
	    "\"30 2 * * *\",\"timezone\":\"Europe/Berlin\",\"queue\":"
	    "\"default\",\"next_run_at\":null,\"last_slot\":null,"
	    "\"last_job\":null,\"paused\":true}]}",
	    "{\"ok\":true,\"schedules\":[]}", NULL);
	CTL("submit", "--unique", "k", "sleep", "1");
	ck_run(0, "7\n", "");
	CTL("submit", "--unique", "k", "sleep", "1");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.err, "already holds"));
	CTL("schedules");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "nightly"));
	ck_assert_ptr_nonnull(strstr(last.out, "Europe/Berlin"));
	ck_assert_ptr_nonnull(strstr(last.out, "paused"));
	CTL("schedules");
	ck_assert_ptr_nonnull(strstr(last.out, "no schedules"));
	CTL("submit", "--unique", "", "sleep", "1");
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(fake_log(), "\"unique_key\":\"k\""));
	ck_assert_ptr_nonnull(strstr(fake_log(), "{\"op\":\"schedules\"}"));
}
END_TEST

/* ---- ping, --json, errors ------------------------------------------------ */

START_TEST(test_ping)
{
	char want[256];

	fake_start("{\"ok\":true,\"version\":\"0.1.0\"}",
	    "{\"ok\":true,\"version\":\"0.1.0\",\"new\":[1]}", NULL);
	CTL("ping");
	snprintf(want, sizeof(want), "jobd 0.1.0 at %s\n", fk.path);
	ck_run(0, want, "");
	/* --json prints the line as it came, unknown fields and all. */
	CTL("ping", "--json");
	ck_run(0, "{\"ok\":true,\"version\":\"0.1.0\",\"new\":[1]}\n", "");
	ck_sent("{\"op\":\"ping\"}\n{\"op\":\"ping\"}\n");
	ck_assert_int_eq(fk.conns, 2);
}
END_TEST

START_TEST(test_error_answer)
{
	fake_start(ANS_ERR("not_found", "no job 99"),
	    ANS_ERR("not_found", "no job 99"),
	    "{\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":"
	    "\"evil \\u001b[31m\\nmessage\"}}", NULL);
	CTL("get", "99");
	ck_run(1, "", "jobctl: not_found: no job 99\n");
	/* --json: the raw line on stdout, the error on stderr too. */
	CTL("--json", "get", "99");
	ck_run(1, ANS_ERR("not_found", "no job 99") "\n",
	    "jobctl: not_found: no job 99\n");
	/* Control characters in a message are shown escaped. */
	CTL("get", "1");
	ck_run(1, "", "jobctl: bad_request: evil \\x1b[31m\\nmessage\n");
	ck_sent("{\"op\":\"get\",\"id\":99}\n{\"op\":\"get\",\"id\":99}\n"
	    "{\"op\":\"get\",\"id\":1}\n");
}
END_TEST

START_TEST(test_bad_answers)
{
	fake_start("this is not json", "[1,2]", FAKE_CLOSE, FAKE_HALF, NULL);
	CTL("ping");
	ck_run_err(1, "", "jobctl: not a jobd answer");
	CTL("ping");
	ck_run_err(1, "", "jobctl: not a jobd answer");
	CTL("stats");
	ck_run_err(3, "", "closed the connection without answering");
	CTL("stats");
	ck_run_err(3, "", "closed the connection in the middle of an answer");
	ck_sent("{\"op\":\"ping\"}\n{\"op\":\"ping\"}\n{\"op\":\"stats\"}\n"
	    "{\"op\":\"stats\"}\n");
}
END_TEST

/* jobd at max_connections answers every new connection with one error
 * line and closes it, maybe before jobctl has written its request. */
START_TEST(test_refused_with_a_line)
{
	fk.greeting = ANS_ERR("too_many_connections", "1024 connections "
	    "open") "\n";
	fake_start(NULL);
	for (int i = 0; i < 3; i++) {
		CTL("ping");
		ck_run(1, "", "jobctl: too_many_connections: 1024 "
		    "connections open\n");
	}
}
END_TEST

/* ---- submit -------------------------------------------------------------- */

START_TEST(test_submit_shorthands)
{
	fake_start(ANS_ID(1), ANS_ID(2), ANS_ID(3), ANS_ID(4), ANS_ID(5),
	    ANS_ID(6), ANS_ID(7), NULL);
	CTL("submit", "sleep", "0.5");
	ck_run(0, "1\n", "");
	CTL("submit", "sleep", "0.3");
	ck_run(0, "2\n", "");
	CTL("submit", "exec", "--", "ls", "-l", "/tmp dir", "--json");
	ck_run(0, "3\n", "");
	CTL("submit", "http", "http://127.0.0.1:8080/health");
	ck_run(0, "4\n", "");
	CTL("submit", "sleep", "{\"seconds\":1,\"fail\":\"boom\"}");
	ck_run(0, "5\n", "");
	CTL("submit", "mykind",
	    " {\"a\":[1,2.5,null],\"b\":{\"c\":\"\u00e9\"}}");
	ck_run(0, "6\n", "");
	CTL("submit", "exec", "{\"argv\":[\"true\"],\"cwd\":\"/\"}");
	ck_run(0, "7\n", "");
	ck_sent("{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":"
	    "{\"seconds\":0.5}}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":"
	    "{\"seconds\":0.3}}\n"
	    "{\"op\":\"submit\",\"kind\":\"exec\",\"args\":{\"argv\":[\"ls\","
	    "\"-l\",\"/tmp dir\",\"--json\"]}}\n"
	    "{\"op\":\"submit\",\"kind\":\"http\",\"args\":{\"url\":"
	    "\"http://127.0.0.1:8080/health\"}}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":1,"
	    "\"fail\":\"boom\"}}\n"
	    "{\"op\":\"submit\",\"kind\":\"mykind\",\"args\":{\"a\":[1,2.5,"
	    "null],\"b\":{\"c\":\"\u00e9\"}}}\n"
	    "{\"op\":\"submit\",\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"true\"],\"cwd\":\"/\"}}\n");
}
END_TEST

START_TEST(test_submit_options)
{
	fake_start(ANS_ID(10), ANS_ID(11), ANS_ID(12), NULL);
	/* Every option; they go on the wire in one fixed order. */
	CTL("submit", "--nowait", "--max-attempts", "2", "--name", "n 1",
	    "--timeout", "30", "--queue", "batch", "sleep", "1");
	ck_run(0, "10\n", "");
	/* Options after KIND, short forms, a fractional timeout. */
	CTL("submit", "sleep", "1", "-q", "q2", "-t", "0.25", "-n", "x");
	ck_run(0, "11\n", "");
	CTL("--json", "submit", "-t", "0", "sleep", "1e1");
	ck_run(0, ANS_ID(12) "\n", "");
	ck_sent("{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":"
	    "{\"seconds\":1},\"queue\":\"batch\",\"timeout\":30,"
	    "\"name\":\"n 1\","
	    "\"max_attempts\":2,\"nowait\":true}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":1},"
	    "\"queue\":\"q2\",\"timeout\":0.25,\"name\":\"x\"}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":10},"
	    "\"timeout\":0}\n");
}
END_TEST

START_TEST(test_submit_wait)
{
	fake_start(ANS_ID(42), ANS_JOB(JOB_OK), ANS_ID(43),
	    ANS_JOB(JOB_FAILED), ANS_ID(42), ANS_JOB(JOB_OK), ANS_ID(46),
	    ANS_ERR("shutting_down", "jobd is stopping"), ANS_ID(47),
	    FAKE_CLOSE, "{\"ok\":true}", NULL);
	CTL("submit", "--wait", "exec", "--", "make", "-C", "/srv/site");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "id:       42\n"));
	ck_assert_ptr_nonnull(strstr(last.out, "state:    succeeded\n"));
	CTL("submit", "--wait", "sleep", "{\"seconds\":0.5,\"fail\":\"boom\"}");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.out, "state:    failed\n"));
	ck_assert_str_eq(last.err, "");
	/* --json: both answer lines, as they came. */
	CTL("submit", "--json", "--wait", "sleep", "1");
	ck_run(0, ANS_ID(42) "\n" ANS_JOB(JOB_OK) "\n", "");
	/* The wait fails: exit 1, said on stderr, with the id. */
	CTL("submit", "--wait", "sleep", "1");
	ck_run(1, "", "jobctl: shutting_down: jobd is stopping\n"
	    "jobctl: job 46 was submitted; see 'jobctl get 46'\n");
	/* jobd goes away during the wait: exit 3, with the id. */
	CTL("submit", "--wait", "sleep", "1");
	ck_assert_int_eq(last.status, 3);
	ck_assert_ptr_nonnull(strstr(last.err, "closed the connection"));
	ck_assert_ptr_nonnull(strstr(last.err, "job 47 was submitted"));
	/* An ok answer without an id is not one jobctl can use. */
	CTL("submit", "--wait", "sleep", "1");
	ck_run(1, "", "jobctl: not a jobd answer: no job id\n");
	ck_sent("{\"op\":\"submit\",\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"make\",\"-C\",\"/srv/site\"]}}\n"
	    "{\"op\":\"wait\",\"id\":42}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0.5,"
	    "\"fail\":\"boom\"}}\n"
	    "{\"op\":\"wait\",\"id\":43}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":1}}\n"
	    "{\"op\":\"wait\",\"id\":42}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":1}}\n"
	    "{\"op\":\"wait\",\"id\":46}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":1}}\n"
	    "{\"op\":\"wait\",\"id\":47}\n"
	    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":"
	    "{\"seconds\":1}}\n");
	/* One connection per invocation, both requests on it. */
	ck_assert_int_eq(fk.conns, 6);
}
END_TEST

START_TEST(test_submit_group)
{
	static const char jobs[] = "[{\"kind\":\"sleep\",\"args\":"
	    "{\"seconds\":1}},\n  {\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"true\"]},\"timeout\":9}]";
	char path[128];

	fake_start("{\"ok\":true,\"group\":7,\"ids\":[43,44]}",
	    "{\"ok\":true,\"group\":8,\"ids\":[45,46]}",
	    "{\"ok\":true,\"group\":9,\"ids\":[47,48]}",
	    "{\"ok\":true,\"jobs\":[" JOB_OK "," JOB_FAILED "]}", NULL);
	put_file("group.json", jobs);
	snprintf(path, sizeof(path), "%s/group.json", fk.dir);
	CTL("submit-group", path);
	ck_run(0, "group: 7\njobs:  43 44\n", "");
	/* From stdin, with both options. */
	put_file("stdin", jobs);
	CTL("submit-group", "--fail-fast", "--nowait", "-");
	ck_run(0, "group: 8\njobs:  45 46\n", "");
	/* --wait: the group's jobs; one failed, so exit 1. */
	CTL("submit-group", "--wait", "-");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.out, "group: 9\n"));
	ck_assert_ptr_nonnull(strstr(last.out,
	    "2 jobs: 1 succeeded, 1 failed\n"));
	ck_sent("{\"op\":\"submit_group\",\"jobs\":[{\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":1}},{\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"true\"]},\"timeout\":9}]}\n"
	    "{\"op\":\"submit_group\",\"mode\":\"fail_fast\",\"nowait\":true,"
	    "\"jobs\":[{\"kind\":\"sleep\",\"args\":{\"seconds\":1}},"
	    "{\"kind\":\"exec\",\"args\":{\"argv\":[\"true\"]},"
	    "\"timeout\":9}]}\n"
	    "{\"op\":\"submit_group\",\"jobs\":[{\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":1}},{\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"true\"]},\"timeout\":9}]}\n"
	    "{\"op\":\"wait\",\"group\":9}\n");
}
END_TEST

/* ---- get, wait, cancel --------------------------------------------------- */

START_TEST(test_get_human)
{
	fake_start(ANS_JOB(JOB_OK), ANS_JOB(JOB_FAILED), ANS_JOB(JOB_QUEUED),
	    ANS_JOB(JOB_CANCELLED), NULL);
	CTL("get", "42");
	ck_run(0,
	    "id:       42\n"
	    "name:     site build\n"
	    "state:    succeeded\n"
	    "queue:    default\n"
	    "kind:     exec\n"
	    "args:     {\"argv\":[\"make\",\"-C\",\"/srv/site\"]}\n"
	    "attempts: 1 of 3\n"
	    "timeout:  600 s\n"
	    "created:  2026-01-01T00:00:00.125+00:00\n"
	    "started:  2026-01-01T00:00:00.131+00:00\n"
	    "finished: 2026-01-01T00:00:12.507+00:00\n"
	    "duration: 12.376 s\n"
	    "result:   {\"exit_code\":0,\"signal\":null,\"stdout\":\"ok\\n\","
	    "\"stderr\":\"\",\"truncated\":false}\n", "");
	CTL("get", "43");
	ck_run(0,
	    "id:       43\n"
	    "name:     -\n"
	    "state:    failed\n"
	    "queue:    batch\n"
	    "kind:     sleep\n"
	    "args:     {\"seconds\":0.5,\"fail\":\"boom\"}\n"
	    "attempts: 1 of 3\n"
	    "timeout:  none\n"
	    "group:    7\n"
	    "created:  2026-01-01T00:01:40.500+00:00\n"
	    "started:  2026-01-01T00:01:40.500+00:00\n"
	    "finished: 2026-01-01T00:01:41.000+00:00\n"
	    "duration: 0.500 s\n"
	    "error:    boom\\nline 2\n"
	    "result:   {\"slept\":0.5}\n", "");
	CTL("get", "44");
	ck_run(0,
	    "id:       44\n"
	    "name:     nap\n"
	    "state:    queued\n"
	    "queue:    default\n"
	    "kind:     sleep\n"
	    "args:     {\"seconds\":5}\n"
	    "attempts: 0 of 3\n"
	    "timeout:  300 s\n"
	    "created:  2026-01-01T00:03:20.000+00:00\n"
	    "started:  -\n"
	    "finished: -\n"
	    "duration: -\n", "");
	CTL("get", "45");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "cancel_reason: superseded\n"));
	ck_assert_ptr_nonnull(strstr(last.out, "id:            45\n"));
	ck_sent("{\"op\":\"get\",\"id\":42}\n{\"op\":\"get\",\"id\":43}\n"
	    "{\"op\":\"get\",\"id\":44}\n{\"op\":\"get\",\"id\":45}\n");
}
END_TEST

/* Fields a newer jobd adds are shown too, after the known ones. */
START_TEST(test_get_unknown_fields)
{
	fake_start("{\"ok\":true,\"job\":{\"id\":5,\"state\":\"running\","
	    "\"started_at\":1767225600,\"owner\":\"alice\",\"prio\":[1,2]}}",
	    NULL);
	CTL("get", "5");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "owner:    alice\n"
	    "prio:     [1,2]\n"));
	/* Running since 2026: the duration runs to now. */
	ck_assert_ptr_nonnull(strstr(last.out, "duration: "));
	ck_assert_ptr_null(strstr(last.out, "duration: -"));
}
END_TEST

START_TEST(test_wait_exit_status)
{
	fake_start(ANS_JOB(JOB_OK), ANS_JOB(JOB_FAILED),
	    ANS_JOB(JOB_CANCELLED), ANS_JOB(JOB_QUEUED),
	    ANS_ERR("timeout", "job 44 has not ended"),
	    "{\"ok\":true,\"jobs\":[" JOB_OK "," JOB_OK "]}",
	    "{\"ok\":true,\"jobs\":[" JOB_OK "," JOB_CANCELLED "]}",
	    "{\"ok\":true,\"jobs\":[" JOB_OK "," JOB_FAILED "]}", NULL);
	ck_assert_int_eq(CTL("wait", "42"), 0);
	ck_assert_ptr_nonnull(strstr(last.out, "state:    succeeded\n"));
	ck_assert_int_eq(CTL("wait", "43"), 1);
	ck_assert_ptr_nonnull(strstr(last.out, "state:    failed\n"));
	ck_assert_str_eq(last.err, "");
	ck_assert_int_eq(CTL("wait", "45"), 1);
	/* A poll that shows a job not ended is not a success either. */
	ck_assert_int_eq(CTL("wait", "--timeout", "0", "44"), 1);
	CTL("wait", "-t", "2.5", "44");
	ck_run(1, "", "jobctl: timeout: job 44 has not ended\n");
	CTL("wait", "--group", "7");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "2 jobs: 2 succeeded\n"));
	ck_assert_int_eq(CTL("wait", "-g", "8", "--json"), 1);
	ck_assert_str_eq(last.out, "{\"ok\":true,\"jobs\":[" JOB_OK ","
	    JOB_CANCELLED "]}\n");
	ck_assert_int_eq(CTL("wait", "--group=9"), 1);
	ck_assert_ptr_nonnull(strstr(last.out,
	    "2 jobs: 1 succeeded, 1 failed\n"));
	ck_sent("{\"op\":\"wait\",\"id\":42}\n{\"op\":\"wait\",\"id\":43}\n"
	    "{\"op\":\"wait\",\"id\":45}\n"
	    "{\"op\":\"wait\",\"id\":44,\"timeout\":0}\n"
	    "{\"op\":\"wait\",\"id\":44,\"timeout\":2.5}\n"
	    "{\"op\":\"wait\",\"group\":7}\n{\"op\":\"wait\",\"group\":8}\n"
	    "{\"op\":\"wait\",\"group\":9}\n");
}
END_TEST

START_TEST(test_cancel)
{
	fake_start("{\"ok\":true,\"state\":\"cancelled\"}",
	    "{\"ok\":true,\"state\":\"cancelled\",\"ids\":[43,44]}",
	    ANS_ERR("not_cancellable", "job 42 has ended (succeeded)"),
	    "{\"ok\":true,\"state\":\"cancelled\"}", NULL);
	CTL("cancel", "--reason", "superseded by 45", "44");
	ck_run(0, "job 44 cancelled\n", "");
	CTL("cancel", "--group", "7");
	ck_run(0, "group 7: 2 jobs cancelled: 43 44\n", "");
	CTL("cancel", "42");
	ck_run(1, "", "jobctl: not_cancellable: job 42 has ended "
	    "(succeeded)\n");
	CTL("--json", "cancel", "-r", "x", "-g", "3");
	ck_run(0, "{\"ok\":true,\"state\":\"cancelled\"}\n", "");
	ck_sent("{\"op\":\"cancel\",\"id\":44,\"reason\":"
	    "\"superseded by 45\"}\n"
	    "{\"op\":\"cancel\",\"group\":7}\n{\"op\":\"cancel\",\"id\":42}\n"
	    "{\"op\":\"cancel\",\"group\":3,\"reason\":\"x\"}\n");
}
END_TEST

/* ---- list, stats --------------------------------------------------------- */

START_TEST(test_list)
{
	fake_start("{\"ok\":true,\"jobs\":[" JOB_CANCELLED "," JOB_QUEUED ","
	    JOB_FAILED "," JOB_OK "]}", "{\"ok\":true,\"jobs\":[]}",
	    "{\"ok\":true,\"jobs\":[" JOB_OK "]}", NULL);
	CTL("list");
	ck_run(0,
	    "ID  QUEUE    KIND   STATE      ATTEMPTS  CREATED              "
	    "DURATION  NAME / ERROR\n"
	    "45  default  sleep  cancelled    1 of 3  2026-01-01 00:03:20  "
	    "  0.750s  superseded\n"
	    "44  default  sleep  queued       0 of 3  2026-01-01 00:03:20  "
	    "       -  nap\n"
	    "43  batch    sleep  failed       1 of 3  2026-01-01 00:01:40  "
	    "  0.500s  boom\\nline 2\n"
	    "42  default  exec   succeeded    1 of 3  2026-01-01 00:00:00  "
	    " 12.376s  site build\n", "");
	CTL("list", "--state", "failed", "--queue", "batch", "--limit", "5");
	ck_run(0, "no jobs\n", "");
	CTL("list", "--json", "-q", "default");
	ck_run(0, "{\"ok\":true,\"jobs\":[" JOB_OK "]}\n", "");
	ck_sent("{\"op\":\"list\"}\n"
	    "{\"op\":\"list\",\"state\":\"failed\",\"queue\":\"batch\","
	    "\"limit\":5}\n"
	    "{\"op\":\"list\",\"queue\":\"default\"}\n");
}
END_TEST

START_TEST(test_stats)
{
	fake_start("{\"ok\":true,\"queues\":{\"default\":{\"queued\":3,"
	    "\"running\":16,\"workers\":16,\"capacity\":1000},\"batch\":"
	    "{\"queued\":0,\"running\":0,\"workers\":2,\"capacity\":10,"
	    "\"paused\":false}},\"jobs\":{\"submitted\":120,\"succeeded\":100,"
	    "\"failed\":1},\"connections\":2,\"uptime\":3723.44}",
	    "{\"ok\":true,\"queues\":{\"default\":{\"queued\":0,\"running\":0,"
	    "\"workers\":1,\"capacity\":1}}}", NULL);
	CTL("stats");
	ck_run(0,
	    "QUEUE    QUEUED  RUNNING  WORKERS  CAPACITY  PAUSED\n"
	    "default       3       16       16      1000       -\n"
	    "batch         0        0        2        10   false\n"
	    "\n"
	    "jobs:        120 submitted, 100 succeeded, 1 failed\n"
	    "connections: 2\n"
	    "uptime:      3723.4 s\n", "");
	CTL("--json", "stats");
	ck_run(0, "{\"ok\":true,\"queues\":{\"default\":{\"queued\":0,"
	    "\"running\":0,\"workers\":1,\"capacity\":1}}}\n", "");
	ck_sent("{\"op\":\"stats\"}\n{\"op\":\"stats\"}\n");
}
END_TEST

/* An answer of many MB (captured output) comes through whole. */
START_TEST(test_long_answer)
{
	size_t n = 8 * 1024 * 1024;
	char *big = malloc(n + 200), *p;

	p = big + sprintf(big, "{\"ok\":true,\"job\":{\"id\":1,\"state\":"
	    "\"succeeded\",\"result\":{\"stdout\":\"");
	memset(p, 'x', n);
	strcpy(p + n, "\"}}}");
	fake_start(big, big, NULL);
	CTL("--json", "get", "1");
	ck_assert_int_eq(last.status, 0);
	ck_assert_uint_eq(strlen(last.out), strlen(big) + 1);
	ck_assert_int_eq(memcmp(last.out, big, strlen(big)), 0);
	CTL("get", "1");
	ck_assert_int_eq(last.status, 0);
	ck_assert_uint_gt(strlen(last.out), n);
	free(big);
}
END_TEST

/* ---- the socket: where, and when nobody is there ------------------------- */

START_TEST(test_socket_choice)
{
	char env[160], conf[256], cpath[128];

	fake_start("{\"ok\":true,\"version\":\"1\"}",
	    "{\"ok\":true,\"version\":\"2\"}",
	    "{\"ok\":true,\"version\":\"3\"}",
	    NULL);
	snprintf(env, sizeof(env), "JOBD_SOCKET=%s", fk.path);
	run_as(0, env, ARGS("ping"));
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "jobd 1 at "));
	/* -s wins over JOBD_SOCKET. */
	run_as(0, "JOBD_SOCKET=/nonexistent/x.sock", ARGS("ping", "-s",
	    fk.path));
	ck_assert_int_eq(last.status, 0);
	/* -c FILE: the socket of jobd's config, relative to its folder. */
	snprintf(conf, sizeof(conf), "[daemon]\nsocket = jobd.sock\n");
	put_file("jobd.conf", conf);
	snprintf(cpath, sizeof(cpath), "%s/jobd.conf", fk.dir);
	run_as(0, "JOBD_SOCKET=/nonexistent/x.sock", ARGS("-c", cpath,
	    "ping"));
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "jobd 3 at "));
	/* Both -s and -c: which one? A usage error. */
	CTL("-c", cpath, "ping");
	ck_assert_int_eq(last.status, 2);
	/* A bad config is refused with its FILE:LINE. */
	put_file("bad.conf", "[daemon]\nsocket = x\nbogus = 1\n");
	snprintf(cpath, sizeof(cpath), "%s/bad.conf", fk.dir);
	run_as(0, NULL, ARGS("-c", cpath, "ping"));
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(last.err, "bad.conf:3: "));
	ck_assert_int_eq(fk.conns, 3);
}
END_TEST

START_TEST(test_not_running)
{
	char want[512];
	int fd;

	/* No socket file. */
	CTL("ping");
	snprintf(want, sizeof(want), "jobctl: cannot connect to jobd at %s "
	    "(from -s): no such socket\n", fk.path);
	ck_assert_int_eq(last.status, 3);
	ck_assert_str_eq(last.out, "");
	ck_assert_ptr_nonnull(strstr(last.err, want));
	ck_assert_ptr_nonnull(strstr(last.err, "jobd -c FILE"));
	ck_assert_ptr_nonnull(strstr(last.err, "JOBD_SOCKET"));
	/* The default socket, named as such (nothing listens there in a
	 * test machine, or this test would be talking to it). */
	if (access("/run/jobd/jobd.sock", F_OK) != 0) {
		CTL_BARE("stats");
		ck_assert_int_eq(last.status, 3);
		ck_assert_ptr_nonnull(strstr(last.err, "jobctl: cannot connect "
		    "to jobd at /run/jobd/jobd.sock (the default): no such "
		    "socket\n"));
	}
	/* A socket file nobody listens on: left by a jobd that died. */
	fd = sock_at(fk.path, false);
	CTL("submit", "sleep", "1");
	ck_assert_int_eq(last.status, 3);
	ck_assert_ptr_nonnull(strstr(last.err, "connection refused"));
	ck_assert_ptr_nonnull(strstr(last.err, "jobd -c FILE"));
	close(fd);
	unlink(fk.path);
	/* Not a socket at all. */
	put_file("jobd.sock", "");
	CTL("ping");
	ck_assert_int_eq(last.status, 3);
	ck_assert_ptr_nonnull(strstr(last.err, "not a socket"));
}
END_TEST

START_TEST(test_permission_denied)
{
	fake_start(NULL);
	ck_assert_int_eq(chmod(fk.path, 0600), 0);
	if (geteuid() == 0) {
		/* root connects anyway: try as nobody (uid 65534). */
		run_as(65534, NULL, ARGS("-s", fk.path, "ping"));
		ck_assert_msg(last.status != 126 && last.status != 124,
		    "cannot run jobctl as uid 65534 (status %d)", last.status);
	} else {
		/* The socket is our own: 0600 lets us in, mode 0 does not. */
		ck_assert_int_eq(chmod(fk.path, 0), 0);
		CTL("ping");
	}
	ck_assert_int_eq(last.status, 3);
	ck_assert_ptr_nonnull(strstr(last.err, "permission denied"));
	ck_assert_ptr_nonnull(strstr(last.err, "socket_group"));
	ck_assert_int_eq(fk.conns, 0);
}
END_TEST

/* ---- usage errors: exit 2, nothing sent ---------------------------------- */

/* Each of these must be a usage error naming the problem. */
static const struct {
	const char *args[8];
	const char *says;
} usage_cases[] = {
	{ { NULL }, "no command given" },
	{ { "frob" }, "unknown command frob" },
	{ { "ping", "extra" }, "unexpected argument extra" },
	{ { "ping", "--bogus" }, "unknown option --bogus" },
	{ { "get" }, "ID is missing" },
	{ { "get", "0" }, "ID: expected an integer from 1" },
	{ { "get", "12x" }, "got \"12x\"" },
	{ { "get", "1", "2" }, "unexpected argument 2" },
	{ { "get", "99999999999999999999" }, "ID: expected an integer" },
	{ { "submit" }, "KIND is missing" },
	{ { "submit", "sleep" }, "ARGS-JSON is missing after sleep" },
	{ { "submit", "sleep", "abc" }, "submit sleep: expected a number" },
	{ { "submit", "sleep", "-1" }, "unknown option -1" },
	{ { "submit", "sleep", "inf" }, "got \"inf\"" },
	{ { "submit", "sleep", "1", "2" }, "submit sleep: expected SECONDS" },
	{ { "submit", "sleep", "{\"seconds\":" },
	    "ARGS-JSON: invalid JSON at line 1, column 11" },
	{ { "submit", "x", "{\"a\":1,\"a\":2}" }, "ARGS-JSON: invalid JSON" },
	{ { "submit", "x", "{} []" }, "ARGS-JSON: invalid JSON at line 1" },
	{ { "submit", "x", "[1]" }, "submit x: expected ARGS-JSON" },
	{ { "submit", "x", "1" }, "submit x: expected ARGS-JSON" },
	{ { "submit", "exec", "ls", "-l" }, "go after --" },
	{ { "submit", "http", "a", "b" }, "submit http: expected one URL" },
	{ { "submit", "--timeout", "-1", "sleep", "1" }, "--timeout" },
	{ { "submit", "--timeout", "1e10", "sleep", "1" }, "--timeout" },
	{ { "submit", "--timeout" }, "option --timeout needs a value" },
	{ { "submit", "--max-attempts", "0", "sleep", "1" },
	    "--max-attempts: expected an integer from 1 to 1000" },
	{ { "submit", "--queue", "", "sleep", "1" }, "--queue" },
	{ { "wait" }, "ID (or --group G) is missing" },
	{ { "wait", "--group", "3", "4" }, "not both" },
	{ { "wait", "--timeout", "x", "4" }, "--timeout" },
	{ { "cancel", "-g", "0" }, "--group: expected an integer" },
	{ { "list", "--state", "done" }, "--state: expected one of" },
	{ { "list", "--limit", "0" }, "--limit: expected an integer from 1 "
	    "to 10000" },
	{ { "list", "--limit", "10001" }, "--limit" },
	{ { "submit-group" }, "FILE is missing" },
	{ { "submit-group", "/nonexistent/g.json" }, "/nonexistent/g.json: "
	    "No such file" },
	{ { "help", "frob" }, "no command frob" },
};

START_TEST(test_usage_errors)
{
	const char *args[12];
	size_t i = _i, n = 0;

	fake_start(NULL);
	args[n++] = "-s";
	args[n++] = fk.path;
	for (size_t k = 0; usage_cases[i].args[k] != NULL; k++)
		args[n++] = usage_cases[i].args[k];
	args[n] = NULL;
	run_as(0, NULL, args);
	ck_assert_msg(last.status == 2 && strstr(last.err,
	    usage_cases[i].says) != NULL && strstr(last.err, "jobctl: ") ==
	    last.err, "case %zu: status %d, stderr:\n%s--- want in it: %s", i,
	    last.status, last.err, usage_cases[i].says);
	ck_assert_str_eq(last.out, "");
	ck_assert_int_eq(fk.conns, 0);
}
END_TEST

START_TEST(test_group_file_errors)
{
	char path[128];

	fake_start(NULL);
	put_file("g.json", "[{\"kind\":\"sleep\",\n \"args\":{}},]");
	snprintf(path, sizeof(path), "%s/g.json", fk.dir);
	CTL("submit-group", path);
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(last.err, "g.json: invalid JSON at "
	    "line 2, column"));
	put_file("stdin", "[{\"kind\":\"sleep\",\"args\":{}}, 3]");
	CTL("submit-group", "-");
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(last.err, "stdin: jobs[1] is not a JSON "
	    "object"));
	put_file("stdin", "{\"jobs\":[]}");
	CTL("submit-group", "-");
	ck_assert_int_eq(last.status, 2);
	ck_assert_ptr_nonnull(strstr(last.err, "stdin: expected a JSON array, "
	    "got a JSON object"));
	ck_assert_int_eq(fk.conns, 0);
}
END_TEST

START_TEST(test_help_and_version)
{
	char want[64];

	CTL_BARE("--version");
	snprintf(want, sizeof(want), "jobctl %s\n", JOBD_VERSION);
	ck_run(0, want, "");
	CTL_BARE("--help");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "usage: jobctl"));
	for (const char *c = "ping submit submit-group get wait cancel list "
	    "stats"; *c != '\0';) {
		size_t n = strcspn(c, " ");
		char needle[32];
		const char *at;
		snprintf(needle, sizeof(needle), "\n  %.*s", (int)n, c);
		at = strstr(last.out, needle);
		ck_assert_msg(at != NULL && (at[n + 3] == ' ' ||
		    at[n + 3] == '\n'), "no %s", needle);
		c += n + (c[n] == ' ');
	}
	CTL_BARE("submit", "--help");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "--max-attempts"));
	CTL_BARE("help", "wait");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "usage: jobctl wait"));
}
END_TEST

/* ---- against the real jobd ----------------------------------------------- */

static pid_t
jobd_start(void)
{
	char conf[512], cpath[128], jobd[PATH_MAX + 16], log[128];
	struct jc_conn *c = NULL;
	pid_t pid;

	snprintf(jobd, sizeof(jobd), "%s", jobctl_path());
	strcpy(strrchr(jobd, '/'), "/jobd");
	if (access(jobd, X_OK) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "[daemon]\nsocket = jobd.sock\n"
	    "database = jobd.db\nsync = normal\nshutdown_grace = 1\n"
	    "[queue.default]\nworkers = 2\ncapacity = 10\ntimeout = 0\n");
	put_file("jobd.conf", conf);
	snprintf(cpath, sizeof(cpath), "%s/jobd.conf", fk.dir);
	snprintf(log, sizeof(log), "%s/jobd.log", fk.dir);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		dup2(fd, 2);
		execl(jobd, "jobd", "-c", cpath, (char *)NULL);
		_exit(126);
	}
	ck_assert_int_gt(pid, 0);
	/* Ready once the socket accepts. */
	for (int i = 0; i < 1000 * tu_slow(); i++) {
		if (jc_open(fk.path, &c) == 0)
			break;
		ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
		usleep(5000);
	}
	ck_assert_ptr_nonnull(c);
	jc_close(c);
	return pid;
}

static void
jobd_stop(pid_t pid)
{
	int st;

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "jobd: %d", st);
}

/* Count the lines of s. */
static int
nlines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_live_jobd)
{
	pid_t pid = jobd_start();
	char want[256];

	/* jobd is built beside jobctl: a missing one fails, never skips. */
	ck_assert_msg(pid >= 0, "no jobd beside %s", jobctl_path());
	CTL("ping");
	snprintf(want, sizeof(want), "jobd %s at %s\n", JOBD_VERSION, fk.path);
	ck_run(0, want, "");
	CTL("submit", "--name", "nap", "sleep", "0.2");
	ck_run(0, "1\n", "");
	CTL("wait", "1");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "state:    succeeded\n"));
	ck_assert_ptr_nonnull(strstr(last.out,
	    "args:     {\"seconds\":0.2}\n"));
	ck_assert_ptr_nonnull(strstr(last.out, "name:     nap\n"));
	CTL("submit", "--wait", "sleep",
	    "{\"seconds\":0.05,\"fail\":\"boom\"}");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.out, "state:    failed\n"));
	ck_assert_ptr_nonnull(strstr(last.out, "error:    boom\n"));
	CTL("submit", "sleep", "30");
	ck_run(0, "3\n", "");
	CTL("wait", "--timeout", "0", "3");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.err, "jobctl: timeout: "));
	CTL("cancel", "--reason", "stop it", "3");
	ck_run(0, "job 3 cancelled\n", "");
	CTL("wait", "3");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.out, "cancel_reason: stop it\n"));
	CTL("cancel", "1");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.err, "jobctl: not_cancellable: "));
	CTL("list");
	ck_assert_int_eq(last.status, 0);
	ck_assert_int_eq(nlines(last.out), 4);
	ck_assert_ptr_nonnull(strstr(last.out,
	    "\n 3  default  sleep  cancelled"));
	CTL("--json", "list", "--state", "failed");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "\"id\":2,"));
	ck_assert_int_eq(nlines(last.out), 1);
	CTL("stats");
	ck_assert_int_eq(last.status, 0);
	ck_assert_ptr_nonnull(strstr(last.out, "QUEUE    QUEUED  RUNNING  "
	    "WORKERS  CAPACITY"));
	ck_assert_ptr_nonnull(strstr(last.out, "\ndefault       0        0"));
	CTL("get", "99");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.err, "jobctl: not_found: "));
	CTL("submit", "nosuch", "{}");
	ck_assert_int_eq(last.status, 1);
	ck_assert_ptr_nonnull(strstr(last.err, "jobctl: unknown_kind: "));
	jobd_stop(pid);
	/* Gone: exit 3. */
	CTL("ping");
	ck_assert_int_eq(last.status, 3);
}
END_TEST

/* ---- the modules directly ------------------------------------------------ */

START_TEST(test_args_numbers)
{
	char err[CTL_ERRLEN];
	json_t *v;
	int64_t n;

	static const char *const bad[] = { "", " 1", "1 ", "-1", "+1", "0x10",
		"inf", "nan", "1e", "1e+", ".", "1..2", "1e400", "1000000001" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctl_parse_seconds(bad[i], "t", &v, err,
		    sizeof(err)) == -EINVAL, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(ctl_parse_seconds("1e9", "t", &v, err, sizeof(err)),
	    0);
	ck_assert(json_is_integer(v));
	json_decref(v);
	ck_assert_int_eq(ctl_parse_seconds(".5", "t", &v, err, sizeof(err)),
	    0);
	ck_assert(json_is_real(v) && json_real_value(v) == 0.5);
	json_decref(v);
	ck_assert_int_eq(ctl_parse_id("9223372036854775807", "ID", &n, err,
	    sizeof(err)), 0);
	ck_assert(n == INT64_MAX);
	ck_assert_int_eq(ctl_parse_id("9223372036854775808", "ID", &n, err,
	    sizeof(err)), -EINVAL);
	ck_assert_int_eq(ctl_parse_int("-5", "x", -10, 10, &n, err,
	    sizeof(err)), 0);
	ck_assert(n == -5);
}
END_TEST

START_TEST(test_json_text)
{
	json_t *v = json_pack("{s:f,s:f,s:f,s:f,s:s,s:[i,f,b,n],s:{}}", "a",
	    0.1, "b", 0.1 + 0.2, "c", 2.0, "d", 1e300, "e",
	    "q\"\\\n\x01\xc3\xa9/",
	    "f", (json_int_t)-7, -0.0, 1, "g");
	char *t = jc_json_text(v);

	ck_assert_str_eq(t, "{\"a\":0.1,\"b\":0.30000000000000004,\"c\":2.0,"
	    "\"d\":1e+300,\"e\":\"q\\\"\\\\\\n\\u0001\xc3\xa9/\","
	    "\"f\":[-7,-0.0,true,null],\"g\":{}}");
	free(t);
	json_decref(v);
}
END_TEST

START_TEST(test_show_clean)
{
	char *s = ctl_clean("a\tb\x1b[0m\x7f\xc2\x85\xc3\xa9");

	ck_assert_str_eq(s, "a\\tb\\x1b[0m\\x7f\\u0085\xc3\xa9");
	free(s);
}
END_TEST

static Suite *
jobctl_suite(void)
{
	Suite *s = suite_create("jobctl");
	TCase *tc = tcase_create("jobctl");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_lifecycle_commands);
	tcase_add_test(tc, test_unique_and_schedules);
	tcase_add_test(tc, test_error_answer);
	tcase_add_test(tc, test_bad_answers);
	tcase_add_test(tc, test_refused_with_a_line);
	tcase_add_test(tc, test_submit_shorthands);
	tcase_add_test(tc, test_submit_options);
	tcase_add_test(tc, test_submit_wait);
	tcase_add_test(tc, test_submit_group);
	tcase_add_test(tc, test_get_human);
	tcase_add_test(tc, test_get_unknown_fields);
	tcase_add_test(tc, test_wait_exit_status);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_long_answer);
	tcase_add_test(tc, test_socket_choice);
	tcase_add_test(tc, test_not_running);
	tcase_add_test(tc, test_permission_denied);
	tcase_add_loop_test(tc, test_usage_errors, 0,
	    sizeof(usage_cases) / sizeof(usage_cases[0]));
	tcase_add_test(tc, test_group_file_errors);
	tcase_add_test(tc, test_help_and_version);
	tcase_add_test(tc, test_live_jobd);
	tcase_add_test(tc, test_args_numbers);
	tcase_add_test(tc, test_json_text);
	tcase_add_test(tc, test_show_clean);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobctl_suite());
}
