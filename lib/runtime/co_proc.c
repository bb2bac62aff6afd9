/*
 * co_proc.c — child processes.
 *
 * Spawning is clone(CLONE_VM | CLONE_VFORK) + execve, as glibc's
 * posix_spawn does: the child borrows the parent's memory instead of a
 * copy of its page tables, and the calling thread sleeps until the child
 * has exec'd (or failed).  fork would copy jobd's page tables on every
 * spawn and make the loop thread take a copy-on-write fault on each page it
 * writes afterwards: a cost that grows with the daemon's size, and was most
 * of an exec job's (docs/EXEC.md has the figures).  The price is that the
 * loop thread waits out the child's set-up and the first half of execve,
 * tens of microseconds when a core is free, milliseconds when the machine
 * is busy and the child waits for one.  So a caller that spawns often
 * hands the clone to a thread of a pool (opts.spawner): spawns then
 * overlap, and the loop runs on meanwhile.
 *
 * Sharing memory is safe because the child runs on a stack of its own (not
 * the task's coroutine stack), writes only that stack, and changes only
 * what CLONE_VM does not share: its signal dispositions (a copy without
 * CLONE_SIGHAND), its mask, fd table, working directory.  errno is the
 * parent thread's (same TLS), which is asleep; the parent never reads
 * errno after a clone that succeeded.  Between clone and exec the child
 * makes async-signal-safe calls only, on data that the parent prepared
 * beforehand in a struct plan, and never returns or calls exit().
 * Under valgrind, whose emulation of such a clone (as a fork on the given
 * stack) crashes now and then, the child is forked, from the calling
 * thread.  Under ThreadSanitizer too (spawn_by_fork), from whichever
 * thread spawns: TSan follows a fork, but a child sharing its memory runs
 * TSan's bookkeeping (its interceptors of close, dup2, execve...) on the
 * parent thread's state, which then reports races that cannot happen.
 *
 * Exec failure comes back through the classic close-on-exec pipe: the child
 * writes its errno and exits, or the successful exec closes the pipe.  The
 * parent awaits that pipe with co_io_wait, so a slow exec never blocks the
 * loop.
 *
 * Reaping: each child is watched through a pidfd (readable once it has
 * exited) and reaped with waitpid(pid, WNOHANG).  Without pidfd_open the
 * module keeps a list of its unreaped children and a libevent SIGCHLD event
 * that sweeps that list, pid by pid.  co_proc_free hands an unreaped child
 * (after SIGKILL to its group) to a detached reaper task; if the child
 * outlives the reaper's patience (uninterruptible sleep), the struct
 * "adopts" itself and is freed by whichever watch sees the exit.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <valgrind/valgrind.h>

#include "co.h"
#include "co_io.h"
#include "co_pool.h"
#include "co_proc.h"
#include "co_sched.h"
#include "log.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* How long a reaper waits for a SIGKILLed child before giving up on
 * waiting (the child is then reaped whenever it does exit).  SIGKILL takes
 * effect at once unless the child is stuck in the kernel (D state). */
#define ORPHAN_GRACE 10.0

/* The child's stack between clone and exec: child_exec's PATH_MAX buffer
 * and a few libc calls, with a wide margin. */
#ifdef JOBD_SANITIZE
#define CHILD_STACK (256u * 1024)
#else
#define CHILD_STACK (64u * 1024)
#endif

/* The code of the child shares the parent's memory: no sanitizer shadow
 * bookkeeping there (it would poison the parent's view of the child's
 * stack), as in glibc's own posix_spawn, which is not instrumented. */
#define CHILD_CODE __attribute__((no_sanitize_address))

/* $PATH when the parent has none, as glibc's execvp. */
#define DEFAULT_PATH "/bin:/usr/bin"

struct co_proc {
	pid_t pid;
	int fds[3];             /* parent ends of stdin/out/err, or -1 */
	int pidfd;              /* -1: watched by the SIGCHLD sweep */
	int wstatus;            /* valid once reaped */
	int reap_err;           /* 0, or -ECHILD: reaped by someone else */
	bool reaped;
	bool ev_added;          /* ev is pending on the pidfd */
	bool on_sigchld;        /* linked in sigchld.procs */
	bool released;          /* co_proc_free handed it to a reaper */
	bool adopted;           /* no owner: freed by the watch on reap */
	bool kill_group;        /* opts.kill_group_on_exit */
	struct co_rt *rt;
	struct co_waitq waiters;        /* tasks in co_proc_wait */
	struct event ev;                /* pidfd readable: child exited */
	LIST_ENTRY(co_proc) link;       /* sigchld.procs */
	LIST_ENTRY(co_proc) live;       /* live_procs while unreaped */
	bool is_live;
};

/* Everything the child needs, prepared before the clone. */
struct plan {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	const char *path;       /* $PATH searched for a bare argv[0] */
	int stdio[3];           /* fds for 0, 1, 2; all >= 3 */
	bool stderr_to_stdout;
	int errfd;              /* write end of the exec-error pipe */
	pid_t parent;
	const struct co_proc_cred *cred;        /* NULL: stay as we are */
	int cgroup_procs;       /* >= 0: write "0" to it first */
};

/* Parent-side bookkeeping of co_proc_spawn's fds. */
struct spawn_fds {
	int child[3];           /* child ends of the pipes, or -1 */
	int devnull;
	int err[2];             /* exec-error pipe */
};

/* Every child started and not reaped, for co_proc_owns. */
static LIST_HEAD(, co_proc) live_procs = LIST_HEAD_INITIALIZER(live_procs);
static unsigned n_spawning;

static bool force_sigchld;      /* tests: the fallback even with pidfds */
static int pidfd_support = -1;  /* -1: not probed yet */
static size_t n_orphans;

/* The SIGCHLD fallback: every unreaped child without a pidfd. */
static struct {
	LIST_HEAD(, co_proc) procs;
	struct event ev;
	bool added;
} sigchld = { .procs = LIST_HEAD_INITIALIZER(sigchld.procs) };

static void proc_destroy(struct co_proc *);

static void
fd_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* ---- watching and reaping --------------------------------------------- */

static void
watch_stop(struct co_proc *p)
{
	if (p->ev_added) {
		event_del(&p->ev);
		p->ev_added = false;
	}
}

/* Make sure an exit of p will be noticed.  SIGCHLD-watched children are
 * always watched; a pidfd event is pending only while someone waits. */
static int
watch_start(struct co_proc *p)
{
	if (p->pidfd < 0 || p->ev_added)
		return 0;
	if (event_add(&p->ev, NULL) < 0)
		return -ENOMEM;
	p->ev_added = true;
	return 0;
}

/* Take p off the SIGCHLD list (if on it), and drop the event once the list
 * is empty. */
static void
sigchld_remove(struct co_proc *p)
{
	if (p->on_sigchld) {
		LIST_REMOVE(p, link);
		p->on_sigchld = false;
	}
	if (LIST_EMPTY(&sigchld.procs) && sigchld.added) {
		event_del(&sigchld.ev);         /* restores the old handler */
		sigchld.added = false;
	}
}

static void
live_remove(struct co_proc *p)
{
	if (p->is_live) {
		LIST_REMOVE(p, live);
		p->is_live = false;
	}
}

static void
proc_set_reaped(struct co_proc *p, int err, int wstatus)
{
	p->reaped = true;
	live_remove(p);
	p->reap_err = err;
	p->wstatus = wstatus;
	watch_stop(p);
	fd_close(&p->pidfd);
	sigchld_remove(p);
	if (p->adopted)
		proc_destroy(p);
	else
		co_waitq_wake_all(&p->waiters, 0);
}

/* Has p exited?  Looks without reaping it (WNOWAIT), so that its pid,
 * and with it the id of its process group, stays taken.  An error says
 * yes: waitpid will report it. */
static bool
proc_exited(struct co_proc *p)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG |
		    WNOWAIT);
	while (r < 0 && errno == EINTR);
	return r < 0 || si.si_pid != 0;
}

/* Reap p if it has exited.  Only ever by its own pid: other children of
 * the process are none of our business. */
static void
proc_try_reap(struct co_proc *p)
{
	int st = 0;
	pid_t r;

	if (p->kill_group) {
		if (!proc_exited(p))
			return;
		(void)kill(-p->pid, SIGKILL);   /* what it left behind */
	}
	do
		r = waitpid(p->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return;
	proc_set_reaped(p, r < 0 ? -errno : 0, st);
}

/* Signal p's process group; p alone if it has left the group (setsid). */
static int
group_kill(struct co_proc *p, int sig)
{
	if (kill(-p->pid, sig) == 0)
		return 0;
	if (errno == ESRCH && kill(p->pid, sig) == 0)
		return 0;
	return -errno;
}

static void
pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proc_try_reap(arg);
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct co_proc *p, *next;

	(void)sig;
	(void)what;
	(void)arg;
	/* Signals coalesce: one SIGCHLD may stand for several exits. */
	for (p = LIST_FIRST(&sigchld.procs); p != NULL; p = next) {
		next = LIST_NEXT(p, link);
		proc_try_reap(p);
	}
}

/* Install the SIGCHLD event if it is not there yet.  SIGCHLD must be
 * deliverable to this thread (a parent process may have blocked it). */
static int
sigchld_ensure(struct co_rt *rt)
{
	sigset_t set;

	if (sigchld.added)
		return 0;
	if (event_assign(&sigchld.ev, co_rt_base(rt), SIGCHLD,
	    EV_SIGNAL | EV_PERSIST, sigchld_cb, NULL) < 0 ||
	    event_add(&sigchld.ev, NULL) < 0)
		return -ENOMEM;
	sigchld.added = true;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

static bool
pidfd_supported(void)
{
	int fd;

	if (pidfd_support < 0) {
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		/* Old kernels say ENOSYS; some seccomp filters EPERM. */
		pidfd_support = fd >= 0 || (errno != ENOSYS && errno != EPERM);
		if (fd >= 0)
			close(fd);
	}
	return pidfd_support;
}

static bool
use_sigchld(void)
{
	return force_sigchld || !pidfd_supported();
}

void
co_proc_force_sigchld(bool on)
{
	force_sigchld = on;
}

/* Wait until p is reaped or the deadline passes. */
static int
proc_wait_until(struct co_proc *p, double deadline)
{
	int rc;

	/* Also closes the window in which a SIGCHLD came before the
	 * handler was installed. */
	if (!p->reaped)
		proc_try_reap(p);
	while (!p->reaped) {
		if ((rc = watch_start(p)) < 0)
			return rc;
		rc = co_waitq_wait(&p->waiters, deadline, NULL);
		if (!p->reaped && co_waitq_empty(&p->waiters))
			watch_stop(p);  /* an idle watch would hold the loop */
		if (rc < 0)
			return rc;
	}
	return p->reap_err;
}

/* ---- the child -------------------------------------------------------- */

/* Default dispositions first, then an empty mask: a signal can no longer
 * run one of the parent's handlers (libevent's would write to the parent's
 * signal pipe).  SIG_IGN would survive exec; handlers would not. */
static CHILD_CODE void
child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);        /* EINVAL: KILL, STOP */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Close every fd above stderr, by exec at the latest; errfd must stay
 * open until then (it is close-on-exec).  CLOSE_RANGE_CLOEXEC needs Linux
 * 5.11, close_range 5.9; before that, one by one. */
static CHILD_CODE void
child_close_fds(int errfd)
{
	struct rlimit rl;
	int fd;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (errfd > 3)
		(void)close_range(3, (unsigned)errfd - 1, 0);
	if (close_range((unsigned)errfd + 1, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > INT_MAX)
		rl.rlim_cur = 65536;
	for (fd = 3; fd < (int)rl.rlim_cur; fd++)
		if (fd != errfd)
			(void)close(fd);
}

/* Is err a reason to try the next $PATH entry (as execvp does)? */
static CHILD_CODE bool
exec_try_next(int err)
{
	return err == ENOENT || err == ENOTDIR || err == EACCES ||
	    err == ESTALE || err == ENODEV || err == ETIMEDOUT ||
	    err == ENAMETOOLONG;
}

/* execve argv[0], searched in $PATH when it has no '/'.  Like execvp but
 * without its /bin/sh fallback for ENOEXEC.  Returns the errno. */
static CHILD_CODE int
child_exec(const struct plan *pl)
{
	const char *file = pl->argv[0], *dir, *end;
	size_t flen = strlen(file), dlen;
	char buf[PATH_MAX];
	bool eacces = false;

	if (strchr(file, '/') != NULL || flen == 0) {
		execve(file, pl->argv, pl->envp);
		return errno;
	}
	for (dir = pl->path;; dir = end + 1) {
		end = strchrnul(dir, ':');
		dlen = (size_t)(end - dir);
		if (dlen + flen + 2 <= sizeof(buf)) {
			memcpy(buf, dir, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			/* An empty entry means the current directory. */
			execve(dlen == 0 ? file : buf, pl->argv, pl->envp);
			if (!exec_try_next(errno))
				return errno;
			eacces |= errno == EACCES;
		}
		if (*end == '\0')
			break;
	}
	return eacces ? EACCES : ENOENT;
}

/* Become pl->cred's user.  Raw system calls: glibc's setuid() and kin
 * signal every thread of the process to switch too, and this child shares
 * the parent's memory (its thread list) without being one of them. */
static CHILD_CODE int
child_cred(const struct co_proc_cred *c)
{
	uid_t r, e, s;

	if (syscall(SYS_setgroups, c->ngroups, c->groups) < 0 ||
	    syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0 ||
	    syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
		return errno;
	if (syscall(SYS_getresuid, &r, &e, &s) < 0)
		return errno;
	if (r != c->uid || e != c->uid || s != c->uid)
		return EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return errno;
	return 0;
}

/* Everything between clone and exec.  Returns the errno of what failed. */
static CHILD_CODE int
child_setup(const struct plan *pl)
{
	int i, err;

	/* Before the switch of user: the cgroup's files are the parent's. */
	if (pl->cgroup_procs >= 0 && write(pl->cgroup_procs, "0", 1) != 1)
		return errno;
	if (setpgid(0, 0) < 0)
		return errno;
	/* Before PR_SET_PDEATHSIG: a change of credentials clears it. */
	if (pl->cred != NULL && (err = child_cred(pl->cred)) != 0)
		return err;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return errno;
	if (getppid() != pl->parent)
		_exit(127);     /* the parent died before prctl: nobody waits */
	for (i = 0; i < 3; i++)
		if (dup2(pl->stdio[i], i) < 0)
			return errno;
	if (pl->stderr_to_stdout && dup2(1, 2) < 0)
		return errno;
	child_close_fds(pl->errfd);
	if (pl->cwd != NULL && chdir(pl->cwd) < 0)
		return errno;
	return 0;
}

static CHILD_CODE __attribute__((noreturn)) int
child_main(void *arg)
{
	const struct plan *pl = arg;
	ssize_t n;
	int err;

	child_reset_signals();
	if ((err = child_setup(pl)) == 0)
		err = child_exec(pl);
	/* One int is far below PIPE_BUF: written whole or not at all. */
	n = write(pl->errfd, &err, sizeof(err));
	(void)n;
	_exit(127);
}

/* ---- spawning --------------------------------------------------------- */

/* Keep fd off 0..2 so the child's dup2 onto 0..2 cannot clobber it (the
 * parent may run with stdio closed). */
static int
fd_above_stdio(int *fd)
{
	int nfd;

	if (*fd >= 3)
		return 0;
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* A pipe for stream i: the child's end blocking (programs expect that),
 * the parent's non-blocking; both close-on-exec. */
static int
pipe_for(int i, struct co_proc *p, struct spawn_fds *sf)
{
	int fds[2], rc;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	p->fds[i] = fds[i == 0 ? 1 : 0];
	sf->child[i] = fds[i == 0 ? 0 : 1];
	if ((rc = co_io_set_nonblock(p->fds[i])) < 0)
		return rc;
	return fd_above_stdio(&sf->child[i]);
}

static int
spawn_fds_open(const struct co_proc_opts *o, struct co_proc *p,
    struct spawn_fds *sf)
{
	bool piped[3] = { o->pipe_stdin, o->pipe_stdout,
	    o->pipe_stderr && !o->stderr_to_stdout };
	int i, rc;

	for (i = 0; i < 3; i++) {
		if (piped[i] && (rc = pipe_for(i, p, sf)) < 0)
			return rc;
		if (!piped[i] && sf->devnull < 0) {
			sf->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (sf->devnull < 0)
				return -errno;
			if ((rc = fd_above_stdio(&sf->devnull)) < 0)
				return rc;
		}
	}
	if (pipe2(sf->err, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	return fd_above_stdio(&sf->err[1]);
}

static void
spawn_fds_close(struct spawn_fds *sf)
{
	int i;

	for (i = 0; i < 3; i++)
		fd_close(&sf->child[i]);
	fd_close(&sf->devnull);
	fd_close(&sf->err[0]);
	fd_close(&sf->err[1]);
}

static void
plan_init(struct plan *pl, const struct co_proc_opts *o,
    const struct spawn_fds *sf)
{
	const char *path = getenv("PATH");
	int i;

	pl->argv = (char *const *)o->argv;
	pl->envp = o->envp != NULL ? (char *const *)o->envp : environ;
	pl->cwd = o->cwd;
	pl->path = path != NULL ? path : DEFAULT_PATH;
	for (i = 0; i < 3; i++)
		pl->stdio[i] = sf->child[i] >= 0 ? sf->child[i] : sf->devnull;
	pl->stderr_to_stdout = o->stderr_to_stdout;
	pl->errfd = sf->err[1];
	pl->parent = getpid();
	pl->cred = o->cred;
	pl->cgroup_procs = o->into_cgroup ? o->cgroup_procs : -1;
}

/* Each spawning thread's stack for its children, made at its first spawn
 * and unmapped when the thread ends: a child is done with it once clone
 * returns (CLONE_VFORK). */
static __thread void *child_stack;
static pthread_key_t stack_key;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;

static void
stack_unmap(void *stack)
{
	munmap(stack, CHILD_STACK);
}

static void
stack_key_init(void)
{
	if (pthread_key_create(&stack_key, stack_unmap) != 0)
		fatalx("co_proc: pthread_key_create");
}

static void *
stack_get(void)
{
	void *st;

	if (child_stack != NULL)
		return child_stack;
	st = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (st == MAP_FAILED)
		return NULL;
	pthread_once(&stack_once, stack_key_init);
	(void)pthread_setspecific(stack_key, st);
	return child_stack = st;
}

/* Fork rather than clone (see the top of the file)? */
static bool
spawn_by_fork(void)
{
#ifdef JOBD_TSAN
	return true;
#else
	return RUNNING_ON_VALGRIND;
#endif
}

/* Start the child with every signal blocked, so that nothing runs a
 * parent's handler in it before child_reset_signals.  Returns once the
 * child has exec'd or exited: its pid, or -1 with errno set. */
static pid_t
spawn_quiet(struct plan *pl)
{
	sigset_t all, old;
	pid_t pid;
	int err;

	char *stack = stack_get();

	if (stack == NULL)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (spawn_by_fork()) {
		if ((pid = fork()) == 0)
			child_main(pl);
	} else {
		pid = clone(child_main, stack + CHILD_STACK, CLONE_VM |
		    CLONE_VFORK | SIGCHLD, pl);
	}
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return pid;
}

/* A spawn handed to a pool thread. */
struct spawn_call {
	struct plan *pl;
	pid_t pid;
	int err;
};

static void *
spawn_work(void *arg)
{
	struct spawn_call *c = arg;

	c->pid = spawn_quiet(c->pl);
	c->err = errno;
	return NULL;
}

/* spawn_quiet on a thread of pool.  Shielded: the work, and the plan on
 * this task's stack that it reads, must not be abandoned.  0 and *pid,
 * or a negative errno. */
static int
spawn_on(struct co_pool *pool, struct plan *pl, pid_t *pid)
{
	struct spawn_call c = { pl, -1, 0 };
	int rc;

	co_shield_enter();
	rc = co_pool_run(pool, spawn_work, &c, NULL, NULL);
	co_shield_exit();
	if (rc < 0)
		return rc;
	*pid = c.pid;
	return c.pid < 0 ? -c.err : 0;
}

/* Last resort when a fresh child cannot be watched: kill it and reap it
 * here.  Blocks the loop only for as long as a SIGKILLed process takes to
 * die, and only when the kernel refused a pidfd (fd or memory limits). */
static void
reap_now(struct co_proc *p)
{
	int st = 0;
	pid_t r;

	(void)kill(p->pid, SIGKILL);
	do
		r = waitpid(p->pid, &st, 0);
	while (r < 0 && errno == EINTR);
	proc_set_reaped(p, r < 0 ? -errno : 0, st);
}

static int
watch_init(struct co_proc *p, bool sig)
{
	int err;

	if (sig) {
		LIST_INSERT_HEAD(&sigchld.procs, p, link);
		p->on_sigchld = true;
		return 0;
	}
	if ((p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0)) < 0) {
		err = errno;
		reap_now(p);
		return -err;
	}
	if (event_assign(&p->ev, co_rt_base(p->rt), p->pidfd,
	    EV_READ | EV_PERSIST, pidfd_cb, p) < 0) {
		reap_now(p);
		return -EINVAL;
	}
	return 0;
}

static int
proc_clone(const struct co_proc_opts *o, struct co_proc *p,
    struct spawn_fds *sf)
{
	bool sig = use_sigchld();
	struct plan pl;
	int rc;

	if (sig && (rc = sigchld_ensure(p->rt)) < 0)
		return rc;
	plan_init(&pl, o, sf);
	n_spawning++;
	if (o->spawner != NULL && !RUNNING_ON_VALGRIND)
		rc = spawn_on(o->spawner, &pl, &p->pid);
	else
		rc = (p->pid = spawn_quiet(&pl)) < 0 ? -errno : 0;
	n_spawning--;
	if (rc < 0) {
		p->pid = -1;
		return rc;
	}
	LIST_INSERT_HEAD(&live_procs, p, live);
	p->is_live = true;
	return watch_init(p, sig);
}

/* Read the child's verdict: end of file once exec has closed the pipe, or
 * the errno of what failed before exec.  It waits before reading even if
 * the verdict may be in already, so the hand-shake is always a real await
 * that deadlines and cancels interrupt. */
static int
await_exec(int fd)
{
	int err = 0, rc;
	ssize_t n;

	for (;;) {
		if ((rc = co_io_wait(fd, CO_IO_READ, CO_FOREVER)) < 0)
			return rc;
		n = read(fd, &err, sizeof(err));
		if (n == 0)
			return 0;
		if (n == (ssize_t)sizeof(err))
			return err > 0 ? -err : -EIO;
		if (n > 0)
			return -EIO;            /* cannot happen: PIPE_BUF */
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

/* Spawning failed with a child already started: kill it and wait for it
 * here (shielded; it dies at once), so a failed spawn leaves nothing
 * behind.  If a deadline cuts even that short, a reaper takes over. */
static void
proc_discard(struct co_proc *p)
{
	if (!p->reaped)
		(void)group_kill(p, SIGKILL);   /* p alone, before setpgid */
	co_shield_enter();
	(void)proc_wait_until(p, co_now() + ORPHAN_GRACE);
	co_shield_exit();
	co_proc_free(p);
}

static struct co_proc *
proc_new(struct co_rt *rt)
{
	struct co_proc *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->fds[0] = p->fds[1] = p->fds[2] = -1;
	p->pidfd = -1;
	p->rt = rt;
	co_waitq_init(&p->waiters);
	return p;
}

int
co_proc_spawn(const struct co_proc_opts *o, struct co_proc **out)
{
	struct spawn_fds sf = { { -1, -1, -1 }, -1, { -1, -1 } };
	struct co_rt *rt = co_current_rt();
	struct co_proc *p = NULL;
	int errfd, rc;

	*out = NULL;
	if (o->argv == NULL || o->argv[0] == NULL)
		return -EINVAL;
	if (rt == NULL)
		return -EPERM;
	/* A cancelled or timed-out task starts nothing. */
	if ((rc = co_check()) < 0)
		return rc;
	if ((p = proc_new(rt)) == NULL)
		return -ENOMEM;
	p->kill_group = o->kill_group_on_exit;
	if ((rc = spawn_fds_open(o, p, &sf)) == 0)
		rc = proc_clone(o, p, &sf);
	errfd = sf.err[0];
	sf.err[0] = -1;
	spawn_fds_close(&sf);   /* the child's ends: no EOF while we hold them */
	if (rc == 0)
		rc = await_exec(errfd);
	fd_close(&errfd);
	if (rc == 0)
		*out = p;
	else if (p->pid > 0)
		proc_discard(p);
	else
		proc_destroy(p);
	return rc;
}

/* ---- the rest of the API ---------------------------------------------- */

pid_t
co_proc_pid(const struct co_proc *p)
{
	return p->pid;
}

int
co_proc_stdin_fd(const struct co_proc *p)
{
	return p->fds[0];
}

int
co_proc_stdout_fd(const struct co_proc *p)
{
	return p->fds[1];
}

int
co_proc_stderr_fd(const struct co_proc *p)
{
	return p->fds[2];
}

void
co_proc_close_stdin(struct co_proc *p)
{
	fd_close(&p->fds[0]);
}

bool
co_proc_reaped(const struct co_proc *p)
{
	return p->reaped;
}

int
co_proc_wait(struct co_proc *p, double timeout, int *wstatus)
{
	int rc = proc_wait_until(p, timeout < 0 ? CO_FOREVER :
	    co_now() + timeout);

	if (rc == 0 && wstatus != NULL)
		*wstatus = p->wstatus;
	return rc;
}

int
co_proc_signal(struct co_proc *p, int sig)
{
	if (p->reaped)
		return -ESRCH;
	return group_kill(p, sig);
}

bool
co_proc_owns(pid_t pid)
{
	struct co_proc *p;

	LIST_FOREACH(p, &live_procs, live)
		if (p->pid == pid)
			return true;
	return false;
}

unsigned
co_proc_spawning(void)
{
	return n_spawning;
}

size_t
co_proc_orphans(void)
{
	return n_orphans;
}

static void
proc_destroy(struct co_proc *p)
{
	int i;

	watch_stop(p);
	fd_close(&p->pidfd);
	sigchld_remove(p);
	live_remove(p);
	for (i = 0; i < 3; i++)
		fd_close(&p->fds[i]);
	if (p->released)
		n_orphans--;
	free(p);
}

/* Nobody will ever wait for p again: free it as soon as it is reaped. */
static void
proc_adopt(struct co_proc *p)
{
	p->adopted = true;
	if (watch_start(p) < 0)
		log_warnx("co_proc: cannot watch pid %ld; it will stay a "
		    "zombie", (long)p->pid);
}

static int
orphan_main(void *arg)
{
	struct co_proc *p = arg;

	co_shield_enter();      /* co_rt_shutdown waits for us */
	(void)proc_wait_until(p, co_now() + ORPHAN_GRACE);
	co_shield_exit();
	if (p->reaped) {
		proc_destroy(p);
		return 0;
	}
	log_warnx("co_proc: pid %ld still alive %.0f s after SIGKILL",
	    (long)p->pid, ORPHAN_GRACE);
	proc_adopt(p);
	return 0;
}

void
co_proc_free(struct co_proc *p)
{
	int i;

	if (p == NULL)
		return;
	assert(co_waitq_empty(&p->waiters) && "co_proc_free while waited on");
	for (i = 0; i < 3; i++)
		fd_close(&p->fds[i]);
	if (!p->reaped)
		proc_try_reap(p);
	if (p->reaped) {
		proc_destroy(p);
		return;
	}
	(void)group_kill(p, SIGKILL);
	p->released = true;
	n_orphans++;
	if (co_spawn(p->rt, orphan_main, p, NULL) < 0)
		proc_adopt(p);
}
