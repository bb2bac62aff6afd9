/*
 * jc.h — the jobd client library, wire part: one connection to jobd's
 * Unix socket speaking its line protocol (docs/PROTOCOL.md): a request is
 * one line of JSON, jobd answers each with one line, in order, so a
 * client may send many requests before it reads (pipelining).
 *
 * jobctl, the test harness (tests/tu_jobd.c) and the benchmarks all talk
 * to jobd through this.  The connection is an opaque struct jc_conn; the
 * functions return 0 (or a count) or a negative errno.  Its socket is
 * non-blocking, and every wait goes through poll(2) with a timeout in
 * seconds (JC_FOREVER: none), so a caller is never stuck on a peer that
 * stopped reading or answering.  Writes never raise SIGPIPE.
 *
 * Only the wire part is here.  The request calls (submit, get, wait,
 * cancel, list, stats, watch) will sit on it as jc_submit(c, ...) and so
 * on, in their own files, and a coroutine-friendly variant replaces the
 * one place that waits (jc_conn.c's conn_wait).
 */
#ifndef JOBD_JC_H
#define JOBD_JC_H

#include <stddef.h>
#include <sys/types.h>

/* The longest answer line a connection accepts unless jc_set_line_max
 * says otherwise (bytes, '\n' excluded): far past anything jobd sends
 * (its biggest answer, a list of 10,000 jobs, is bounded by max_output per
 * job), but a ceiling all the same. */
#define JC_LINE_MAX ((size_t)1 << 30)

/* A timeout that never ends. */
#define JC_FOREVER (-1.0)

struct jc_conn;

/* Connect to the Unix socket at path.  0 and *out (close with jc_close),
 * or a negative errno with *out = NULL: -ENAMETOOLONG when path is empty
 * or does not fit a socket address, -ENOMEM, else connect(2)'s error
 * (-ENOENT: no socket there, -ECONNREFUSED: nobody listening, -EACCES:
 * not permitted, ...). */
int jc_open(const char *path, struct jc_conn **out)
    __attribute__((warn_unused_result));

/* Wrap an already connected stream socket fd (tests use a socketpair); it
 * is made non-blocking.  The connection owns fd from then on, also on
 * failure.  0 or -ENOMEM. */
int jc_fdopen(int fd, struct jc_conn **out)
    __attribute__((warn_unused_result));

/* Close the socket and free c.  NULL is a no-op. */
void jc_close(struct jc_conn *c);

/* The socket, for poll(2) or getsockopt(2); still c's to close. */
int jc_fd(const struct jc_conn *c);

/* Accept answer lines of up to max bytes from now on (max > 0). */
void jc_set_line_max(struct jc_conn *c, size_t max);

/* Send the len bytes of line followed by '\n' (line must not contain
 * one).  While the socket is full the answers that arrive are read into
 * c's buffer, for jc_recv, so any number of requests can be sent ahead
 * without both sides waiting on each other.  0, or a negative errno:
 * -EPIPE/-ECONNRESET when the peer closed the connection, -ETIMEDOUT when
 * it took no byte for timeout seconds. */
int jc_send(struct jc_conn *c, const char *line, size_t len, double timeout)
    __attribute__((warn_unused_result));

/* Send len raw bytes as they are (partial or several lines), reading
 * answers meanwhile as jc_send does.  Same returns. */
int jc_send_raw(struct jc_conn *c, const void *buf, size_t len,
    double timeout) __attribute__((warn_unused_result));

/* Send len raw bytes and touch nothing but the socket: one thread may
 * call this while another reads with jc_recv (but then the peer must keep
 * reading).  Same returns as jc_send. */
int jc_write(struct jc_conn *c, const void *buf, size_t len, double timeout)
    __attribute__((warn_unused_result));

/* Send what the socket takes now, without waiting: the bytes taken (0 when
 * it is full), or a negative errno (-EPIPE/-ECONNRESET: peer closed). */
ssize_t jc_write_some(struct jc_conn *c, const void *buf, size_t len);

/* Close the sending side (shutdown SHUT_WR): the peer sees the end of the
 * requests; answers can still be read.  0 or a negative errno. */
int jc_shutdown(struct jc_conn *c);

/* Read the next line within timeout seconds.  0 with *line (NUL-terminated,
 * without its '\n') and *len; the line is borrowed and valid until the next
 * call on c other than jc_write, jc_write_some or jc_fd.  Negative errno otherwise: -ETIMEDOUT (try
 * again later: nothing is lost), -EPIPE when the connection ended before
 * any byte of a line, -EBADMSG when it ended in the middle of one,
 * -EMSGSIZE for a line past the bound (jc_set_line_max), -ENOMEM, or
 * read(2)'s error (-ECONNRESET, ...).  After any of these but -ETIMEDOUT
 * and -ENOMEM the connection answers the same error again: the stream has
 * ended, or no line boundary can be trusted any more. */
int jc_recv(struct jc_conn *c, double timeout, char **line, size_t *len)
    __attribute__((warn_unused_result));

#endif /* JOBD_JC_H */
