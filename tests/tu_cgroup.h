/*
 * tu_cgroup.h — a cgroup v2 of the test's own for jobd to run in, as
 * systemd's Delegate=yes gives jobd.service one.
 *
 * The test's cgroup is MNT/jdt-RUNNER-PID: at the top of the cgroup2
 * mount (so it can have every controller the root offers, whatever cgroup
 * the test itself runs in), named by the runner process and the test
 * process.  The runner's fixture (tu_cg_fixture) enables pids, memory and
 * cpu for the root's children where the kernel offers them and they are
 * not on yet, and at the end kills and removes every jdt-RUNNER-* a
 * failed test left and turns back off what it turned on.  A run killed
 * outright leaves its cgroups to the next run, which removes those whose
 * runner is gone.  Needs root; without, tu_cg_make says why.
 */
#ifndef JOBD_TU_CGROUP_H
#define JOBD_TU_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include <check.h>

/* Add the runner's fixture to tc (before its tests run). */
void tu_cg_fixture(TCase *tc);

/* The cgroup2 mount point, "" without one. */
const char *tu_cg_mount(void);

/* Make the test's cgroup, marked delegated (trusted.delegate, as systemd
 * does) when mark, and set JOBD_TEST_WRAPPER so that the next jobd starts
 * in it.  False with why filled when it cannot be made. */
bool tu_cg_make(bool mark, char *why, size_t whylen);

/* The test's cgroup ("" when none). */
const char *tu_cg_dir(void);

/* Every job has ended: assert that no job cgroup is left in DIR/jobs
 * (a bounded wait: jobd removes it as a run's last step). */
void tu_cg_jobs_gone(void);

/* jobd has stopped: assert nothing is alive in the test's cgroup and
 * nothing but daemon/ (and jobs/ unless jobs_too) is left in it; remove
 * those and it, and put JOBD_TEST_WRAPPER back. */
void tu_cg_remove(bool jobs_too);

/* The first line of path in buf ("" when unreadable). */
const char *tu_cg_read(const char *path, char *buf, size_t size);

/* Is word one of the space-separated names in list? */
bool tu_cg_in_list(const char *list, const char *word);

/* Why the test's cgroup has no controller name: one sentence from
 * /proc/cgroups and the root's cgroup.controllers.  *v1 is set when a
 * cgroup v1 hierarchy holds it. */
const char *tu_cg_why_no(const char *name, bool *v1, char *buf,
    size_t size);

#endif /* JOBD_TU_CGROUP_H */
