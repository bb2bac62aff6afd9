/*
 * tu_users.c — throwaway users and connections made as them (tu_users.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"
#include "tu_users.h"

bool
tu_users_possible(void)
{
	return geteuid() == 0 && access(TU_USERADD, X_OK) == 0;
}

int
tu_users_main(const char *prog, Suite *(*make)(void))
{
	if (!tu_users_possible()) {
		printf("%s: skipped: making test users needs root and %s\n",
		    prog, TU_USERADD);
		return 77;
	}
	return tu_main(make());
}

int
tu_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	rc = system(cmd);
	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

void
tu_group_add(char *name, size_t len, const char *prefix, char *err,
    size_t errlen)
{
	snprintf(name, len, "%s_%d", prefix, (int)getpid());
	if (err[0] == '\0' && tu_sh("/usr/sbin/groupadd %s", name) != 0)
		snprintf(err, errlen, "groupadd %s failed", name);
}

void
tu_user_add(struct tu_user *u, const char *prefix, const char *groups,
    char *err, size_t errlen)
{
	struct passwd *pw;

	snprintf(u->name, sizeof(u->name), "%s_%d", prefix, (int)getpid());
	if (err[0] != '\0')
		return;
	if (tu_sh(TU_USERADD " -M -s /usr/sbin/nologin%s%s %s",
	    groups ? " -G " : "", groups ? groups : "", u->name) != 0 ||
	    (pw = getpwnam(u->name)) == NULL) {
		snprintf(err, errlen, "useradd %s failed", u->name);
		return;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
}

void
tu_user_del(const struct tu_user *u)
{
	if (u->name[0] != '\0')
		(void)tu_sh("/usr/sbin/userdel %s", u->name);
}

void
tu_group_del(const char *name)
{
	if (name[0] != '\0')
		(void)tu_sh("/usr/sbin/groupdel %s", name);
}

void
tu_open_dirs(const char *path)
{
	char dir[256], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (int i = 0; i < 2 && (slash = strrchr(dir, '/')) != NULL; i++) {
		*slash = '\0';
		ck_assert_int_eq(chmod(dir, 0711), 0);
	}
}

/* The child: become u, connect, send the socket over sp; exit status 0
 * or the step that failed. */
static void __attribute__((noreturn))
connect_child(const struct tu_user *u, const char *path, int sp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))], one = 'x';
	struct iovec iov = { .iov_base = &one, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;

	if (initgroups(u->name, u->gid) < 0 || setgid(u->gid) < 0 ||
	    setuid(u->uid) < 0)
		_exit(2);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		_exit(3);
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	_exit(sendmsg(sp, &m, 0) == 1 ? 0 : 4);
}

int
tu_connect_as(const struct tu_user *u, const char *path)
{
	char cbuf[CMSG_SPACE(sizeof(int))], one;
	struct iovec iov = { .iov_base = &one, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int sp[2], fd = -1, st;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sp), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0)
		connect_child(u, path, sp[1]);
	close(sp[1]);
	if (recvmsg(sp[0], &m, MSG_CMSG_CLOEXEC) == 1 &&
	    (cm = CMSG_FIRSTHDR(&m)) != NULL && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(sp[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && fd >= 0,
	    "connect to %s as %s: child status %d", path, u->name,
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return fd;
}
