/*
 * exec_iso.h — keeping an exec job's processes inside the job.
 *
 * Whatever a job starts — a setsid child, a double-forked daemon — dies
 * when the job ends (exit, timeout, cancel) and when jobd itself dies.
 * Two ways, chosen once at start (exec_iso_open):
 *
 * - cgroup: each run gets a cgroup v2 of its own (exec_cg.h), which its
 *   processes cannot leave; cgroup.kill at the end.  Also limits (pids,
 *   memory, CPUs).  Needs a cgroup delegated to jobd (systemd
 *   Delegate=yes) or cgroup = yes.
 * - subreaper: jobd is PR_SET_CHILD_SUBREAPER, so whatever a job leaves
 *   behind is reparented to jobd rather than to init.  At a job's end
 *   jobd kills each such stray whose environment carries the job's
 *   JOBD_JOB_ID (and its descendants); a stray that dropped the variable
 *   is killed when no other exec job runs.  No limits.
 *
 * Either way a guardian process (forked at exec_iso_open, before jobd has
 * threads) waits for jobd's end: if jobd dies without saying goodbye
 * (SIGKILL, a crash), it kills every job process left: the jobs cgroup
 * at once, or each process whose environment has JOBD_PID=<jobd's pid>.
 */
#ifndef JOBD_EXEC_ISO_H
#define JOBD_EXEC_ISO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec_cg.h"

/* The variable naming the jobd that started a job's program. */
#define EXEC_ISO_PID_VAR "JOBD_PID"

struct exec_iso;
struct exec_box;

/* cgroup: 0 auto (a delegated cgroup if there is one), 1 yes (fail
 * without), 2 no (conf_cgroup's values).  Logs which way it took and,
 * for auto without a cgroup, why not.  0 and *out, or a negative errno
 * with err filled (cgroup = yes and no cgroup; no fork). */
int exec_iso_open(int cgroup, struct exec_iso **out, char *err,
    size_t errlen);

/* jobd stops: the guardian is told it is a clean end, and strays still
 * left are killed.  NULL is a no-op. */
void exec_iso_free(struct exec_iso *iso);

/* The cgroups, or NULL in subreaper mode. */
struct exec_cg *exec_iso_cg(const struct exec_iso *iso);

/* One sentence for the logs and docs: which way, where. */
const char *exec_iso_mode(const struct exec_iso *iso);

/* Open a run's box: its cgroup with lim, or (subreaper) only a note of
 * job_id.  A limit asked for without the controller for it fails with
 * -EOPNOTSUPP.  0 and *out, or a negative errno with err filled. */
int exec_box_open(struct exec_iso *iso, int64_t job_id,
    const struct exec_cg_limits *lim, struct exec_box **out, char *err,
    size_t errlen);

/* For co_proc_opts: whether the child joins a cgroup, and its fd. */
bool exec_box_cgroup(const struct exec_box *b, int *procs_fd);

/* Kill everything of the run that is still alive.  In a task: it waits
 * (shielded, bounded) until they are gone. */
void exec_box_kill(struct exec_box *b);

/* Kill what is left and free.  NULL is a no-op. */
void exec_box_close(struct exec_box *b);

/* Subreaper mode: kill strays of job_id (0: of every job), and reap
 * those that died.  Returns how many it signalled.  For exec_box_kill
 * and tests. */
size_t exec_iso_sweep(struct exec_iso *iso, int64_t job_id);

#endif /* JOBD_EXEC_ISO_H */
