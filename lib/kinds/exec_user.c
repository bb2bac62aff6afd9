/*
 * exec_user.c — resolve the submitter of an exec job (exec_user.h).
 *
 * Like cron and at: the passwd entry gives the primary group, HOME and
 * SHELL; getgrouplist the supplementary groups (what initgroups would
 * set); the environment starts from PATH, HOME, USER, LOGNAME, SHELL, LANG
 * (if jobd has one) and nothing else of jobd's.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec_user.h"

#define USER_PATH "/usr/local/bin:/usr/bin:/bin"
#define ROOT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
	"/sbin:/bin"
#define ENV_MAX 7       /* PATH HOME USER LOGNAME SHELL LANG, NULL */
#define GROUPS_FIRST 64

static int
env_add(struct exec_user *u, size_t *n, const char *name, const char *v)
{
	if (asprintf(&u->env[*n], "%s=%s", name, v) < 0) {
		u->env[*n] = NULL;
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int
user_env(struct exec_user *u, const struct passwd *pw)
{
	const char *lang = getenv("LANG");
	const char *shell = pw->pw_shell != NULL && *pw->pw_shell != '\0' ?
	    pw->pw_shell : "/bin/sh";
	size_t n = 0;

	if ((u->env = calloc(ENV_MAX, sizeof(*u->env))) == NULL)
		return -ENOMEM;
	if (env_add(u, &n, "PATH", pw->pw_uid == 0 ? ROOT_PATH : USER_PATH) ||
	    env_add(u, &n, "HOME", pw->pw_dir) ||
	    env_add(u, &n, "USER", pw->pw_name) ||
	    env_add(u, &n, "LOGNAME", pw->pw_name) ||
	    env_add(u, &n, "SHELL", shell) ||
	    (lang != NULL && env_add(u, &n, "LANG", lang)))
		return -ENOMEM;
	return 0;
}

/* The groups initgroups(3) would give pw's user. */
static int
user_groups(struct exec_user *u, const struct passwd *pw)
{
	int n = GROUPS_FIRST, want;
	gid_t *g = NULL, *ng;

	for (;;) {
		if ((ng = realloc(g, (size_t)n * sizeof(*g))) == NULL) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		want = n;
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &want) >= 0)
			break;
		if (want <= n)
			want = n * 2;   /* glibc says how many; others may not */
		n = want;
	}
	u->cred.groups = g;
	u->cred.ngroups = (size_t)want;
	return 0;
}

static void
user_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
exec_user_load(uid_t uid, struct exec_user **out, char *err, size_t errlen)
{
	struct exec_user *u;
	struct passwd pw, *res = NULL;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	char *buf;
	int rc;

	*out = NULL;
	if (size < 1024)
		size = 16384;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (buf = malloc((size_t)size)) == NULL) {
		free(u);
		user_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = getpwuid_r(uid, &pw, buf, (size_t)size, &res);
	if (res == NULL) {
		user_err(err, errlen, "run_as = submitter: the submitter (uid "
		    "%lu) has no passwd entry%s%s", (unsigned long)uid,
		    rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
		rc = rc != 0 ? -rc : -ENOENT;
	} else if ((rc = user_env(u, &pw)) == 0 &&
	    (rc = user_groups(u, &pw)) == 0 &&
	    (u->home = strdup(pw.pw_dir)) == NULL)
		rc = -ENOMEM;
	if (rc == -ENOMEM)
		user_err(err, errlen, "out of memory");
	if (rc == 0) {
		u->cred.uid = pw.pw_uid;
		u->cred.gid = pw.pw_gid;
		/* Root's own jobs stay root's: no switch (and no setgroups). */
		u->as = pw.pw_uid == geteuid() ? NULL : &u->cred;
		*out = u;
	} else
		exec_user_free(u);
	free(buf);
	return rc;
}

void
exec_user_free(struct exec_user *u)
{
	char **e;

	if (u == NULL)
		return;
	if (u->env != NULL)
		for (e = u->env; *e != NULL; e++)
			free(*e);
	free(u->env);
	free((void *)u->cred.groups);
	free(u->home);
	free(u);
}
