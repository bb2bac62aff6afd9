/*
 * kind_exec.h — the `exec` kind: run a program, capture what it prints.
 *
 * args {"argv": ["prog", "arg", ...]} (argv[0] without '/' is looked up in
 * jobd's $PATH; never a shell), optional "cwd": "dir", "env": {"NAME":
 * "value", ...} (merged over jobd's environment) and "stdin": "text" (fed
 * to the program, which otherwise reads /dev/null).  Unknown fields are
 * refused, so a misspelt "cwd" is not silently ignored.
 *
 * result {"exit_code": N | null, "signal": null | "SIGTERM" ..., "stdout":
 * "...", "stderr": "...", "truncated": bool}.  Each stream keeps at most
 * conf->max_output bytes (the rest is read and dropped, "truncated" says
 * so); bytes that are not UTF-8, and NUL bytes, become U+FFFD.  The job
 * fails on an exit status other than 0 ("exited with status 3"), on a
 * signal ("killed by SIGKILL"; exit_code null) and when the program cannot
 * be started (an error naming the program or the directory; no result).
 *
 * A stopped job (timeout, cancel, shutdown) sends SIGTERM to the program's
 * process group, SIGKILL after conf->kill_grace seconds, and keeps the
 * output so far.  However the job ends, whatever is left in its process
 * group is killed with SIGKILL.  At most conf->exec_concurrency exec jobs
 * run at once across all queues (waiting for a turn counts against the
 * job's timeout).  The child sees JOBD_JOB_ID=<id> in its environment.
 *
 * The program using this kind must ignore SIGPIPE (jobd does): a program
 * that exits without reading its stdin must give EPIPE, not kill jobd.
 * docs/EXEC.md has the whole story.
 */
#ifndef JOBD_KIND_EXEC_H
#define JOBD_KIND_EXEC_H

#include "kind.h"

/* Most elements of argv, and most variables in env: far above what
 * execve(2) takes (its limit is on bytes, ~2 MiB with the default stack
 * limit), low enough to bound what one submit makes us allocate. */
#define KIND_EXEC_ARGV_MAX 65536
#define KIND_EXEC_ENV_MAX  65536

/* After the program has exited, how long its output may take to reach
 * end of file: only a process that left the group (setsid) and still
 * holds the pipes takes this long, and its output is then cut. */
#define KIND_EXEC_DRAIN 1.0

/* After SIGKILL, how long a stop waits for the program to be reaped
 * (only a process stuck in the kernel takes longer; it is reaped later). */
#define KIND_EXEC_KILL_WAIT 1.0
/* A spawn is not interrupted by the job's stop (the child may already have
 * run and written: it must be stopped, not discarded), but is bounded by
 * this many seconds (an exec stuck on a dead file system). */
#define KIND_EXEC_SPAWN_WAIT 10.0

extern const struct kind kind_exec;

#endif /* JOBD_KIND_EXEC_H */
