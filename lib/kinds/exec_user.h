/*
 * exec_user.h — whom an exec job runs as under run_as = submitter.
 *
 * The user is resolved in jobd (getpwuid_r, getgrouplist: NSS, which the
 * vfork child of co_proc must not call) into plain arrays the child only
 * copies into system calls: its uid, its passwd gid, the groups initgroups
 * would give it; and the clean environment a login would start from.
 */
#ifndef JOBD_EXEC_USER_H
#define JOBD_EXEC_USER_H

#include <stddef.h>
#include <sys/types.h>

#include "co_proc.h"

struct exec_user {
	struct co_proc_cred cred;
	const struct co_proc_cred *as;  /* &cred, or NULL: jobd's own uid */
	char *home;                     /* the passwd entry's */
	char **env;                     /* NULL-terminated NAME=value */
};

/* Resolve uid.  0 and *out, -ENOENT (no passwd entry) or another negative
 * errno with err filled (one line, for the job's error). */
int exec_user_load(uid_t uid, struct exec_user **out, char *err,
    size_t errlen);

/* NULL is a no-op. */
void exec_user_free(struct exec_user *u);

#endif /* JOBD_EXEC_USER_H */
