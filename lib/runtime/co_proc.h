/*
 * co_proc.h — child processes (asyncio.create_subprocess_exec in C).
 *
 * A child is started directly with execve — never through a shell — in its
 * own process group, with default signal dispositions, an empty signal mask,
 * stdin/stdout/stderr connected to pipes or /dev/null and every other fd
 * closed.  It is sent SIGKILL if the thread that spawned it exits
 * (PR_SET_PDEATHSIG: spawn from the loop thread, which lives as long as the
 * program).
 *
 * The module reaps only the children it started, each by its own pid:
 * through a pidfd watched by the event loop, or, where pidfd_open(2) is
 * missing, from a SIGCHLD handler that calls waitpid(pid, WNOHANG) for each
 * child it owns — never waitpid(-1).  A program using this module must not
 * set SIGCHLD to SIG_IGN, and must not reap these children itself.
 *
 * All calls are made from the runtime's thread; the awaiting ones from a
 * task.
 */
#ifndef JOBD_CO_PROC_H
#define JOBD_CO_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct co_proc;
struct co_pool;

/* Whom the child runs as: set in the child before exec with raw
 * setgroups/setresgid/setresuid (no NSS there: the caller resolves the
 * user, e.g. with getpwuid_r and getgrouplist), then PR_SET_NO_NEW_PRIVS.
 * From root to another uid that drops every capability.  The calling
 * process must be allowed to switch (root, CAP_SETUID/CAP_SETGID). */
struct co_proc_cred {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;    /* supplementary groups; ngroups of them */
	size_t ngroups;
};

struct co_proc_opts {
	/* The program and its arguments, NULL-terminated; required.  An
	 * argv[0] without '/' is searched for in the parent's $PATH like
	 * execvp(3), but a file the kernel cannot execute is an error
	 * (-ENOEXEC), not a shell script.  Only read during co_proc_spawn. */
	const char *const *argv;
	/* The environment, NULL-terminated; NULL: inherit environ. */
	const char *const *envp;
	/* Working directory; NULL: inherit.  A relative argv[0] (or $PATH
	 * entry) is resolved after the change. */
	const char *cwd;
	/* Connect the stream to a pipe whose other end the parent gets;
	 * otherwise it is /dev/null. */
	bool pipe_stdin, pipe_stdout, pipe_stderr;
	/* The child's stderr is its stdout (2>&1); overrides pipe_stderr. */
	bool stderr_to_stdout;
	/* When the child exits, SIGKILL whatever is left in its process
	 * group (background grandchildren) before reaping it: the zombie
	 * still holds the group's id then, so the signal cannot reach a
	 * process that happens to get the number later. */
	bool kill_group_on_exit;
	/* Start the child from a thread of this pool (co_pool.h) instead of
	 * the calling thread, which then runs other tasks meanwhile: spawns
	 * go on in parallel and a slow one holds up no one else.  The child
	 * gets SIGKILL when that pool thread ends (PR_SET_PDEATHSIG follows
	 * the thread that spawned): free the pool only after its children
	 * are reaped.  NULL: the calling thread. */
	struct co_pool *spawner;
	/* Run the child as this user; NULL: as the parent.  A switch that
	 * fails (or leaves any id of the parent's behind) fails the spawn
	 * with its errno (-EPERM...). */
	const struct co_proc_cred *cred;
	/* Join a cgroup v2 first thing in the child (before the switch of
	 * user: the cgroup's files are jobd's): cgroup_procs is an fd of
	 * that cgroup's cgroup.procs, open for writing; the parent keeps
	 * it.  A refused move fails the spawn with its errno. */
	bool into_cgroup;
	int cgroup_procs;
};

/* Start a child and wait until it has exec'd.  The thread that starts it
 * (opts.spawner's, or else the calling thread) sleeps while the child sets
 * itself up and begins its execve (CLONE_VFORK: tens of microseconds on an
 * idle machine, a few milliseconds on a loaded one, longer for a program
 * or directory on a hung file system); the exec's verdict is then awaited
 * like any I/O.  Cancels and deadlines are held off until the child runs
 * (it is then killed and reaped).
 * On 0, *out is the new process, owned by the caller until co_proc_free.
 * Errors: -EINVAL (no argv[0]), -EPERM (outside a task); the child's own
 * failure before exec, as its errno: -ENOENT (no such program, or no such
 * cwd), -EACCES, -ENOEXEC, -ENOTDIR, ...; -ETIMEDOUT/-ECANCELED when a
 * deadline or cancel interrupted the hand-shake (the child is then killed
 * and reaped); resource errors (-EMFILE, -EAGAIN, -ENOMEM). */
__attribute__((warn_unused_result))
int co_proc_spawn(const struct co_proc_opts *opts, struct co_proc **out);

/* The child's pid (its process group id too).  Valid until co_proc_free;
 * after the child has been reaped the number may belong to someone else. */
pid_t co_proc_pid(const struct co_proc *p);

/* The parent's ends of the pipes: non-blocking, close-on-exec, owned by p
 * (do not close them; co_proc_free does).  -1 when the stream was not
 * piped, or stdin has been closed.  Use them with co_io.h. */
int co_proc_stdin_fd(const struct co_proc *p);
int co_proc_stdout_fd(const struct co_proc *p);
int co_proc_stderr_fd(const struct co_proc *p);

/* Close the parent's end of stdin so the child reads end of file.  No task
 * may be waiting on that fd.  Idempotent. */
void co_proc_close_stdin(struct co_proc *p);

/* Wait for the child to exit and reap it.  On 0, *wstatus (if non-NULL) is
 * its wait status (WIFEXITED, WTERMSIG, ...); later calls return the same
 * status at once.  -ETIMEDOUT/-ECANCELED leave the child running and
 * owned; wait again or co_proc_free.  -ECHILD if someone else reaped it.
 * Several tasks may wait at once. */
__attribute__((warn_unused_result))
int co_proc_wait(struct co_proc *p, double timeout, int *wstatus);

/* Has the child been reaped (by co_proc_wait)? */
bool co_proc_reaped(const struct co_proc *p);

/* Send sig to the child's whole process group (grandchildren too), until
 * it is reaped.  0, -ESRCH once reaped (its pid could be reused), or the
 * kill(2) error. */
int co_proc_signal(struct co_proc *p, int sig);

/* Release p: closes the pipe ends.  A child not yet reaped has its process
 * group killed with SIGKILL and is reaped by a detached reaper task (shielded,
 * so co_rt_shutdown waits for it) — no zombie, no fd left behind.  No task
 * may be waiting on p or doing I/O on its fds.  Legal outside a task. */
void co_proc_free(struct co_proc *p);

/* Is pid a child this module started and has not reaped yet?  Another
 * child of the process (a job's orphan reparented to a subreaper) is
 * someone else's to reap.  Spawns in flight are counted by
 * co_proc_spawning: their pids are not known yet, so a caller reaping
 * strays holds off while it is not 0. */
bool co_proc_owns(pid_t pid);
unsigned co_proc_spawning(void);

/* Children handed to reapers by co_proc_free and not reaped yet. */
size_t co_proc_orphans(void);

/* Use the SIGCHLD reaper instead of pidfds for children spawned from now
 * on (for tests; it is the automatic fallback where pidfd_open(2) is
 * missing).  The SIGCHLD reaper unblocks SIGCHLD in the calling thread and
 * keeps a libevent signal event while it has children to watch (libevent
 * allows signal events on one event_base at a time). */
void co_proc_force_sigchld(bool on);

#endif /* JOBD_CO_PROC_H */
