/*
 * server.h — the Unix socket: connections, request lines, ordered answers.
 *
 * One task per connection reads request lines and hands each to the
 * handler in arrival order; the handler may await (that holds the
 * connection's later requests: backpressure, wait, cancel) and answers
 * through a struct reply, at once or later (a submit answers from its
 * commit).  A second task per connection writes the answers in request
 * order, as each becomes ready, many per write(2).  The server knows
 * nothing of jobs or of JSON beyond the error line for an oversized request.
 *
 * Bounds: a request line over max_line is answered line_too_long and the
 * connection closed after that answer; a connection stops being read while
 * more than SRV_OUT_MAX bytes of answers, or SRV_PENDING_MAX answers, wait
 * to be written (a client that never reads cannot grow jobd); no
 * connection reads more while all of them together buffer client_memory
 * bytes (requests and answers), so a flood of clients cannot either; a
 * request line must arrive whole within line_timeout of its first byte (a client
 * trickling bytes is answered bad_request and closed); at max_connections
 * a new client gets one too_many_connections line and is closed, and so
 * does one that comes while jobd is out of file descriptors, and one whose
 * uid already has max_per_user connections (root and admin_gid's members
 * are exempt and not counted: the limit keeps one user from taking every
 * slot, not the operators).  A client that hangs up while one of its requests is held (a submit waiting for
 * room, a wait) is noticed within about a second and the request is
 * cancelled.
 */
#ifndef JOBD_SERVER_H
#define JOBD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct co_rt;
struct srv;
struct reply;

/* Answers waiting to be written before a connection stops being read. */
#define SRV_OUT_MAX     (4u << 20)      /* bytes */
#define SRV_PENDING_MAX 65536           /* answers */

struct srv_limits {
	size_t max_line;        /* bytes in a request line, '\n' excluded */
	int max_connections;
	size_t client_memory;   /* request + answer bytes, all connections;
				 * 0: no bound but the per-connection ones */
	double line_timeout;    /* seconds for one line; 0: none */
	int max_per_user;       /* connections of one uid; 0: no limit */
	gid_t admin_gid;        /* exempt from max_per_user, as root is;
				 * (gid_t)-1: root only */
};

/* Who is on the other end, read once at accept: SO_PEERCRED (the
 * credentials the peer had when it connected) and SO_PEERGROUPS (its
 * supplementary groups then; none on kernels before 4.13).  A connection
 * whose peer cannot be read is closed at once. */
struct srv_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups;          /* ngroups, owned by the connection */
	size_t ngroups;
};

/* Handle one request line (len bytes, no '\n', NUL-terminated) in the
 * connection's task.  Must answer r exactly once, now or later
 * (reply_send); may await. */
typedef void (*srv_handler)(void *arg, const char *line, size_t len,
    struct reply *r);

/* Create and bind the listening socket at path with mode, group gid
 * ((gid_t)-1: leave it).  A socket file left by a dead jobd is replaced;
 * one a live process answers on is not: -EADDRINUSE.  Returns the fd or a
 * negative errno; *what says which step failed. */
int srv_listen(const char *path, mode_t mode, gid_t gid, const char **what);

/* Take over a listening socket passed by the service manager (socket
 * activation): check it is a listening Unix stream socket, make it
 * non-blocking and close-on-exec, and write its path (for the logs) into
 * path[len].  Returns fd or a negative errno (*what says why).  The file
 * is the manager's: jobd never unlinks it. */
int srv_adopt(int fd, char *path, size_t len, const char **what);

/* A server on the listening fd lfd (it takes ownership), calling handler
 * for every request.  NULL (ENOMEM). */
struct srv *srv_new(struct co_rt *rt, int lfd, const struct srv_limits *lim,
    srv_handler handler, void *arg);

/* New limits, for connections and lines from now on (reload). */
void srv_set_limits(struct srv *s, const struct srv_limits *lim);

/* Start accepting.  0 or -ENOMEM. */
int srv_start(struct srv *s);

/* Stop accepting and close the listening socket (not the connections). */
void srv_stop_accepting(struct srv *s);

/* Close every connection (task): each gets up to a second to write the
 * answers that are ready.  Returns when all are gone. */
void srv_close_all(struct srv *s);

/* Connections open now. */
size_t srv_connections(const struct srv *s);

/* Free the server; no connection may be left (srv_close_all).  NULL ok. */
void srv_free(struct srv *s);

/* ---- answers ------------------------------------------------------------- */

/* Answer r with resp (its reference is taken; NULL means out of memory),
 * serialised as one line.  After this r is gone. */
void reply_send(struct reply *r, json_t *resp);

/* Answer r with a preformatted line (len bytes, '\n' included), copied. */
void reply_send_raw(struct reply *r, const char *line, size_t len);
/* The same with a line (as proto_dump makes it) that r takes over. */
void reply_send_line(struct reply *r, char *line, size_t len);

/* Keep tag (a reference is taken) for an answer given later. */
void reply_keep_tag(struct reply *r, json_t *tag);

/* The tag kept by reply_keep_tag, or NULL; borrowed. */
json_t *reply_tag(const struct reply *r);

/* The peer of r's connection; NULL once the connection is gone. */
const struct srv_peer *reply_peer(const struct reply *r);

#endif /* JOBD_SERVER_H */
