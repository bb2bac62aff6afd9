/*
 * exec_cg.h — jobd's cgroup v2 subtree: one cgroup per exec job.
 *
 * jobd's own cgroup (from /proc/self/cgroup, under the cgroup2 mount) is
 * split as systemd's Delegate=yes expects: jobd moves itself into the leaf
 * OWN/daemon, enables the pids, memory and cpu controllers it is given for
 * OWN/jobs, and makes OWN/jobs/job-ID-SEQ for each run.  A job's processes
 * join that cgroup before exec (co_proc_opts.into_cgroup), so none can
 * leave it: cgroup.kill ends all of them at once, however they forked.
 *
 * Blocking file system calls, all cheap (cgroupfs is in memory).
 */
#ifndef JOBD_EXEC_CG_H
#define JOBD_EXEC_CG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exec_cg;
struct exec_cg_job;

/* Limits of one job's cgroup; 0 = none. */
struct exec_cg_limits {
	long pids;              /* pids.max */
	uint64_t memory;        /* memory.max, bytes */
	double cpus;            /* cpu.max, as CPUs (0.5 = half of one) */
};

/* Set up OWN/daemon and OWN/jobs.  delegated_only: refuse a cgroup that
 * carries no delegation mark (the trusted.delegate or user.delegate
 * xattr systemd sets with Delegate=yes).  0 and *out, or a negative errno
 * with why filled (one line: what is missing, for the start-up log).
 * Leftover job cgroups of an earlier jobd are killed and removed. */
int exec_cg_open(bool delegated_only, struct exec_cg **out, char *why,
    size_t whylen);

/* NULL is a no-op.  Removes OWN/jobs if empty. */
void exec_cg_free(struct exec_cg *cg);

/* OWN, for the logs. */
const char *exec_cg_path(const struct exec_cg *cg);

/* Whether job cgroups get the controller for each limit. */
bool exec_cg_has_pids(const struct exec_cg *cg);
bool exec_cg_has_memory(const struct exec_cg *cg);
bool exec_cg_has_cpu(const struct exec_cg *cg);

/* Why job cgroups lack controller which (0 pids, 1 memory, 2 cpu): a
 * phrase ("bound to a cgroup v1 hierarchy ..."), "" when they have it. */
const char *exec_cg_why_not(const struct exec_cg *cg, int which);

/* Path of OWN/jobs/cgroup.kill, for the guardian (exec_iso.c). */
const char *exec_cg_kill_path(const struct exec_cg *cg);

/* Make a job's cgroup with lim.  0 and *out, or a negative errno with
 * err filled. */
int exec_cg_job_new(struct exec_cg *cg, int64_t job_id,
    const struct exec_cg_limits *lim, struct exec_cg_job **out, char *err,
    size_t errlen);

/* The fd of its cgroup.procs, for co_proc_opts.cgroup_procs. */
int exec_cg_job_procs(const struct exec_cg_job *j);

/* SIGKILL every process in it (cgroup.kill; on kernels before 5.14 each
 * pid of cgroup.procs until none is left). */
void exec_cg_job_kill(struct exec_cg_job *j);

/* Are processes left in it (cgroup.events populated)? */
bool exec_cg_job_populated(const struct exec_cg_job *j);

/* Kill what is left and remove it; a cgroup that is still populated
 * (a process stuck in the kernel) is left for the next start.  NULL is a
 * no-op. */
void exec_cg_job_free(struct exec_cg_job *j);

/* Kill every process in every cgroup under dir (a path), then remove
 * those cgroups.  For the guardian and for leftovers. */
void exec_cg_kill_tree(const char *dir);

#endif /* JOBD_EXEC_CG_H */
