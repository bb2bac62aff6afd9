/*
 * server.c — the Unix socket server (server.h).
 *
 * Per connection: a reader task (reads, splits lines, calls the handler in
 * order, each awaited before the next) and a writer task (writes ready
 * answers in order).  Answers live in a FIFO of struct reply, one per
 * request; an answer may become ready long after later ones (a submit
 * waiting for its commit), and the writer waits for the head.  A reply
 * outlives its connection if its answer is still to come: it is then
 * orphaned (r->c = NULL) and freed by whoever answers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "co.h"
#include "co_io.h"
#include "co_sched.h"
#include "idmap.h"
#include "log.h"
#include "proto.h"
#include "server.h"

#define READ_CHUNK      (64u * 1024)    /* bytes asked of one read(2) */
#define WRITE_BATCH     (64u * 1024)    /* answers gathered per write(2) */
#define WRITE_TIMEOUT   60.0            /* a client reading nothing that long goes */
#define CLOSE_FLUSH     1.0             /* seconds to flush answers at close */
#define LINES_PER_TURN  256             /* requests handled before a yield */
#define HUP_TICK        1.0             /* look for hung-up clients this often */
#define OUT_SHARE       (64u * 1024)    /* unwritten bytes that count as a
					 * share of client_memory */

#define TOO_MANY_LINE                                                    \
	"{\"ok\":false,\"error\":{\"code\":\"too_many_connections\","    \
	"\"message\":\"jobd has max_connections clients already; try "  \
	"again later\"}}\n"

struct conn;

struct reply {
	struct conn *c;         /* NULL: orphaned, the connection is gone */
	char *line;
	size_t len;
	bool ready;
	bool close_after;       /* line_too_long, slow line: the last answer */
	json_t *tag;
	TAILQ_ENTRY(reply) link;
	char small[64];         /* line, when it fits: no malloc */
};

struct conn {
	struct srv *s;
	int fd;
	struct srv_peer peer;
	struct co_task *reader, *writer;
	char *in;
	size_t inlen, incap;
	TAILQ_HEAD(, reply) out;
	size_t npending, outbytes;
	struct co_waitq wq;     /* the writer, for the head answer */
	struct co_waitq rq;     /* the reader, for room to read more */
	double line_start;      /* when the partial line in `in` began */
	uint64_t nreq;          /* requests handed to the handler */
	uint64_t held;          /* nreq the last tick saw in the handler */
	bool busy;              /* the reader is inside the handler */
	bool eof;               /* the reader is done */
	bool counted;           /* in s->users (not exempt) */
	LIST_ENTRY(conn) link;
};

struct srv {
	struct co_rt *rt;
	int lfd;
	struct srv_limits lim;
	srv_handler handler;
	void *arg;
	struct co_task *acceptor;
	LIST_HEAD(, conn) conns;
	size_t nconns;
	struct idmap *users;    /* uid + 1 -> its connections (uintptr_t) */
	size_t inbytes;         /* request buffers of every connection */
	size_t outbytes;        /* unwritten answers of every connection */
	struct co_waitq memq;   /* readers waiting for client_memory */
	struct event *tick;     /* finds clients gone while a request is held */
	int spare_fd;           /* closed to accept (and refuse) at EMFILE */
	struct co_waitq goneq;  /* srv_close_all, for the last connection */
};

/* ---- listening ----------------------------------------------------------- */

/* Is somebody answering on path?  A socket file nobody answers on is left
 * by a dead process and may be replaced; anything else at path may not. */
static int
listen_probe(const struct sockaddr_un *sa, const char **what)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : (*what = "stat", -errno);
	if (!S_ISSOCK(st.st_mode)) {
		*what = "exists and is not a socket";
		return -EEXIST;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (*what = "socket", -errno);
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	err = errno;
	close(fd);
	if (rc == 0) {
		*what = "another process (a running jobd?) is listening on it";
		return -EADDRINUSE;
	}
	/* Only a refused connection proves nobody listens; any other error
	 * (EACCES, say) says nothing, and the file must stay. */
	if (err != ECONNREFUSED)
		return (*what = "probe the existing socket", -err);
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return (*what = "remove the stale socket", -errno);
	return 0;
}

int
srv_listen(const char *path, mode_t mode, gid_t gid, const char **what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return (*what = "path too long for a socket", -ENAMETOOLONG);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((rc = listen_probe(&sa, what)) < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (*what = "socket", -errno);
	old = umask(0177);      /* no wider than 0600 until the chmod */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0)
		*what = "bind";
	else if ((rc = chmod(path, mode)) < 0)
		*what = "chmod";
	else if (gid != (gid_t)-1 && (rc = chown(path, (uid_t)-1, gid)) < 0)
		*what = "chown to socket_group";
	else if ((rc = listen(fd, SOMAXCONN)) < 0)
		*what = "listen";
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int
srv_adopt(int fd, char *path, size_t len, const char **what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen = sizeof(sa);
	int fl;

	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
		return (*what = "not a listening Unix stream socket", -EINVAL);
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		return (*what = "getsockname", -errno);
	if (salen <= offsetof(struct sockaddr_un, sun_path) ||
	    sa.sun_path[0] == '\0')
		snprintf(path, len, "(unnamed or abstract socket)");
	else
		snprintf(path, len, "%.*s", (int)(salen -
		    offsetof(struct sockaddr_un, sun_path)), sa.sun_path);
	/* The accept loop wants it non-blocking; the file description is
	 * shared with the manager, which does not mind. */
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return (*what = "fcntl", -errno);
	return fd;
}

/* ---- answers ----------------------------------------------------------- */

static void
reply_free(struct reply *r)
{
	json_decref(r->tag);
	if (r->line != r->small)
		free(r->line);
	free(r);
}

static void
reply_ready(struct reply *r)
{
	struct conn *c = r->c;

	if (c == NULL) {
		reply_free(r);
		return;
	}
	r->ready = true;
	c->outbytes += r->len;
	c->s->outbytes += r->len;
	if (r == TAILQ_FIRST(&c->out))
		co_waitq_wake_all(&c->wq, 0);
}

void
reply_send(struct reply *r, json_t *resp)
{
	if (resp == NULL || proto_dump(resp, &r->line, &r->len) < 0) {
		free(r->line);
		r->line = strdup(PROTO_OOM_LINE);
		r->len = r->line != NULL ? strlen(r->line) : 0;
	}
	json_decref(resp);
	reply_ready(r);
}

void
reply_send_raw(struct reply *r, const char *line, size_t len)
{
	if ((r->line = len <= sizeof(r->small) ? r->small : malloc(len)) !=
	    NULL) {
		memcpy(r->line, line, len);
		r->len = len;
	}
	reply_ready(r);
}

void
reply_send_line(struct reply *r, char *line, size_t len)
{
	if (r->line != r->small)
		free(r->line);
	r->line = line;
	r->len = len;
	reply_ready(r);
}

void
reply_keep_tag(struct reply *r, json_t *tag)
{
	json_decref(r->tag);
	r->tag = json_incref(tag);
}

json_t *
reply_tag(const struct reply *r)
{
	return r->tag;
}

const struct srv_peer *
reply_peer(const struct reply *r)
{
	return r->c != NULL ? &r->c->peer : NULL;
}

static struct reply *
reply_new(struct conn *c)
{
	struct reply *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->c = c;
	TAILQ_INSERT_TAIL(&c->out, r, link);
	c->npending++;
	return r;
}

struct reply *
reply_again(struct reply *r)
{
	return r->c != NULL ? reply_new(r->c) : NULL;
}

int
reply_wait_drained(struct reply *r, size_t bytes)
{
	int rc;

	while (r->c != NULL && r->c->outbytes > bytes)
		if ((rc = co_waitq_wait(&r->c->rq, CO_FOREVER, NULL)) < 0)
			return rc;
	return r->c != NULL ? 0 : -EPIPE;
}

/* ---- the writer ------------------------------------------------------------ */

/* Take the written answers off the head. */
static bool
writer_pop(struct conn *c, size_t n)
{
	struct reply *r;
	bool last = false;

	while (n-- > 0) {
		r = TAILQ_FIRST(&c->out);
		TAILQ_REMOVE(&c->out, r, link);
		c->npending--;
		c->outbytes -= r->len;
		c->s->outbytes -= r->len;
		last = last || r->close_after;
		reply_free(r);
	}
	co_waitq_wake_all(&c->rq, 0);
	co_waitq_wake_all(&c->s->memq, 0);
	return last;
}

/* Write the ready answers at the head, many per write: 0, 1 when the
 * last answer (close_after) went out, or a negative errno. */
static int
writer_flush(struct conn *c, char *buf)
{
	struct reply *r = TAILQ_FIRST(&c->out);
	size_t n = 0, len = 0;
	ssize_t rc;

	/* One long answer, or one alone (a watch's batch of events), is
	 * written from where it is, not gathered first. */
	if (r->len > WRITE_BATCH || (r->len > WRITE_BATCH / 16 &&
	    (TAILQ_NEXT(r, link) == NULL || !TAILQ_NEXT(r, link)->ready))) {
		rc = co_write_all(c->fd, r->line, r->len, WRITE_TIMEOUT);
		n = 1;
	} else {
		for (; r != NULL && r->ready && len + r->len <= WRITE_BATCH;
		    r = TAILQ_NEXT(r, link), n++) {
			memcpy(buf + len, r->line, r->len);
			len += r->len;
		}
		rc = co_write_all(c->fd, buf, len, WRITE_TIMEOUT);
	}
	if (rc < 0)
		return (int)rc;
	return writer_pop(c, n) ? 1 : 0;
}

static int
writer_main(void *arg)
{
	struct conn *c = arg;
	struct reply *r;
	char *buf;
	int rc = 0;

	if ((buf = malloc(WRITE_BATCH)) == NULL)
		rc = -ENOMEM;
	while (rc == 0) {
		r = TAILQ_FIRST(&c->out);
		if (r != NULL && r->ready)
			rc = writer_flush(c, buf);
		else if (r == NULL && c->eof)
			break;
		else
			rc = co_waitq_wait(&c->wq, CO_FOREVER, NULL);
	}
	free(buf);
	if (rc < 0 && rc != -ECANCELED)
		log_debug("connection of pid %d: write: %s", (int)c->peer.pid,
		    strerror(-rc));
	if (rc != 0 && !c->eof)
		co_cancel(c->reader);   /* nobody will read the answers */
	return 0;
}

/* ---- the reader ------------------------------------------------------------ */

/* The connection's last answer: an error, after which it is closed. */
static void
reader_refuse(struct conn *c, enum proto_code code, const char *msg)
{
	struct reply *r;

	if ((r = reply_new(c)) == NULL)
		return;
	r->close_after = true;
	reply_send(r, proto_error(NULL, code, msg));
}

static void
line_too_long(struct conn *c)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "request line longer than max_line (%zu "
	    "bytes); closing the connection", c->s->lim.max_line);
	reader_refuse(c, PROTO_LINE_TOO_LONG, msg);
}

static void
slow_line(struct conn *c)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "request line not finished within %g s "
	    "of its first byte (line_timeout); closing the connection",
	    c->s->lim.line_timeout);
	reader_refuse(c, PROTO_BAD_REQUEST, msg);
}

/* Is the server over client_memory, counting `more` bytes still to come? */
static bool
srv_over(const struct srv *s, size_t more)
{
	return s->lim.client_memory > 0 &&
	    s->inbytes + s->outbytes + more > s->lim.client_memory;
}

/* Wait while too many answers are unwritten: on this connection, or on
 * all of them together if this one has its share (OUT_SHARE) unwritten
 * too.  A client that reads its answers is never held up by the ones that
 * do not; the budget may be passed by OUT_SHARE per such client. */
static int
reader_room(struct conn *c)
{
	struct srv *s = c->s;
	int rc;

	while (c->npending >= SRV_PENDING_MAX || c->outbytes >= SRV_OUT_MAX) {
		if ((rc = co_waitq_wait(&c->rq, CO_FOREVER, NULL)) < 0)
			return rc;
	}
	while (c->outbytes >= OUT_SHARE && srv_over(s, 0)) {
		if ((rc = co_waitq_wait(&s->memq, CO_FOREVER, NULL)) < 0)
			return rc;
	}
	return 0;
}

/* Handle every complete line in the buffer.  0, 1 to stop reading (a line
 * too long), or -ECANCELED. */
static int
reader_lines(struct conn *c)
{
	char *p = c->in, *end = c->in + c->inlen, *nl;
	struct reply *r;
	unsigned n = 0;
	int rc = 0;

	while (rc == 0 && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((size_t)(nl - p) > c->s->lim.max_line) {
			line_too_long(c);
			return 1;
		}
		if ((rc = reader_room(c)) < 0)
			break;
		if ((r = reply_new(c)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		*nl = '\0';
		c->nreq++;
		c->busy = true;
		c->s->handler(c->s->arg, p, (size_t)(nl - p), r);
		c->busy = false;
		p = nl + 1;
		/* A steady pipeline never blocks the read: let the workers
		 * and the other connections run now and then. */
		if (++n % LINES_PER_TURN == 0)
			rc = co_yield();
		else
			rc = co_check() == -ECANCELED ? -ECANCELED : 0;
	}
	if (p != c->in)                 /* what is left is a new line */
		c->line_start = co_now();
	c->inlen = (size_t)(end - p);
	memmove(c->in, p, c->inlen);
	if (rc == 0 && c->inlen > c->s->lim.max_line) {
		line_too_long(c);
		return 1;
	}
	return rc;
}

/* Resize the request buffer to cap bytes, keeping the server's count. */
static int
reader_resize(struct conn *c, size_t cap)
{
	char *p;

	if ((p = realloc(c->in, cap)) == NULL)
		return -ENOMEM;
	c->s->inbytes = c->s->inbytes - c->incap + cap;
	if (cap < c->incap)
		co_waitq_wake_all(&c->s->memq, 0);
	c->in = p;
	c->incap = cap;
	return 0;
}

/* Room for the next read.  The buffer is one chunk, or, for a line longer
 * than that, room for the longest line at once: that growth waits for
 * client_memory (until deadline).  Growing a chunk at a time instead would
 * let many long lines each hold part of the budget and all wait for more. */
static int
reader_grow(struct conn *c, double deadline)
{
	size_t want = c->inlen + READ_CHUNK;
	int rc;

	if (c->incap >= want)
		return 0;
	if (want > READ_CHUNK && want < c->s->lim.max_line + READ_CHUNK)
		want = c->s->lim.max_line + READ_CHUNK;
	while (c->incap >= READ_CHUNK && srv_over(c->s, want - c->incap))
		if ((rc = co_waitq_wait(&c->s->memq, deadline, NULL)) < 0)
			return rc;
	return reader_resize(c, want);
}

/* A long line is done with: give the memory back (the next one is most
 * likely short). */
static void
reader_shrink(struct conn *c)
{
	if (c->incap > READ_CHUNK && c->inlen <= READ_CHUNK / 2)
		(void)reader_resize(c, READ_CHUNK);
}

/* Read and handle lines until end of file, an error or a cancel.  A line
 * begun must end within line_timeout: a client trickling bytes (slowloris)
 * cannot hold its buffer and its place for ever. */
static void
reader_loop(struct conn *c)
{
	double deadline;
	ssize_t n;

	for (;;) {
		deadline = c->inlen > 0 && c->s->lim.line_timeout > 0 ?
		    c->line_start + c->s->lim.line_timeout : CO_FOREVER;
		n = reader_grow(c, deadline);
		/* A negative timeout would mean "none": a deadline already
		 * passed is 0. */
		if (n == 0)
			n = co_read(c->fd, c->in + c->inlen, c->incap -
			    c->inlen, deadline == CO_FOREVER ? CO_FOREVER :
			    fmax(deadline - co_now(), 0));
		if (n == -ETIMEDOUT) {
			slow_line(c);
			return;
		}
		if (n <= 0)
			return;         /* end of file, error, cancelled */
		if (c->inlen == 0)
			c->line_start = co_now();
		c->inlen += (size_t)n;
		if (reader_lines(c) != 0)
			return;
		reader_shrink(c);
	}
}

/* ---- connections per user ------------------------------------------------ */

/* Root and admin_gid's members are not limited (nor counted). */
static bool
user_exempt(const struct srv_limits *lim, const struct srv_peer *p)
{
	if (p->uid == 0)
		return true;
	if (lim->admin_gid == (gid_t)-1)
		return false;
	if (p->gid == lim->admin_gid)
		return true;
	for (size_t i = 0; i < p->ngroups; i++)
		if (p->groups[i] == lim->admin_gid)
			return true;
	return false;
}

/* Count c against its uid: 0; -EUSERS when the uid has max_per_user
 * connections already (c is to be refused); -ENOMEM. */
static int
user_admit(struct srv *s, struct conn *c)
{
	int64_t key = (int64_t)c->peer.uid + 1;
	uintptr_t n;

	if (user_exempt(&s->lim, &c->peer))
		return 0;
	n = (uintptr_t)idmap_get(s->users, key);
	if (s->lim.max_per_user > 0 && n >= (uintptr_t)s->lim.max_per_user)
		return -EUSERS;
	if (idmap_put(s->users, key, (void *)(n + 1)) < 0)
		return -ENOMEM;
	c->counted = true;
	return 0;
}

static void
user_release(struct conn *c)
{
	int64_t key = (int64_t)c->peer.uid + 1;
	uintptr_t n;

	if (!c->counted)
		return;
	n = (uintptr_t)idmap_get(c->s->users, key);
	if (n <= 1)
		(void)idmap_del(c->s->users, key);
	else    /* the key is there: replacing it allocates nothing */
		(void)idmap_put(c->s->users, key, (void *)(n - 1));
	c->counted = false;
}

/* Tell a client there is no room for it, and close. */
static void
refuse_line(int fd, const char *line, size_t len)
{
	(void)send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* The uid of a new client has its share: say which limit, and close. */
static void
user_refuse(const struct srv *s, int fd, uid_t uid)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":{\"code\":"
	    "\"too_many_connections\",\"message\":\"uid %u has %d "
	    "connections to jobd already (max_connections_per_user); try "
	    "again later\"}}\n", (unsigned)uid, s->lim.max_per_user);
	refuse_line(fd, line, (size_t)n);
}

/* ---- connections ------------------------------------------------------------ */

static void
conn_free(struct conn *c)
{
	struct srv *s = c->s;
	struct reply *r;

	while ((r = TAILQ_FIRST(&c->out)) != NULL) {
		TAILQ_REMOVE(&c->out, r, link);
		if (r->ready)
			reply_free(r);
		else
			r->c = NULL;    /* its answer comes later: orphan */
	}
	s->outbytes -= c->outbytes;
	s->inbytes -= c->incap;
	co_waitq_wake_all(&s->memq, 0);
	close(c->fd);
	free(c->in);
	user_release(c);
	free(c->peer.groups);
	LIST_REMOVE(c, link);
	free(c);
	if (--s->nconns == 0)
		co_waitq_wake_all(&s->goneq, 0);
}

static int
conn_main(void *arg)
{
	struct conn *c = arg;
	double flush = CO_FOREVER;

	if (co_spawn(c->s->rt, writer_main, c, &c->writer) < 0) {
		conn_free(c);
		return -ENOMEM;
	}
	reader_loop(c);
	c->eof = true;
	co_waitq_wake_all(&c->wq, 0);
	/* Let the writer finish the answers, with a bound when closing
	 * because of a stop or a broken client. */
	if (co_cancelled())
		flush = CLOSE_FLUSH;
	co_shield_enter();
	if (co_wait_for(c->writer, flush, NULL) < 0)
		log_debug("connection of pid %d: answers dropped at close",
		    (int)c->peer.pid);
	co_shield_exit();
	conn_free(c);
	return 0;
}

/* The peer's credentials and supplementary groups, as they were when it
 * connected: the kernel answers from the socket (no NSS, no blocking).
 * 0 or a negative errno; a kernel without SO_PEERGROUPS (before 4.13)
 * gives no supplementary groups, so only the primary gid counts. */
static int
peer_read(int fd, struct srv_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	len = 0;                /* ERANGE tells the size (<= NGROUPS_MAX) */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) < 0 &&
	    errno != ERANGE)
		return errno == ENOPROTOOPT ? 0 : -errno;
	if (len == 0)
		return 0;
	if ((p->groups = malloc(len)) == NULL)
		return -ENOMEM;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) < 0)
		return -errno;
	p->ngroups = len / sizeof(gid_t);
	return 0;
}

static void
conn_new(struct srv *s, int fd)
{
	struct conn *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	/* Who may do what depends on it: an unknown peer gets nothing. */
	if ((rc = peer_read(fd, &c->peer)) < 0)
		log_warnx("connection: cannot read the peer's credentials: "
		    "%s; closing it", strerror(-rc));
	else if ((rc = user_admit(s, c)) == -EUSERS)
		user_refuse(s, fd, c->peer.uid);
	if (rc < 0) {
		if (rc != -EUSERS)
			close(fd);
		free(c->peer.groups);
		free(c);
		return;
	}
	TAILQ_INIT(&c->out);
	co_waitq_init(&c->wq);
	co_waitq_init(&c->rq);
	LIST_INSERT_HEAD(&s->conns, c, link);
	s->nconns++;
	if (co_spawn(s->rt, conn_main, c, &c->reader) < 0) {
		c->fd = fd;
		conn_free(c);
		return;
	}
	co_detach(c->reader);   /* still valid while in s->conns */
}

static void
accept_refuse(int fd)
{
	refuse_line(fd, TOO_MANY_LINE, sizeof(TOO_MANY_LINE) - 1);
}

/* Out of fds: give the spare one up for a moment to take the waiting
 * client and refuse it, rather than leave it hanging in the backlog. */
static void
accept_emfile(struct srv *s)
{
	int fd;

	if (s->spare_fd < 0)
		return;
	close(s->spare_fd);
	if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		accept_refuse(fd);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int
accept_main(void *arg)
{
	struct srv *s = arg;
	int fd;

	for (;;) {
		fd = co_accept(s->lfd, NULL, NULL, CO_FOREVER);
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ||
		    fd == -ENOBUFS) {
			log_warnx("accept: %s; refusing clients for 0.1 s",
			    strerror(-fd));
			accept_emfile(s);
			if (co_sleep(0.1) < 0)
				return 0;
			continue;
		}
		if (fd < 0)
			return fd == -ECANCELED ? 0 : fd;
		if (s->nconns >= (size_t)s->lim.max_connections)
			accept_refuse(fd);
		else
			conn_new(s, fd);
	}
}

/* Has the client closed its end for good?  POLLHUP: both directions shut
 * (a client that only shut its writing side still reads its answers). */
static bool
conn_gone(const struct conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = 0 };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR));
}

/* Once a tick: a client that left while one of its requests is held (a
 * submit under backpressure, a wait) is not noticed by a reader that is
 * not reading; cancel that request so its place and slot are freed. */
static void
srv_tick(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;
	struct conn *c;

	(void)fd;
	(void)what;
	LIST_FOREACH(c, &s->conns, link) {
		if (!c->busy || c->held != c->nreq) {
			c->held = c->busy ? c->nreq : 0;
			continue;
		}
		if (!c->eof && conn_gone(c)) {
			log_debug("connection of pid %d: client gone while its "
			    "request was held; cancelling it",
			    (int)c->peer.pid);
			co_cancel(c->reader);
		}
	}
}

/* ---- the server ------------------------------------------------------------ */

struct srv *
srv_new(struct co_rt *rt, int lfd, const struct srv_limits *lim,
    srv_handler handler, void *arg)
{
	struct srv *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->rt = rt;
	s->lfd = lfd;
	s->lim = *lim;
	s->handler = handler;
	s->arg = arg;
	LIST_INIT(&s->conns);
	if ((s->users = idmap_new()) == NULL) {
		free(s);
		return NULL;
	}
	co_waitq_init(&s->goneq);
	co_waitq_init(&s->memq);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return s;
}

void
srv_set_limits(struct srv *s, const struct srv_limits *lim)
{
	s->lim = *lim;
}

int
srv_start(struct srv *s)
{
	const struct timeval tick = { (time_t)HUP_TICK, 0 };

	s->tick = event_new(co_rt_base(s->rt), -1, EV_PERSIST, srv_tick, s);
	if (s->tick == NULL || event_add(s->tick, &tick) < 0)
		return -ENOMEM;
	return co_spawn(s->rt, accept_main, s, &s->acceptor);
}

void
srv_stop_accepting(struct srv *s)
{
	if (s->acceptor != NULL) {
		(void)co_reap(s->acceptor, NULL);
		s->acceptor = NULL;
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		s->lfd = -1;
	}
}

void
srv_close_all(struct srv *s)
{
	struct conn *c;

	LIST_FOREACH(c, &s->conns, link)
		co_cancel(c->reader);
	co_shield_enter();
	while (s->nconns > 0)
		(void)co_waitq_wait(&s->goneq, CO_FOREVER, NULL);
	co_shield_exit();
}

size_t
srv_connections(const struct srv *s)
{
	return s->nconns;
}

void
srv_free(struct srv *s)
{
	if (s == NULL)
		return;
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	if (s->tick != NULL)
		event_free(s->tick);
	idmap_free(s->users);
	free(s);
}
