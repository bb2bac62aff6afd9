/*
 * tu_users.h — throwaway users and groups for tests that need real
 * credentials, and connections to a socket made as one of those users.
 *
 * Making users needs root and useradd (CI runs as root); a test that
 * cannot says why and is skipped (exit 77), never passed silently.  Names
 * end in the runner's pid, so that two runs at once do not collide.
 * Create them in an unchecked fixture (it runs in the runner process,
 * which a failing test does not take down) and delete them in its
 * teardown, passed or failed.
 */
#ifndef JOBD_TU_USERS_H
#define JOBD_TU_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TU_USERADD "/usr/sbin/useradd"

struct tu_user {
	char name[32];          /* PREFIX_PID */
	uid_t uid;
	gid_t gid;              /* its own primary group */
};

/* Root, with useradd there? */
bool tu_users_possible(void);

/* A test program's main for a suite that needs users: tu_main(make())
 * when tu_users_possible(), else say why and return 77 (ctest: skipped,
 * not passed).  prog names the program in that message. */
struct Suite;
int tu_users_main(const char *prog, struct Suite *(*make)(void));

/* Run a shell command with its output thrown away; its exit status, or
 * -1 if it did not exit. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* groupadd PREFIX_PID into name[len].  Unless err[0] is already set
 * (an earlier step failed: then only the name is written), a failure
 * writes why into err[errlen]. */
void tu_group_add(char *name, size_t len, const char *prefix, char *err,
    size_t errlen);

/* useradd PREFIX_PID, with no home and no login shell, in the extra
 * groups (comma-separated names, or NULL); err as for tu_group_add. */
void tu_user_add(struct tu_user *u, const char *prefix, const char *groups,
    char *err, size_t errlen);

/* userdel / groupdel, quietly: for teardowns, whatever setup made. */
void tu_user_del(const struct tu_user *u);
void tu_group_del(const char *name);

/* Let every user reach the socket at path: its directory and the one
 * above it (the harness makes them 0700) become 0711. */
void tu_open_dirs(const char *path);

/* A Unix stream connection to path made by a child that became u as a
 * login does (initgroups, setgid, setuid): the peer credentials jobd
 * reads (SO_PEERCRED, SO_PEERGROUPS) are u's.  The child hands the
 * socket back (SCM_RIGHTS) and exits.  Returns the fd (the caller's);
 * fails the test if the child could not connect. */
int tu_connect_as(const struct tu_user *u, const char *path);

#endif /* JOBD_TU_USERS_H */
