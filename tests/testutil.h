/*
 * testutil.h — shared helpers for the Check suites.
 *
 * Each test that needs the runtime uses tu_setup/tu_teardown as a checked
 * fixture: a fresh event_base and co_rt per test, and on teardown a leak
 * check — no task left alive, no fd left open that the test opened.
 */
#ifndef JOBD_TESTUTIL_H
#define JOBD_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdbool.h>

#include "co.h"

extern struct event_base *tu_base;
extern struct co_rt *tu_rt;

/* Fixture: new base + runtime; remembers the open fd count. */
void tu_setup(void);
/* Fixture: asserts no task is alive and no fd leaked, then frees. */
void tu_teardown(void);

/* Run fn(arg) as the main task to its end; returns its result.  Fails the
 * test if the loop deadlocks. */
int tu_run(co_fn fn, void *arg);

/* What tutorial programs "print", captured for assertions: tu_say appends
 * (printf-style), tu_out is everything said since tu_out_reset. */
void tu_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tu_out(void);
void tu_out_reset(void);

/* Does each test run in its own process (Check's fork mode)?  Tests that
 * expect a crash or an abort can only run then (not under valgrind's
 * CK_FORK=no). */
bool tu_forking(void);

/* Number of open file descriptors of this process. */
int tu_fd_count(void);

/* Is process pid dead: gone, or a zombie?  (A zombie of ours is not yet
 * reaped, but it runs nothing any more.) */
bool tu_pid_dead(int pid);

/* Poll tu_pid_dead (blocking, every millisecond) for up to timeout s
 * (scaled by tu_slow()); returns the last answer. */
bool tu_pid_dies(int pid, double timeout);

/* Make path write-protected even for root (the immutable flag), or undo
 * it.  False where the file system or the privileges do not allow it
 * (CAP_LINUX_IMMUTABLE): the caller skips what needs it. */
bool tu_immutable(const char *path, bool on);

/* A copy of the program at path (mode 0755) in a 0755 directory under
 * /tmp, for a test that runs it as another user: the build dir may sit in
 * a home that user cannot enter (/root is 0700).  The directory goes when
 * the process that made it exits.  The name is valid until the next call;
 * fails the test if the copy cannot be made. */
const char *tu_reachable(const char *path);

/* Scale for timing tolerances: 1, or more under sanitizers/valgrind
 * (env JOBD_TEST_SLOW=N). */
double tu_slow(void);
/* CLOCK_REALTIME in seconds: the clock of jobd's stored times. */
double tu_wall(void);

/* How busy the machine is now: 1 + the 1-minute load average per CPU
 * (/proc/loadavg), at most 20.  1 on an idle machine; a load of 14 on 2
 * cores (CI beside stress-ng and builds) gives 8: each runnable process
 * then waits that many slices for a CPU. */
double tu_load(void);

/* The spacing for a test whose order comes from timers alone (tasks
 * sleeping 1, 2, 3 ticks end in that order): 10 ms times tu_slow() and
 * tu_load(), so that a task pre-empted between its spawn and its sleep
 * (valgrind, a busy machine) cannot overtake one due a tick later. */
double tu_tick(void);

/* Assert got is within tol (seconds) of want: tightly on the early side
 * (being early is always a bug), and on the late side by tol but at least
 * TU_LATE_MIN, scaled by tu_slow() and by tu_load() measured at the
 * assert: a loaded 2-core machine runs a task late by some slices per
 * wake-up (seen: 7 wake-ups of 10 ms, 85 ms late at load 14; one 30 ms
 * timeout 348 ms late at load 11, which 0.03 x 10.9 did not cover).  The
 * early side is the semantics (a timeout never fires early); the late
 * side only catches a timer that is seconds off or never fires. */
#define TU_LATE_MIN 0.1
#define tu_assert_time(got, want, tol)                                      \
	do {                                                                 \
		double g_ = (got), w_ = (want), t_ = (tol);                  \
		double l_ = (t_ > TU_LATE_MIN ? t_ : TU_LATE_MIN) *         \
		    tu_slow() * tu_load();                                   \
		ck_assert_msg(g_ >= w_ - t_ && g_ <= w_ + l_,               \
		    "time %.4f s, expected %.4f s (-%.4f/+%.4f)", g_, w_, t_, \
		    l_);                                                     \
	} while (0)

/* How many tasks the "10,000 concurrent tasks" tests spawn.  ThreadSanitizer
 * models every coroutine as a thread and dies past 8,128 of them. */
#ifdef JOBD_TSAN
#define TU_CROWD 4000
#else
#define TU_CROWD 10000
#endif

/* Run a suite (fork mode) and return the exit status for main(). */
int tu_main(Suite *s);

#endif
