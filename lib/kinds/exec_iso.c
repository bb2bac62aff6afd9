/*
 * exec_iso.c — keeping an exec job's processes inside the job (see
 * exec_iso.h).
 *
 * The subreaper sweep reads the process table from /proc (the kernel
 * keeps no list of a process's children that every kernel shows:
 * /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN).  A stray is a
 * child of jobd that co_proc did not start: only a job's orphan can be
 * one, jobd's other children being the guardian and co_proc's.  Its
 * subtree is killed top-down in one pass from the table; what it forked
 * meanwhile is reparented to jobd and found by the next pass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "co.h"
#include "co_proc.h"
#include "exec_iso.h"
#include "log.h"

/* A sweep's passes at most, and the pause between two. */
#define SWEEP_PASSES 200
#define SWEEP_PAUSE  0.002
/* How long exec_box_kill waits for a killed cgroup to empty. */
#define CG_EMPTY_WAIT 2.0
/* Most of an environment read to find the variables. */
#define ENV_MAX (1024 * 1024)

#define JOB_VAR "JOBD_JOB_ID="

struct exec_iso {
	struct exec_cg *cg;     /* NULL: subreaper mode */
	pid_t self;
	pid_t guard;            /* the guardian, or -1 */
	int guard_fd;           /* its pipe's write end, or -1 */
	unsigned boxes;         /* open now */
	char mode[PATH_MAX + 200];
};

struct exec_box {
	struct exec_iso *iso;
	int64_t job_id;
	struct exec_cg_job *cgj;
	bool killed;
};

/* One row of the process table. */
struct pent {
	pid_t pid, ppid;
	char state;
};

/* Sleep s seconds: in a task (shielded: this is clean-up, which a
 * cancel must not cut short) the loop runs meanwhile. */
static void
pause_s(double s)
{
	struct timespec ts = { 0, (long)(s * 1e9) };

	if (co_self() != NULL) {
		co_shield_enter();
		(void)co_sleep(s);
		co_shield_exit();
		return;
	}
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the process table ------------------------------------------------- */

static bool
stat_of(const char *pid, struct pent *e)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold spaces and ')' */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %c %d",
	    &e->state, &e->ppid) != 2)
		return false;
	e->pid = (pid_t)atoi(pid);
	return true;
}

/* Every process now: *n rows, malloc'd (NULL when out of memory). */
static struct pent *
proc_table(size_t *n)
{
	struct pent *t = NULL, *nt;
	size_t size = 0;
	struct dirent *de;
	DIR *d;

	*n = 0;
	if ((d = opendir("/proc")) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (*n == size) {
			size = size == 0 ? 256 : size * 2;
			if ((nt = realloc(t, size * sizeof(*t))) == NULL)
				break;
			t = nt;
		}
		if (stat_of(de->d_name, &t[*n]))
			(*n)++;
	}
	closedir(d);
	return t;
}

/* The environment of pid: malloc'd, *len bytes of NUL-separated
 * entries; NULL when it cannot be read. */
static char *
env_of(pid_t pid, size_t *len)
{
	char path[64], *buf = NULL, *nb;
	size_t size = 0;
	ssize_t n;
	int fd;

	*len = 0;
	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (*len == size) {
			if (size >= ENV_MAX || (nb = realloc(buf, size == 0 ?
			    4096 : size * 2)) == NULL)
				break;
			buf = nb;
			size = size == 0 ? 4096 : size * 2;
		}
		if ((n = read(fd, buf + *len, size - *len)) <= 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return buf;
}

/* The value of variable var ("NAME=") in pid's environment, or NULL;
 * malloc'd. */
static char *
env_get(pid_t pid, const char *var)
{
	size_t len, off, vl = strlen(var), el;
	char *env = env_of(pid, &len), *v = NULL;

	for (off = 0; env != NULL && off < len; off += el + 1) {
		el = strnlen(env + off, len - off);
		if (el > vl && memcmp(env + off, var, vl) == 0) {
			v = strndup(env + off + vl, el - vl);
			break;
		}
	}
	free(env);
	return v;
}

/* pid's JOBD_JOB_ID: the id, or -1 without one. */
static int64_t
job_of(pid_t pid)
{
	char *v = env_get(pid, JOB_VAR), *end;
	long long id = -1;

	if (v != NULL) {
		id = strtoll(v, &end, 10);
		if (*end != '\0' || id <= 0)
			id = -1;
	}
	free(v);
	return id;
}

/* SIGKILL root and everything below it in the table. */
static void
kill_tree(struct pent *t, size_t n, pid_t root)
{
	size_t i, done = 0;
	bool more = true;

	(void)kill(root, SIGKILL);
	for (i = 0; i < n; i++)
		if (t[i].pid == root)
			t[i].state = 'K';       /* marked: killed */
	/* Mark children of marked rows until nothing changes (n is small). */
	while (more && done++ < n) {
		more = false;
		for (i = 0; i < n; i++)
			if (t[i].state != 'K' && t[i].state != 'Z')
				for (size_t j = 0; j < n; j++)
					if (t[j].state == 'K' &&
					    t[j].pid == t[i].ppid) {
						(void)kill(t[i].pid, SIGKILL);
						t[i].state = 'K';
						more = true;
						break;
					}
	}
}

/* One pass of exec_iso_sweep: how many strays it signalled. */
static size_t
sweep_pass(struct exec_iso *iso, int64_t job_id)
{
	struct pent *t;
	size_t n, i, hits = 0;
	int64_t id;

	if ((t = proc_table(&n)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (t[i].ppid != iso->self || t[i].pid == iso->guard ||
		    co_proc_owns(t[i].pid) || t[i].state == 'K')
			continue;
		if (t[i].state == 'Z') {
			/* A spawn in flight may be a child not known yet. */
			if (co_proc_spawning() == 0)
				(void)waitpid(t[i].pid, NULL, WNOHANG);
			continue;
		}
		id = job_of(t[i].pid);
		if (job_id == 0 || id == job_id || (id < 0 && iso->boxes <= 1)) {
			kill_tree(t, n, t[i].pid);
			hits++;
		}
	}
	free(t);
	return hits;
}

size_t
exec_iso_sweep(struct exec_iso *iso, int64_t job_id)
{
	size_t total = 0, hits;
	int pass;

	if (iso->cg != NULL)
		return 0;
	for (pass = 0; pass < SWEEP_PASSES; pass++) {
		if ((hits = sweep_pass(iso, job_id)) == 0)
			break;
		total += hits;
		pause_s(SWEEP_PAUSE);   /* let the killed die */
	}
	if (pass == SWEEP_PASSES)
		log_warnx("job %lld: processes still forking after %d kill "
		    "passes", (long long)job_id, SWEEP_PASSES);
	return total;
}

/* ---- the guardian ------------------------------------------------------ */

/* Kill each process whose environment names jobd (by pid) as its
 * starter, until none is found. */
static void
guard_sweep(pid_t jobd)
{
	char want[32], *v;
	struct pent *t;
	size_t n, i, hits;
	int pass;

	snprintf(want, sizeof(want), "%ld", (long)jobd);
	for (pass = 0, hits = 1; hits > 0 && pass < SWEEP_PASSES; pass++) {
		if ((t = proc_table(&n)) == NULL)
			return;
		for (i = hits = 0; i < n; i++) {
			if (t[i].pid == getpid() || t[i].state == 'Z')
				continue;
			v = env_get(t[i].pid, EXEC_ISO_PID_VAR "=");
			if (v != NULL && strcmp(v, want) == 0) {
				(void)kill(t[i].pid, SIGKILL);
				hits++;
			}
			free(v);
		}
		free(t);
		if (hits > 0)
			pause_s(SWEEP_PAUSE);
	}
}

/* The guardian: wait for jobd's end; unless it said goodbye ('q'), kill
 * every job process it left.  Only jobd's copy of memory before any
 * thread started: plain libc is safe here. */
static __attribute__((noreturn)) void
guard_main(int rfd, pid_t jobd, const char *killdir)
{
	static const int quiet[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE,
	    SIGQUIT, SIGUSR1, SIGUSR2 };
	char c, last = 0;
	ssize_t n;
	size_t i;
	int fd;

	(void)prctl(PR_SET_NAME, "jobd-guard", 0, 0, 0);
	for (i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		signal(quiet[i], SIG_IGN);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(fd, 0);
		(void)dup2(fd, 1);
	}
	if (rfd > 3)
		(void)close_range(3, (unsigned)rfd - 1, 0);
	(void)close_range((unsigned)rfd + 1, ~0U, 0);
	if (chdir("/") < 0)
		_exit(1);
	while ((n = read(rfd, &c, 1)) != 0)
		if (n > 0)
			last = c;
		else if (errno != EINTR)
			break;
	if (last != 'q') {
		if (killdir != NULL)
			exec_cg_kill_tree(killdir);
		else
			guard_sweep(jobd);
	}
	_exit(0);
}

/* The guardian's copy of the exec_iso being opened: it is not yet
 * jobd's (exec_iso_open returns it after the fork), so without this the
 * guardian's exit would leave it unreachable (valgrind: definitely lost). */
static struct exec_iso *volatile guard_copy; /* volatile: a store
                                                * never read is kept */

static int
guard_start(struct exec_iso *iso)
{
	char killdir[PATH_MAX + 8];
	int p[2];
	pid_t pid;

	if (iso->cg != NULL)
		snprintf(killdir, sizeof(killdir), "%s/jobs",
		    exec_cg_path(iso->cg));
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		close(p[1]);
		guard_copy = iso;
		guard_main(p[0], iso->self, iso->cg != NULL ? killdir : NULL);
	}
	close(p[0]);
	iso->guard = pid;
	iso->guard_fd = p[1];
	return 0;
}

/* ---- set-up ------------------------------------------------------------ */

/* Append to iso->mode at *len, as far as it goes. */
static void __attribute__((format(printf, 3, 4)))
put_mode(struct exec_iso *iso, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= sizeof(iso->mode))
		return;
	va_start(ap, fmt);
	n = vsnprintf(iso->mode + *len, sizeof(iso->mode) - *len, fmt, ap);
	va_end(ap);
	*len += n > 0 ? (size_t)n : 0;
}

/* The mode line of the cgroup way: the limits it has, why not others. */
static void
mode_cg(struct exec_iso *iso)
{
	static const char *const what[3] = { "pids", "memory", "cpu" };
	bool have[3] = { exec_cg_has_pids(iso->cg),
	    exec_cg_has_memory(iso->cg), exec_cg_has_cpu(iso->cg) };
	const char *why, *sep;
	size_t len;
	int i, j;

	len = (size_t)snprintf(iso->mode, sizeof(iso->mode), "a cgroup per "
	    "job under %s/jobs (limits: pids %s, memory %s, cpu %s)",
	    exec_cg_path(iso->cg), have[0] ? "yes" : "no", have[1] ? "yes" :
	    "no", have[2] ? "yes" : "no");
	/* "; no pids, memory: why", once per reason (the first missing
	 * controller that has it prints the others with it) */
	for (i = 0; i < 3; i++) {
		why = exec_cg_why_not(iso->cg, i);
		for (j = 0; j < i && (have[j] || strcmp(why,
		    exec_cg_why_not(iso->cg, j)) != 0); j++)
			;
		if (have[i] || j < i)
			continue;
		for (j = i, sep = "; no "; j < 3; j++)
			if (!have[j] && strcmp(why, exec_cg_why_not(iso->cg,
			    j)) == 0) {
				put_mode(iso, &len, "%s%s", sep, what[j]);
				sep = ", ";
			}
		put_mode(iso, &len, ": %s", why);
	}
}

int
exec_iso_open(int cgroup, struct exec_iso **out, char *err, size_t el)
{
	struct exec_iso *iso;
	char why[PATH_MAX + 200] = "cgroup = no";
	int rc;

	*out = NULL;
	if ((iso = calloc(1, sizeof(*iso))) == NULL)
		return -ENOMEM;
	iso->self = getpid();
	iso->guard = iso->guard_fd = -1;
	if (cgroup != 2 && (rc = exec_cg_open(cgroup == 0, &iso->cg, why,
	    sizeof(why))) < 0 && cgroup == 1) {
		snprintf(err, el, "cgroup = yes: %s", why);
		free(iso);
		return rc;
	}
	if (iso->cg != NULL) {
		mode_cg(iso);
	} else {
		/* A reason too long for mode is cut (it is only shown). */
		if (snprintf(iso->mode, sizeof(iso->mode), "no cgroup (%s): "
		    "jobd is their subreaper and kills what they leave, no "
		    "limits", why) >= (int)sizeof(iso->mode))
			log_debug("exec jobs: the mode's text was cut");
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
			rc = -errno;
			snprintf(err, el, "PR_SET_CHILD_SUBREAPER: %s",
			    strerror(errno));
			exec_iso_free(iso);
			return rc;
		}
	}
	if ((rc = guard_start(iso)) < 0) {
		snprintf(err, el, "cannot start the guardian: %s",
		    strerror(-rc));
		exec_iso_free(iso);
		return rc;
	}
	*out = iso;
	return 0;
}

/* Wait for the guardian told to go; one that has not gone within 2 s
 * (stuck: seen once under TSan, whose runtime a fork copies mid-lock) is
 * killed, so jobd's exit never hangs on it. */
static void
guard_reap(pid_t pid)
{
	pid_t r;

	for (int i = 0; i < 200; i++) {
		if ((r = waitpid(pid, NULL, WNOHANG)) == pid ||
		    (r < 0 && errno != EINTR))
			return;
		usleep(10000);
	}
	log_warnx("the guardian (pid %d) did not exit; killed", (int)pid);
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void
exec_iso_free(struct exec_iso *iso)
{
	if (iso == NULL)
		return;
	if (iso->cg == NULL)
		(void)exec_iso_sweep(iso, 0);
	if (iso->guard_fd >= 0) {
		if (write(iso->guard_fd, "q", 1) != 1)
			log_warn("the guardian");
		close(iso->guard_fd);
	}
	if (iso->guard > 0)
		guard_reap(iso->guard);
	exec_cg_free(iso->cg);
	free(iso);
}

struct exec_cg *
exec_iso_cg(const struct exec_iso *iso)
{
	return iso->cg;
}

const char *
exec_iso_mode(const struct exec_iso *iso)
{
	return iso->mode;
}

/* ---- a run's box ------------------------------------------------------- */

/* Can every limit of lim be had? */
static int
limits_ok(struct exec_iso *iso, const struct exec_cg_limits *lim,
    char *err, size_t el)
{
	static const char *const what[3] = { "pids", "memory", "cpu" };
	bool want[3] = { lim->pids > 0, lim->memory > 0, lim->cpus > 0 };
	bool have[3] = { false, false, false };
	int i;

	if (iso->cg != NULL) {
		have[0] = exec_cg_has_pids(iso->cg);
		have[1] = exec_cg_has_memory(iso->cg);
		have[2] = exec_cg_has_cpu(iso->cg);
	}
	for (i = 0; i < 3; i++)
		if (want[i] && !have[i]) {
			if (iso->cg == NULL)
				snprintf(err, el, "%s_max needs a cgroup, and "
				    "jobd has none for exec jobs (its log says "
				    "why at start)", what[i]);
			else
				snprintf(err, el, "%s_max: the %s controller "
				    "is not enabled in %s: %s", what[i], what[i],
				    exec_cg_path(iso->cg),
				    exec_cg_why_not(iso->cg, i));
			return -EOPNOTSUPP;
		}
	return 0;
}

int
exec_box_open(struct exec_iso *iso, int64_t job_id,
    const struct exec_cg_limits *lim, struct exec_box **out, char *err,
    size_t el)
{
	struct exec_box *b;
	int rc;

	*out = NULL;
	if ((rc = limits_ok(iso, lim, err, el)) < 0)
		return rc;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, el, "out of memory");
		return -ENOMEM;
	}
	b->iso = iso;
	b->job_id = job_id;
	if (iso->cg != NULL && (rc = exec_cg_job_new(iso->cg, job_id, lim,
	    &b->cgj, err, el)) < 0) {
		free(b);
		return rc;
	}
	iso->boxes++;
	*out = b;
	return 0;
}

bool
exec_box_cgroup(const struct exec_box *b, int *procs_fd)
{
	if (b == NULL || b->cgj == NULL)
		return false;
	*procs_fd = exec_cg_job_procs(b->cgj);
	return true;
}

void
exec_box_kill(struct exec_box *b)
{
	double waited = 0;

	b->killed = true;
	if (b->cgj == NULL) {
		(void)exec_iso_sweep(b->iso, b->job_id);
		return;
	}
	exec_cg_job_kill(b->cgj);
	while (exec_cg_job_populated(b->cgj) && waited < CG_EMPTY_WAIT) {
		pause_s(SWEEP_PAUSE);
		waited += SWEEP_PAUSE;
	}
}

void
exec_box_close(struct exec_box *b)
{
	if (b == NULL)
		return;
	if (!b->killed && b->cgj == NULL)
		(void)exec_iso_sweep(b->iso, b->job_id);
	exec_cg_job_free(b->cgj);
	b->iso->boxes--;
	free(b);
}
