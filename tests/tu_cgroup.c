/*
 * tu_cgroup.c — a cgroup v2 of the test's own (see tu_cgroup.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tu_cgroup.h"
#include "tu_jobd.h"

static const char *const ctl_names[3] = { "pids", "memory", "cpu" };

static pid_t runner;            /* the runner process */
static char cg_mnt[256];        /* the cgroup2 mount, "" without one */
static char cg_mnt_why[256];    /* why none */
static bool cg_we_enabled[3];   /* in the root's subtree_control */
static char cg_dir[512];        /* the test's cgroup */
static char *old_wrapper;       /* JOBD_TEST_WRAPPER before tu_cg_make */

/* Write s to path; 0 or -errno. */
static int
put_file(const char *path, const char *s)
{
	int fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

const char *
tu_cg_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (f != NULL) {
		if (fgets(buf, (int)size, f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

bool
tu_cg_in_list(const char *list, const char *word)
{
	char copy[512], *w, *save;

	snprintf(copy, sizeof(copy), "%s", list);
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		if (strcmp(w, word) == 0)
			return true;
	return false;
}

/* The cgroup2 mount point from mountinfo into cg_mnt. */
static void
find_mount(void)
{
	char line[1024], *dash, *f[5], *p, *save;
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	int i;

	while (fp != NULL && cg_mnt[0] == '\0' &&
	    fgets(line, sizeof(line), fp) != NULL) {
		if ((dash = strstr(line, " - cgroup2 ")) == NULL)
			continue;
		*dash = '\0';
		for (i = 0, p = line; i < 5; i++, p = NULL)
			if ((f[i] = strtok_r(p, " ", &save)) == NULL)
				break;
		if (i == 5)
			snprintf(cg_mnt, sizeof(cg_mnt), "%s", f[4]);
	}
	if (fp != NULL)
		fclose(fp);
	if (cg_mnt[0] == '\0')
		snprintf(cg_mnt_why, sizeof(cg_mnt_why), "no cgroup2 mount in "
		    "/proc/self/mountinfo");
}

/* Kill everything in the cgroup dir and below, wait (bounded) for it
 * to empty, and remove it, deepest first. */
static void
cg_destroy(const char *dir)
{
	char p[1200], buf[256];
	struct dirent *de;
	DIR *d;
	int i;

	snprintf(p, sizeof(p), "%s/cgroup.kill", dir);
	(void)put_file(p, "1");
	snprintf(p, sizeof(p), "%s/cgroup.events", dir);
	for (i = 0; i < 500 && strstr(tu_cg_read(p, buf, sizeof(buf)),
	    "populated 1") != NULL; i++)
		tj_sleep(0.01);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_type == DT_DIR && de->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", dir,
				    de->d_name);
				cg_destroy(p);
			}
		closedir(d);
	}
	(void)rmdir(dir);
}

/* Remove MNT/jdt-PID-* where PID is pid, or (pid 0) a process gone. */
static void
cg_sweep(pid_t pid)
{
	char p[600];
	struct dirent *de;
	DIR *d;
	int owner;

	if (cg_mnt[0] == '\0' || (d = opendir(cg_mnt)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (sscanf(de->d_name, "jdt-%d-", &owner) != 1 ||
		    (pid != 0 && owner != pid) ||
		    (pid == 0 && (kill(owner, 0) == 0 || errno != ESRCH)))
			continue;
		snprintf(p, sizeof(p), "%s/%s", cg_mnt, de->d_name);
		fprintf(stderr, "tu_cgroup: removing the cgroup %s a "
		    "failed test left\n", p);
		cg_destroy(p);
	}
	closedir(d);
}

/* Runner: find the mount, clear what dead runs left, and let the root's
 * children have pids, memory and cpu where the kernel offers them. */
static void
cg_fixture_setup(void)
{
	char path[400], offered[256], on[256], word[16];
	int i;

	runner = getpid();
	find_mount();
	if (geteuid() != 0 || cg_mnt[0] == '\0')
		return;
	cg_sweep(0);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_mnt);
	tu_cg_read(path, offered, sizeof(offered));
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg_mnt);
	tu_cg_read(path, on, sizeof(on));
	for (i = 0; i < 3; i++) {
		snprintf(word, sizeof(word), "+%s", ctl_names[i]);
		if (tu_cg_in_list(offered, ctl_names[i]) &&
		    !tu_cg_in_list(on, ctl_names[i]) && put_file(path, word) == 0)
			cg_we_enabled[i] = true;
	}
}

/* Runner, after every test: what failed tests left, and the root's
 * controllers as they were (a cgroup still using one keeps it). */
static void
cg_fixture_teardown(void)
{
	char path[400], word[16];
	int i;

	cg_sweep(runner);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg_mnt);
	for (i = 0; i < 3; i++)
		if (cg_we_enabled[i]) {
			snprintf(word, sizeof(word), "-%s", ctl_names[i]);
			(void)put_file(path, word);
		}
}

void
tu_cg_fixture(TCase *tc)
{
	tcase_add_unchecked_fixture(tc, cg_fixture_setup,
	    cg_fixture_teardown);
}

const char *
tu_cg_mount(void)
{
	return cg_mnt;
}

const char *
tu_cg_dir(void)
{
	return cg_dir;
}

bool
tu_cg_make(bool mark, char *why, size_t wl)
{
	char wrap[600], env[1400];
	const char *w;
	FILE *f;

	if (geteuid() != 0) {
		snprintf(why, wl, "not root: the test cannot make a cgroup");
		return false;
	}
	if (cg_mnt[0] == '\0') {
		snprintf(why, wl, "%s", cg_mnt_why);
		return false;
	}
	snprintf(cg_dir, sizeof(cg_dir), "%s/jdt-%d-%d", cg_mnt, (int)runner,
	    (int)getpid());
	if (mkdir(cg_dir, 0755) < 0 || (mark &&
	    setxattr(cg_dir, "trusted.delegate", "1", 1, 0) < 0)) {
		snprintf(why, wl, "%s: %s", cg_dir, strerror(errno));
		(void)rmdir(cg_dir);
		cg_dir[0] = '\0';
		return false;
	}
	snprintf(wrap, sizeof(wrap), "%s", tj_path("cgwrap"));
	ck_assert_ptr_nonnull(f = fopen(wrap, "we"));
	fprintf(f, "#!/bin/sh\necho $$ >%s/cgroup.procs || exit 125\n"
	    "exec \"$@\"\n", cg_dir);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(wrap, 0755), 0);
	w = getenv("JOBD_TEST_WRAPPER");
	old_wrapper = w != NULL ? strdup(w) : NULL;
	snprintf(env, sizeof(env), "%s%s%s", wrap, w != NULL ? " " : "",
	    w != NULL ? w : "");
	setenv("JOBD_TEST_WRAPPER", env, 1);
	return true;
}

/* Job cgroups left under the test's jobs/. */
static int
jobs_count(void)
{
	char p[600];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/jobs", cg_dir);
	if ((d = opendir(p)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_type == DT_DIR && de->d_name[0] != '.';
	closedir(d);
	return n;
}

void
tu_cg_jobs_gone(void)
{
	double end = tj_now() + TJ_TIMEOUT;

	while (jobs_count() > 0 && tj_now() < end)
		tj_sleep(0.01);
	ck_assert_msg(jobs_count() == 0, "%d job cgroups left in %s/jobs",
	    jobs_count(), cg_dir);
}

void
tu_cg_remove(bool jobs_too)
{
	char p[600], buf[256];
	double end = tj_now() + TJ_TIMEOUT;

	if (cg_dir[0] == '\0')
		return;
	if (old_wrapper != NULL)
		setenv("JOBD_TEST_WRAPPER", old_wrapper, 1);
	else
		unsetenv("JOBD_TEST_WRAPPER");
	free(old_wrapper);
	old_wrapper = NULL;
	snprintf(p, sizeof(p), "%s/cgroup.events", cg_dir);
	while (strstr(tu_cg_read(p, buf, sizeof(buf)), "populated 1") !=
	    NULL && tj_now() < end)
		tj_sleep(0.01);
	ck_assert_msg(strstr(buf, "populated 0") != NULL, "processes left "
	    "in %s after jobd's end (%s)", cg_dir, buf);
	snprintf(p, sizeof(p), "%s/daemon", cg_dir);
	(void)rmdir(p);
	if (jobs_too) {
		snprintf(p, sizeof(p), "%s/jobs", cg_dir);
		(void)rmdir(p);
	}
	ck_assert_msg(rmdir(cg_dir) == 0, "rmdir %s: %s (a cgroup left in "
	    "it)", cg_dir, strerror(errno));
	cg_dir[0] = '\0';
}

const char *
tu_cg_why_no(const char *name, bool *v1, char *buf, size_t size)
{
	char line[128], sub[32], path[300], offered[256];
	int hier, num, on;
	FILE *f = fopen("/proc/cgroups", "re");

	*v1 = false;
	snprintf(buf, size, "this kernel has no %s controller (not in "
	    "/proc/cgroups)", name);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%31s %d %d %d", sub, &hier, &num, &on) != 4 ||
		    strcmp(sub, name) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_mnt);
		tu_cg_read(path, offered, sizeof(offered));
		if (!on)
			snprintf(buf, size, "the %s controller is disabled "
			    "(/proc/cgroups: enabled 0; cgroup_disable= at "
			    "boot)", name);
		else if ((*v1 = hier != 0))
			snprintf(buf, size, "the %s controller is bound to "
			    "the cgroup v1 hierarchy %d (/proc/cgroups), so "
			    "the cgroup2 root %s cannot offer it (its "
			    "cgroup.controllers: \"%s\"): a hybrid layout, "
			    "where a controller serves one hierarchy only",
			    name, hier, cg_mnt, offered);
		else if (tu_cg_in_list(offered, name))
			snprintf(buf, size, "the cgroup2 root %s has %s, but "
			    "it could not be enabled in its "
			    "cgroup.subtree_control", cg_mnt, name);
		else
			snprintf(buf, size, "the cgroup2 root %s does not "
			    "offer %s (cgroup.controllers: \"%s\": a cgroup "
			    "namespace not given it)", cg_mnt, name, offered);
		break;
	}
	if (f != NULL)
		fclose(f);
	return buf;
}
