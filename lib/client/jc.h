/*
 * ctl_conn.h — jobctl's connection to jobd: one Unix stream socket,
 * blocking, JSON lines each way.
 *
 * jobctl is a client that does one thing and exits, so plain blocking I/O
 * is all it needs.  Writes never raise SIGPIPE (MSG_NOSIGNAL); a peer that
 * went away shows up as an error return instead.  Answers can be large (a
 * list of jobs with captured output runs to many MB), so the line buffer
 * grows as needed, up to CTL_LINE_MAX.
 */
#ifndef JOBD_CTL_CONN_H
#define JOBD_CTL_CONN_H

#include <stddef.h>

/* The longest answer line jobctl accepts (bytes, '\n' excluded): far past
 * anything jobd sends (its biggest answer, a list of 10,000 jobs, is
 * bounded by max_output per job), but a ceiling all the same. */
#define CTL_LINE_MAX ((size_t)1 << 30)

struct ctl_conn;

/* Connect to the Unix socket at path.  0 and *out (close with
 * ctl_conn_close), or a negative errno with *out = NULL: -ENAMETOOLONG when
 * path does not fit a socket address, -ENOMEM, else connect(2)'s error
 * (-ENOENT: no socket there, -ECONNREFUSED: nobody listening, -EACCES:
 * not permitted, ...). */
int ctl_conn_open(const char *path, struct ctl_conn **out)
    __attribute__((warn_unused_result));

/* Wrap an already connected stream socket fd (tests use a socketpair).
 * The connection owns fd from then on, also on failure.  0 or -ENOMEM. */
int ctl_conn_fdopen(int fd, struct ctl_conn **out)
    __attribute__((warn_unused_result));

/* Write the len bytes of line followed by '\n' (line must not contain
 * one).  0, or a negative errno: -EPIPE/-ECONNRESET when jobd closed the
 * connection. */
int ctl_conn_send(struct ctl_conn *c, const char *line, size_t len)
    __attribute__((warn_unused_result));

/* Read the next line.  0 with *line (NUL-terminated, without its '\n') and
 * *len; the line is borrowed and valid until the next ctl_conn_recv or
 * ctl_conn_close.  Negative errno otherwise: -EPIPE when the connection
 * closed before any byte of a line, -EBADMSG when it closed in the middle
 * of one, -EMSGSIZE past CTL_LINE_MAX, -ENOMEM, or read(2)'s error. */
int ctl_conn_recv(struct ctl_conn *c, char **line, size_t *len)
    __attribute__((warn_unused_result));

/* Close the socket and free c.  NULL is a no-op. */
void ctl_conn_close(struct ctl_conn *c);

#endif /* JOBD_CTL_CONN_H */
