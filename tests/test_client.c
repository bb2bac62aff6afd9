/*
 * test_client.c — lib/client's wire part (jc.h): framing against a peer
 * on a socketpair (a forked process writing what the test needs: lines
 * split anywhere, a line past the bound, an end mid-line, answers while
 * the client is still sending), and pipelining against the real jobd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jc.h"
#include "tu_jobd.h"

/* A peer process on one end of a socketpair, the client on the other. */
struct peer {
	struct jc_conn *c;
	pid_t pid;
};

static void
peer_write(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, s, len)) <= 0)
			_exit(1);
		s += n;
		len -= n;
	}
}

/* Fork fn(fd) as the peer; the client's end is p->c. */
static void
peer_start(struct peer *p, void (*fn)(int))
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	if ((p->pid = fork()) == 0) {
		close(sv[0]);
		fn(sv[1]);
		_exit(0);
	}
	ck_assert_int_gt(p->pid, 0);
	close(sv[1]);
	ck_assert_int_eq(jc_fdopen(sv[0], &p->c), 0);
}

/* Close the client's end and reap the peer: its exit status. */
static int
peer_end(struct peer *p)
{
	int st;

	jc_close(p->c);
	ck_assert_int_eq(waitpid(p->pid, &st, 0), p->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define BIG (3 * 1024 * 1024 + 17)

static void
split_peer(int fd)
{
	char *data = malloc(BIG + 1);

	memset(data, 'y', BIG);
	data[BIG] = '\n';
	peer_write(fd, "a\nbc\n", 5);
	usleep(1000);
	peer_write(fd, "d", 1);
	usleep(1000);
	peer_write(fd, "e\n", 2);
	peer_write(fd, data, BIG + 1);
	peer_write(fd, "\ntail", 5);
	free(data);
}

/* Lines split anywhere, many in one read, one far longer than the first
 * buffer; then the peer closes in the middle of a line. */
START_TEST(test_lines_split)
{
	struct peer p;
	char *line;
	size_t len;

	peer_start(&p, split_peer);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_str_eq(line, "a");
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_str_eq(line, "bc");
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_str_eq(line, "de");
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_uint_eq(len, BIG);
	ck_assert_uint_eq(strspn(line, "y"), BIG);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_uint_eq(len, 0);
	/* "tail" and then the end: cut mid-line, and it stays so. */
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EBADMSG);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EBADMSG);
	ck_assert_int_eq(peer_end(&p), 0);
}
END_TEST

static void
clean_end_peer(int fd)
{
	peer_write(fd, "last\n", 5);
}

/* An end between lines is -EPIPE, after the lines before it. */
START_TEST(test_clean_end)
{
	struct peer p;
	char *line;
	size_t len;

	peer_start(&p, clean_end_peer);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_str_eq(line, "last");
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EPIPE);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EPIPE);
	ck_assert_int_eq(peer_end(&p), 0);
}
END_TEST

static void
bound_peer(int fd)
{
	/* 16 bytes: at the bound; then 17 in one write. */
	peer_write(fd, "0123456789abcdef\n0123456789abcdefg\nnext\n", 40);
}

static void
bound_split_peer(int fd)
{
	/* 17 bytes without a '\n' yet, the rest later (the client may have
	 * given up and closed by then). */
	peer_write(fd, "0123456789abcdefg", 17);
	usleep(20000);
	(void)send(fd, "\nnext\n", 6, MSG_NOSIGNAL);
}

/* A line at the bound is read; one byte more is -EMSGSIZE, whether its
 * '\n' came with it or not, and the connection stays refused. */
START_TEST(test_line_bound)
{
	struct peer p;
	char *line;
	size_t len;

	peer_start(&p, bound_peer);
	jc_set_line_max(p.c, 16);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EMSGSIZE);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EMSGSIZE);
	ck_assert_int_eq(peer_end(&p), 0);

	peer_start(&p, bound_split_peer);
	jc_set_line_max(p.c, 16);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EMSGSIZE);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EMSGSIZE);
	ck_assert_int_eq(peer_end(&p), 0);
}
END_TEST

static void
late_peer(int fd)
{
	char b;

	/* Answer only once the client says so. */
	if (read(fd, &b, 1) == 1)
		peer_write(fd, "late\n", 5);
}

/* A timeout loses nothing: the line that comes after it is read whole. */
START_TEST(test_timeout)
{
	struct peer p;
	char *line;
	size_t len;

	peer_start(&p, late_peer);
	ck_assert_int_eq(jc_recv(p.c, 0.05, &line, &len), -ETIMEDOUT);
	ck_assert_int_eq(jc_send(p.c, "", 0, TJ_TIMEOUT), 0);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_str_eq(line, "late");
	ck_assert_int_eq(peer_end(&p), 0);
}
END_TEST

#define NREQ 64
#define ANSWER (64 * 1024)

/* For each request line, a 64 KiB answer, written before reading on: the
 * peer blocks on a full socket just as the client does. */
static void
echo_big_peer(int fd)
{
	char *ans = malloc(ANSWER + 16), c;
	int n = 0, i = 0;

	if (ans == NULL)
		_exit(1);
	while (n < NREQ && read(fd, &c, 1) == 1) {
		if (c != '\n')
			continue;
		i = snprintf(ans, 16, "%d ", n++);
		memset(ans + i, 'z', ANSWER - i);
		ans[ANSWER] = '\n';
		peer_write(fd, ans, ANSWER + 1);
	}
	free(ans);
}

/* 64 requests of 16 KiB sent before any answer is read (4 MiB both
 * ways, far past the socket buffers): jc_send takes the answers in while
 * it waits, so neither side is stuck, and the answers come in order. */
START_TEST(test_pipelined)
{
	char *req, *line, want[16];
	struct peer p;
	size_t len;

	/* The peer first: a forked copy of req would be a leak to valgrind. */
	peer_start(&p, echo_big_peer);
	req = malloc(16 * 1024);
	ck_assert_ptr_nonnull(req);
	memset(req, 'r', 16 * 1024);
	for (int i = 0; i < NREQ; i++)
		ck_assert_int_eq(jc_send(p.c, req, 16 * 1024, TJ_TIMEOUT), 0);
	for (int i = 0; i < NREQ; i++) {
		ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), 0);
		ck_assert_uint_eq(len, ANSWER);
		snprintf(want, sizeof(want), "%d ", i);
		ck_assert_int_eq(strncmp(line, want, strlen(want)), 0);
	}
	ck_assert_int_eq(peer_end(&p), 0);
	free(req);
}
END_TEST

static void
gone_peer(int fd)
{
}

/* A peer that is gone: writes say -EPIPE (no SIGPIPE), reads -EPIPE. */
START_TEST(test_peer_gone)
{
	struct peer p;
	char *line;
	size_t len;
	int st;

	peer_start(&p, gone_peer);
	ck_assert_int_eq(waitpid(p.pid, &st, 0), p.pid);
	ck_assert_int_eq(jc_recv(p.c, TJ_TIMEOUT, &line, &len), -EPIPE);
	ck_assert_int_eq(jc_send(p.c, "x", 1, TJ_TIMEOUT), -EPIPE);
	ck_assert_int_eq(jc_write_some(p.c, "x", 1), -EPIPE);
	jc_close(p.c);
}
END_TEST

START_TEST(test_open_errors)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char longp[200];
	struct jc_conn *c;
	int fd;

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(jc_open(longp, &c), -ENAMETOOLONG);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(jc_open("", &c), -ENAMETOOLONG);
	ck_assert_int_eq(jc_open(tj_path("none.sock"), &c), -ENOENT);
	ck_assert_ptr_null(c);
	/* A socket bound but not listening: refused. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    tj_path("bound.sock"));
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(jc_open(sun.sun_path, &c), -ECONNREFUSED);
	ck_assert_ptr_null(c);
	close(fd);
}
END_TEST

/* Against jobd: 500 pings with tags pipelined, then read, in order. */
START_TEST(test_jobd_pipeline)
{
	char req[64], want[32], *line;
	struct jc_conn *c;
	size_t len;

	tj_start(TJ_DAEMON);
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c), 0);
	for (int i = 0; i < 500; i++) {
		len = snprintf(req, sizeof(req), "{\"op\":\"ping\",\"tag\":%d}",
		    i);
		ck_assert_int_eq(jc_send(c, req, len, TJ_TIMEOUT), 0);
	}
	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(jc_recv(c, TJ_TIMEOUT, &line, &len), 0);
		snprintf(want, sizeof(want), "\"tag\":%d", i);
		ck_assert_msg(strstr(line, want) != NULL &&
		    strstr(line, "\"ok\":true") != NULL, "answer %d: %s", i,
		    line);
	}
	/* A bad line gets an error answer; the end of the requests ends the
	 * connection after the answers. */
	ck_assert_int_eq(jc_send(c, "{", 1, TJ_TIMEOUT), 0);
	ck_assert_int_eq(jc_shutdown(c), 0);
	ck_assert_int_eq(jc_recv(c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_ptr_nonnull(strstr(line, "\"ok\":false"));
	ck_assert_int_eq(jc_recv(c, TJ_TIMEOUT, &line, &len), -EPIPE);
	jc_close(c);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tj_tcase("client", 60);

	tcase_add_test(tc, test_lines_split);
	tcase_add_test(tc, test_clean_end);
	tcase_add_test(tc, test_line_bound);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_peer_gone);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_jobd_pipeline);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(client_suite());
}
