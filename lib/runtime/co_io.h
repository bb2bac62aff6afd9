/*
 * co_io.h — awaiting file descriptors (asyncio's loop.sock_* in C).
 *
 * Every fd given to these functions must be non-blocking (co_io_set_nonblock,
 * or SOCK_NONBLOCK/O_NONBLOCK at creation): the helpers try the system call
 * first and park the task on the event loop only when it would block.
 * EINTR and EAGAIN are handled inside; any other failure comes back as the
 * -errno of the failing call.
 *
 * Timeouts are relative seconds or CO_FOREVER and bound the whole call (for
 * co_write_all, all of its writes together).  An enclosing deadline scope
 * applies as usual.  A cancelled task gets -ECANCELED before any I/O is
 * attempted (inside a shield the I/O goes ahead); an expired deadline is
 * noticed only when the call has to wait.
 *
 * None of these functions closes or takes ownership of the fd.  Closing an
 * fd while another task is parked on it is a bug: cancel and join that task
 * first.
 */
#ifndef JOBD_CO_IO_H
#define JOBD_CO_IO_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Directions for co_io_wait (the values of libevent's EV_READ/EV_WRITE). */
#define CO_IO_READ  0x02
#define CO_IO_WRITE 0x04

/* Put fd in non-blocking mode.  0 or -errno. */
int co_io_set_nonblock(int fd);

/* Wait until fd is ready for what (CO_IO_READ, CO_IO_WRITE or both).
 * 0 when ready (readable also means EOF or an error is pending),
 * -ETIMEDOUT, -ECANCELED, -EBADF, -EINVAL (bad what), -EPERM (fd that
 * epoll cannot watch, e.g. a regular file; or called outside a task). */
__attribute__((warn_unused_result))
int co_io_wait(int fd, short what, double timeout);

/* One read(2) of at most n bytes, once fd is readable.  Returns the byte
 * count (0 = end of file), -ETIMEDOUT, -ECANCELED or -errno. */
__attribute__((warn_unused_result))
ssize_t co_read(int fd, void *buf, size_t n, double timeout);

/* Write all n bytes, waiting as often as needed.  Returns n or a negative
 * errno; on an error (including -ETIMEDOUT and -ECANCELED) some prefix of
 * buf may already have been written and this call cannot say how much —
 * use co_write_all_ex when that matters.  Sockets are written with
 * MSG_NOSIGNAL (-EPIPE, no SIGPIPE); for pipes the program must ignore
 * SIGPIPE to get -EPIPE instead of dying. */
__attribute__((warn_unused_result))
ssize_t co_write_all(int fd, const void *buf, size_t n, double timeout);

/* co_write_all that reports progress: returns 0 or a negative errno, and
 * *written (always set) is how many bytes went out before it returned. */
__attribute__((warn_unused_result))
int co_write_all_ex(int fd, const void *buf, size_t n, double timeout,
    size_t *written);

/* Accept one connection on the listening socket lfd.  addr/addrlen as for
 * accept(2) (may be NULL).  Returns the new fd — non-blocking and
 * close-on-exec, owned by the caller — or -ETIMEDOUT, -ECANCELED, -errno.
 * Aborted connections (ECONNABORTED and the network errors accept(2) passes
 * through) are skipped; -EMFILE/-ENFILE are returned, for the caller to
 * back off. */
__attribute__((warn_unused_result))
int co_accept(int lfd, struct sockaddr *addr, socklen_t *addrlen,
    double timeout);

/* Connect the non-blocking socket fd to addr and wait for the outcome.
 * 0 when connected, -ETIMEDOUT, -ECANCELED, or the connection error
 * (-ECONNREFUSED, ...).  After a timeout or cancel the connect may still be
 * in progress: close fd.  A Unix stream socket whose listener's backlog is
 * full fails at once with -EAGAIN (the kernel offers nothing to wait on). */
__attribute__((warn_unused_result))
int co_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
    double timeout);

#endif /* JOBD_CO_IO_H */
