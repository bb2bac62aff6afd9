/*
 * exec_cg.c — jobd's cgroup v2 subtree (see exec_cg.h).
 *
 * The "no internal processes" rule of cgroup v2 is why jobd leaves OWN for
 * OWN/daemon: controllers can be enabled for OWN's children only while
 * OWN itself holds no process.  Where they cannot (another process stays
 * in OWN, or the controllers are not delegated) job cgroups still contain
 * and kill, they only cannot limit; exec_cg_has_* says which limits work.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "exec_cg.h"
#include "log.h"

/* cpu.max's period, microseconds (the kernel's default). */
#define CPU_PERIOD 100000
/* How long exec_cg_kill_tree waits for a killed cgroup to empty. */
#define KILL_WAIT_MS 2000

struct exec_cg {
	char own[PATH_MAX];
	char killpath[PATH_MAX + 32];
	int jobs;               /* dirfd of OWN/jobs */
	bool pids, memory, cpu; /* controllers enabled for job cgroups */
	const char *no[3];      /* why not, for each that is not */
	unsigned seq;
};

struct exec_cg_job {
	struct exec_cg *cg;
	int dir;                /* dirfd of the job's cgroup */
	int procs;              /* its cgroup.procs, for writing */
	char name[64];
};

/* Write s to the file name under dirfd dir.  0 or a negative errno. */
static int
put(int dir, const char *name, const char *s)
{
	size_t len = strlen(s);
	int fd, rc = 0;

	if ((fd = openat(dir, name, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		rc = -errno;
	close(fd);
	return rc;
}

/* Read the file name under dir into buf (NUL-terminated).  Bytes or a
 * negative errno. */
static ssize_t
get(int dir, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if ((fd = openat(dir, name, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* jobd's cgroup v2 path relative to the hierarchy ("/a/b"). */
static int
own_rel(char *buf, size_t size)
{
	char line[PATH_MAX + 16];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int rc = -ENOENT;

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			rc = snprintf(buf, size, "%s", line + 3) < (int)size ?
			    0 : -ENAMETOOLONG;
			break;
		}
	fclose(f);
	return rc;
}

/* The cgroup2 mount point and the root it shows, from mountinfo. */
static int
mount_of(char *mnt, size_t msize, char *root, size_t rsize)
{
	char line[2 * PATH_MAX], *f[5], *dash, *p, *save;
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	int i, rc = -ENOENT;

	if (fp == NULL)
		return -errno;
	while (rc != 0 && fgets(line, sizeof(line), fp) != NULL) {
		if ((dash = strstr(line, " - cgroup2 ")) == NULL)
			continue;
		*dash = '\0';
		for (i = 0, p = line; i < 5; i++, p = NULL)
			if ((f[i] = strtok_r(p, " ", &save)) == NULL)
				break;
		if (i < 5)
			continue;
		snprintf(root, rsize, "%s", f[3]);
		snprintf(mnt, msize, "%s", f[4]);
		rc = 0;
	}
	fclose(fp);
	return rc;
}

/* OWN as a path in this mount namespace. */
static int
own_path(struct exec_cg *cg, char *why, size_t wl)
{
	char rel[PATH_MAX], mnt[PATH_MAX], root[PATH_MAX];
	const char *tail = rel;
	size_t rl;

	if (own_rel(rel, sizeof(rel)) < 0) {
		snprintf(why, wl, "no cgroup v2 hierarchy (no 0:: line in "
		    "/proc/self/cgroup)");
		return -ENOENT;
	}
	if (mount_of(mnt, sizeof(mnt), root, sizeof(root)) < 0) {
		snprintf(why, wl, "cgroup2 is not mounted");
		return -ENOENT;
	}
	rl = strlen(root);
	if (strcmp(root, "/") != 0 && strncmp(rel, root, rl) == 0)
		tail = rel + rl;
	if (strcmp(rel, "/") == 0 || *tail == '\0') {
		snprintf(why, wl, "jobd is in the root cgroup (%s): it has no "
		    "cgroup of its own to divide (start it in a cgroup "
		    "delegated to it: systemd's Delegate=, as jobd.service "
		    "has)", mnt);
		return -EPERM;
	}
	if (snprintf(cg->own, sizeof(cg->own), "%s%s", mnt, tail) >=
	    (int)sizeof(cg->own)) {
		snprintf(why, wl, "the path of jobd's cgroup is too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

static bool
delegated(const char *path)
{
	static const char *const names[] = { "trusted.delegate",
	    "user.delegate" };
	char v[8];
	ssize_t n;
	size_t i;

	for (i = 0; i < 2; i++)
		if ((n = getxattr(path, names[i], v, sizeof(v) - 1)) > 0) {
			v[n] = '\0';
			if (strcmp(v, "1") == 0)
				return true;
		}
	return false;
}

/* Is word (a controller's name) in the space-separated list? */
static bool
has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == '\0' ||
		    p[wl] == ' ' || p[wl] == '\n'))
			return true;
	return false;
}

/* Why the controller name is not offered to jobd's cgroup: what
 * /proc/cgroups says of it (hierarchy 0 is cgroup v2's). */
static const char *
not_offered(const char *name)
{
	char line[128], sub[32];
	int hier, num, on;
	const char *why = "not in this kernel";
	FILE *f = fopen("/proc/cgroups", "re");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%31s %d %d %d", sub, &hier, &num, &on) == 4 &&
		    strcmp(sub, name) == 0) {
			why = !on ? "disabled at boot (cgroup_disable=)" :
			    hier != 0 ? "bound to a cgroup v1 hierarchy (a "
			    "hybrid layout: a controller serves one hierarchy; "
			    "boot with systemd.unified_cgroup_hierarchy=1)" :
			    "not delegated to jobd's cgroup (systemd: "
			    "Delegate=pids memory cpu, as jobd.service has)";
			break;
		}
	if (f != NULL)
		fclose(f);
	return why;
}

/* Enable what OWN offers of pids, memory and cpu for dirfd dir's
 * children (in OWN's cgroup.controllers, and taken by the write); note
 * why not for the others. */
static void
controllers(struct exec_cg *cg, int dir, const char *offered)
{
	bool *on[3] = { &cg->pids, &cg->memory, &cg->cpu };
	static const char *const names[3] = { "pids", "memory", "cpu" };
	char word[16];
	int i, rc;

	for (i = 0; i < 3; i++) {
		if (!*on[i])
			continue;
		if (!has_word(offered, names[i])) {
			cg->no[i] = not_offered(names[i]);
			*on[i] = false;
			continue;
		}
		snprintf(word, sizeof(word), "+%s", names[i]);
		if ((rc = put(dir, "cgroup.subtree_control", word)) < 0) {
			cg->no[i] = rc == -EBUSY ? "cannot be enabled: another "
			    "process is in jobd's cgroup" : "cannot be enabled";
			*on[i] = false;
		}
	}
}

/* Move jobd into OWN/daemon and make OWN/jobs with the controllers. */
static int
split_own(struct exec_cg *cg, char *why, size_t wl)
{
	char buf[512], pid[24];
	int own, rc;

	if ((own = open(cg->own, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(why, wl, "%s: %s", cg->own, strerror(-rc));
		return rc;
	}
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	rc = mkdirat(own, "daemon", 0755) < 0 && errno != EEXIST ? -errno : 0;
	if (rc == 0)
		rc = put(own, "daemon/cgroup.procs", pid);
	if (rc == 0 && mkdirat(own, "jobs", 0755) < 0 && errno != EEXIST)
		rc = -errno;
	if (rc < 0) {
		snprintf(why, wl, "cannot divide %s into daemon/ and jobs/: %s",
		    cg->own, strerror(-rc));
		close(own);
		return rc;
	}
	cg->pids = cg->memory = cg->cpu = true;
	if (get(own, "cgroup.controllers", buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	controllers(cg, own, buf);
	cg->jobs = openat(own, "jobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = cg->jobs < 0 ? -errno : 0;
	close(own);
	if (rc < 0) {
		snprintf(why, wl, "%s/jobs: %s", cg->own, strerror(-rc));
		return rc;
	}
	controllers(cg, cg->jobs, buf);
	return 0;
}

int
exec_cg_open(bool delegated_only, struct exec_cg **out, char *why,
    size_t wl)
{
	struct exec_cg *cg;
	char jobs[PATH_MAX + 8];
	int rc;

	*out = NULL;
	if ((cg = calloc(1, sizeof(*cg))) == NULL)
		return -ENOMEM;
	cg->jobs = -1;
	if ((rc = own_path(cg, why, wl)) < 0)
		goto fail;
	if (delegated_only && !delegated(cg->own)) {
		snprintf(why, wl, "jobd's cgroup %s is not delegated to it (no "
		    "trusted.delegate mark, which systemd's Delegate= "
		    "sets; cgroup = yes uses it anyway)", cg->own);
		rc = -EPERM;
		goto fail;
	}
	if (access(cg->own, W_OK) < 0) {
		rc = -errno;
		snprintf(why, wl, "jobd may not write its cgroup %s: %s",
		    cg->own, strerror(errno));
		goto fail;
	}
	if ((rc = split_own(cg, why, wl)) < 0)
		goto fail;
	snprintf(jobs, sizeof(jobs), "%s/jobs", cg->own);
	exec_cg_kill_tree(jobs);        /* an earlier jobd's, if it crashed */
	snprintf(cg->killpath, sizeof(cg->killpath), "%s/cgroup.kill", jobs);
	*out = cg;
	return 0;
fail:
	exec_cg_free(cg);
	return rc;
}

void
exec_cg_free(struct exec_cg *cg)
{
	char jobs[PATH_MAX + 8];

	if (cg == NULL)
		return;
	if (cg->jobs >= 0) {
		close(cg->jobs);
		snprintf(jobs, sizeof(jobs), "%s/jobs", cg->own);
		(void)rmdir(jobs);
	}
	free(cg);
}

const char *
exec_cg_path(const struct exec_cg *cg)
{
	return cg->own;
}

bool
exec_cg_has_pids(const struct exec_cg *cg)
{
	return cg->pids;
}

bool
exec_cg_has_memory(const struct exec_cg *cg)
{
	return cg->memory;
}

bool
exec_cg_has_cpu(const struct exec_cg *cg)
{
	return cg->cpu;
}

const char *
exec_cg_why_not(const struct exec_cg *cg, int which)
{
	return which >= 0 && which < 3 && cg->no[which] != NULL ?
	    cg->no[which] : "";
}

const char *
exec_cg_kill_path(const struct exec_cg *cg)
{
	return cg->killpath;
}

/* Write lim into the job's cgroup. */
static int
job_limits(struct exec_cg_job *j, const struct exec_cg_limits *lim,
    char *err, size_t el)
{
	char v[64];
	int rc = 0;
	const char *what = "";

	if (lim->pids > 0) {
		snprintf(v, sizeof(v), "%ld", lim->pids);
		if ((rc = put(j->dir, "pids.max", v)) < 0)
			what = "pids.max";
	}
	if (rc == 0 && lim->memory > 0) {
		snprintf(v, sizeof(v), "%" PRIu64, lim->memory);
		if ((rc = put(j->dir, "memory.max", v)) < 0)
			what = "memory.max";
		/* Swap would let the job grow past its limit, slowly. */
		else if ((rc = put(j->dir, "memory.swap.max", "0")) == -ENOENT)
			rc = 0;
		else if (rc < 0)
			what = "memory.swap.max";
	}
	if (rc == 0 && lim->cpus > 0) {
		snprintf(v, sizeof(v), "%.0f %d", lim->cpus * CPU_PERIOD < 1000 ?
		    1000 : lim->cpus * CPU_PERIOD, CPU_PERIOD);
		if ((rc = put(j->dir, "cpu.max", v)) < 0)
			what = "cpu.max";
	}
	if (rc < 0)
		snprintf(err, el, "cannot set %s of its cgroup: %s", what,
		    strerror(-rc));
	return rc;
}

int
exec_cg_job_new(struct exec_cg *cg, int64_t job_id,
    const struct exec_cg_limits *lim, struct exec_cg_job **out, char *err,
    size_t el)
{
	struct exec_cg_job *j;
	int rc;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->cg = cg;
	j->dir = j->procs = -1;
	snprintf(j->name, sizeof(j->name), "job-%lld-%u", (long long)job_id,
	    ++cg->seq);
	if (mkdirat(cg->jobs, j->name, 0755) < 0) {
		rc = -errno;
		snprintf(err, el, "cannot make its cgroup %s/jobs/%s: %s",
		    cg->own, j->name, strerror(errno));
		free(j);
		return rc;
	}
	if ((j->dir = openat(cg->jobs, j->name, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (j->procs = openat(j->dir, "cgroup.procs",
	    O_WRONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, el, "cannot open its cgroup: %s", strerror(errno));
		exec_cg_job_free(j);
		return rc;
	}
	if ((rc = job_limits(j, lim, err, el)) < 0) {
		exec_cg_job_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

int
exec_cg_job_procs(const struct exec_cg_job *j)
{
	return j->procs;
}

/* SIGKILL each pid in cgroup.procs of dir until it lists none: kernels
 * without cgroup.kill.  A pid read there is in the cgroup, and a process
 * cannot leave it: the number cannot be someone else's yet. */
static void
kill_each(int dir)
{
	char buf[4096], *p, *end;
	int round;
	long pid;

	for (round = 0; round < 100; round++) {
		if (get(dir, "cgroup.procs", buf, sizeof(buf)) <= 0)
			return;
		for (p = buf; *p != '\0'; p = end) {
			pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0)
				(void)kill((pid_t)pid, SIGKILL);
		}
	}
}

static void
kill_dir(int dir)
{
	if (put(dir, "cgroup.kill", "1") == -ENOENT)
		kill_each(dir);
}

void
exec_cg_job_kill(struct exec_cg_job *j)
{
	kill_dir(j->dir);
}

static bool
populated(int dir)
{
	char buf[256];

	return get(dir, "cgroup.events", buf, sizeof(buf)) > 0 &&
	    strstr(buf, "populated 1") != NULL;
}

bool
exec_cg_job_populated(const struct exec_cg_job *j)
{
	return populated(j->dir);
}

void
exec_cg_job_free(struct exec_cg_job *j)
{
	if (j == NULL)
		return;
	if (j->procs >= 0)
		close(j->procs);
	if (j->dir >= 0) {
		kill_dir(j->dir);
		close(j->dir);
	}
	if (unlinkat(j->cg->jobs, j->name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		log_warnx("cgroup %s/jobs/%s: %s; left for the next start",
		    j->cg->own, j->name, strerror(errno));
	free(j);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void
exec_cg_kill_tree(const char *path)
{
	struct dirent *de;
	DIR *d;
	int dir, fd, ms;

	if ((dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	kill_dir(dir);          /* recursive: every descendant too */
	for (ms = 0; populated(dir) && ms < KILL_WAIT_MS; ms += 5)
		sleep_ms(5);
	if ((fd = dup(dir)) >= 0 && (d = fdopendir(fd)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_type == DT_DIR && de->d_name[0] != '.')
				(void)unlinkat(dir, de->d_name, AT_REMOVEDIR);
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
	close(dir);
}
