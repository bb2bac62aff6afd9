/*
 * co.c — tasks and the scheduler.
 *
 * One runner per runtime resumes ready tasks from a libevent callback on the
 * loop thread's own stack ("main").  Tasks switch only to main and main only
 * to tasks, so a suspended task's stack holds exactly its own frames.
 *
 * Fairness: a runner pass resumes at most pass_budget tasks.  Tasks woken
 * during a pass run in the same pass (cheap hand-offs between tasks), but a
 * task that co_yield()s waits for the next pass, and whenever work is left
 * over the next pass is scheduled with a zero timeout, which libevent runs
 * only after polling for I/O.  So a task spinning on co_yield() cannot
 * starve sockets.
 *
 * The task record lives at the top of its own stack slot: one allocation per
 * task, and a suspended shallow task costs about one resident page.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "co.h"
#include "co_ctx.h"
#include "co_sched.h"
#include "co_stack.h"
#include "co_theap.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define CO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CO_ASAN 1
#endif
#endif

#ifdef CO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define asan_start(fake, bottom, size) \
	__sanitizer_start_switch_fiber(fake, bottom, size)
#define asan_finish(fake, bottom, size) \
	__sanitizer_finish_switch_fiber(fake, bottom, size)
#else
#define asan_start(fake, bottom, size) ((void)(fake), (void)(bottom), (void)(size))
#define asan_finish(fake, bottom, size) ((void)(fake), (void)(bottom), (void)(size))
#endif

/* ThreadSanitizer must be told about stack switches too, or it attributes
 * one task's frames to another's and loses track of happens-before. */
#if defined(__SANITIZE_THREAD__)
#define CO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CO_TSAN 1
#endif
#endif

#ifdef CO_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#define tsan_switch(fiber) __tsan_switch_to_fiber(fiber, 0)

/* TSan defers a signal that arrives while instrumented code runs to the
 * next intercepted call, and keeps it on the running fiber: a task that
 * then parks (waiting, say, for the SIGCHLD or the SIGTERM itself) would
 * hold it until it runs again, which may be never.  So a task makes one
 * intercepted call (sigpending: cheap, no side effect) just before it
 * leaves, and what arrived meanwhile is delivered on its way out.  Only
 * the few instructions after that call stay open (docs/RELIABILITY.md,
 * "Sanitizers"). */
static void
tsan_deliver(void)
{
	sigset_t set;

	(void)sigpending(&set);
}
#else
#define tsan_switch(fiber) ((void)(fiber))
#define tsan_deliver() ((void)0)
#endif

enum task_state { T_READY, T_RUNNING, T_PARKED, T_DONE };

/* Shields nest this deep at most (each level remembers its floor). */
#define SHIELD_DEPTH_MAX 16

/* park() flags */
#define PARK_NOINTR 1   /* ignore cancellation and scopes: awaiting a child */

struct co_task {
	struct co_ctx ctx;
	struct co_rt *rt;
	co_fn fn;
	void *arg;
	int result;
	int wake_status;        /* what the pending co_park returns */
	int expiry_status;      /* status when the timer fires */
	int saved_errno;
	int shield;             /* co_shield_enter depth */
	bool nointr;            /* parked in co_reap: nothing interrupts */
	enum task_state state;
	bool cancelled, detached;
	struct co_scope *scope;         /* innermost deadline scope */
	/* Per shield level, the innermost scope when it was entered: that
	 * scope and every one outside it are held off. */
	struct co_scope *shield_floor[SHIELD_DEPTH_MAX];
	struct co_task *joiner;         /* task parked in co_join on us */
	struct co_tnode timer;          /* deadline of the pending park */
	struct co_stack stack;
	void *asan_fake;
	char *asan_low;                 /* lowest frame live at the end */
	void *tsan_fiber;
	TAILQ_ENTRY(co_task) rq;        /* ready / yielded queue */
	LIST_ENTRY(co_task) all;        /* every live task */
};

/* The record sits at the top of the stack slot, cache-line aligned. */
#define TASK_BYTES ((sizeof(struct co_task) + 63) & ~(size_t)63)

struct co_rt {
	struct event_base *base;
	struct co_stack_pool *stacks;
	struct co_ctx main_ctx;
	int main_errno;
	void *asan_main_fake;
	void *tsan_main;
	const void *asan_main_bottom;
	size_t asan_main_size;
	TAILQ_HEAD(, co_task) ready, yielded;
	LIST_HEAD(, co_task) tasks;
	struct event *runner;
	bool runner_pending, in_pass;
	bool shutting_down;             /* new tasks start cancelled */
	struct co_theap timers;         /* parked tasks with a deadline */
	struct event *timer_ev;         /* armed for the heap's top */
	double timer_armed_at;          /* its deadline; INFINITY: not armed */
	int pass_budget;
	size_t live, running;
	unsigned long long switches, passes;
};

static __thread struct co_task *co_cur;

static void runner_cb(evutil_socket_t, short, void *);
static void timers_cb(evutil_socket_t, short, void *);
static void timer_cancel(struct co_task *);

/* ---- clock -------------------------------------------------------------- */

double
co_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
co_deadline(double timeout)
{
	return timeout < 0 ? CO_FOREVER : co_now() + timeout;
}

/* Relative timeval for an absolute deadline, rounded up to the next
 * microsecond so a timer never fires before its deadline. */
static struct timeval
until(double deadline)
{
	double d = deadline - co_now();
	struct timeval tv = { 0, 0 };

	if (d > 0) {
		double us = ceil(d * 1e6);

		tv.tv_sec = (time_t)(us / 1e6);
		tv.tv_usec = (suseconds_t)(us - (double)tv.tv_sec * 1e6);
	}
	return tv;
}

/* ---- runtime ------------------------------------------------------------ */

struct event_base *
co_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER |
	    EVENT_BASE_FLAG_NO_CACHE_TIME);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct co_rt *
co_rt_new(struct event_base *base, const struct co_rt_opts *opts)
{
	struct co_rt *rt = calloc(1, sizeof(*rt));
	size_t ssize = opts && opts->stack_size ? opts->stack_size : CO_STACK_DEFAULT;
	size_t keep = opts && opts->stack_keep ? opts->stack_keep : 256;
	int rc;

	if (rt == NULL)
		return NULL;
	rt->base = base;
	rt->pass_budget = opts && opts->pass_budget > 0 ? opts->pass_budget : 512;
	TAILQ_INIT(&rt->ready);
	TAILQ_INIT(&rt->yielded);
	LIST_INIT(&rt->tasks);
	co_theap_init(&rt->timers);
	rt->timer_armed_at = INFINITY;
#ifdef CO_TSAN
	rt->tsan_main = __tsan_get_current_fiber();
#endif
	if ((rc = co_stack_reporter_init()) < 0)
		goto fail;
	rc = -ENOMEM;
	if ((rt->stacks = co_stack_pool_new(ssize + TASK_BYTES, keep)) == NULL)
		goto fail;
	if ((rt->runner = event_new(base, -1, 0, runner_cb, rt)) == NULL ||
	    (rt->timer_ev = event_new(base, -1, 0, timers_cb, rt)) == NULL)
		goto fail;
	return rt;
fail:
	if (rt->runner != NULL)
		event_free(rt->runner);
	co_stack_pool_free(rt->stacks);
	free(rt);
	errno = -rc;
	return NULL;
}

int
co_rt_free(struct co_rt *rt)
{
	if (rt == NULL)
		return 0;
	if (rt->live > 0)
		return -EBUSY;
	event_free(rt->runner);
	event_free(rt->timer_ev);
	co_theap_free(&rt->timers);
	co_stack_pool_free(rt->stacks);
	free(rt);
	return 0;
}

struct event_base *
co_rt_base(struct co_rt *rt)
{
	return rt->base;
}

struct co_rt *
co_current_rt(void)
{
	return co_cur ? co_cur->rt : NULL;
}

void
co_rt_stats(struct co_rt *rt, struct co_rt_stats *st)
{
	struct co_stack_pool_stats ps;

	co_stack_pool_stats(rt->stacks, &ps);
	st->tasks_live = rt->live;
	st->tasks_running = rt->running;
	st->stacks_total = ps.total;
	st->stacks_free = ps.free;
	st->arenas = ps.arenas;
	st->guard_madvise = ps.guard_madvise;
	st->switches = rt->switches;
	st->passes = rt->passes;
}

/* ---- switching ---------------------------------------------------------- */

/* From main into t. */
static void
switch_in(struct co_rt *rt, struct co_task *t)
{
	rt->main_errno = errno;
	co_cur = t;
	t->state = T_RUNNING;
	co_stack_set_running(&t->stack);
	asan_start(&rt->asan_main_fake, t->stack.base, t->stack.size - TASK_BYTES);
	tsan_switch(t->tsan_fiber);
	co_ctx_switch(&rt->main_ctx, &t->ctx);
	asan_finish(rt->asan_main_fake, NULL, NULL);
	co_stack_set_running(NULL);
	co_cur = NULL;
	rt->switches++;
	errno = rt->main_errno;
}

/* From the running task back to main; returns when main resumes it.  A
 * finished task's last switch tells ASan its fake stack can go. */
static void
switch_out(struct co_task *t, bool final)
{
	struct co_rt *rt = t->rt;

	t->saved_errno = errno;
	asan_start(final ? NULL : &t->asan_fake, rt->asan_main_bottom,
	    rt->asan_main_size);
	tsan_deliver();
	tsan_switch(rt->tsan_main);
	co_ctx_switch(&t->ctx, &rt->main_ctx);
	asan_finish(t->asan_fake, &rt->asan_main_bottom, &rt->asan_main_size);
	errno = t->saved_errno;
}

static void
schedule_now(struct co_rt *rt)
{
	if (rt->runner_pending || rt->in_pass)
		return;
	rt->runner_pending = true;
	event_active(rt->runner, EV_TIMEOUT, 0);
}

/* Next pass only after libevent has polled for I/O. */
static void
schedule_after_poll(struct co_rt *rt)
{
	static const struct timeval zero = { 0, 0 };

	rt->runner_pending = true;
	event_add(rt->runner, &zero);
}

static void
task_release(struct co_task *t)
{
	struct co_rt *rt = t->rt;
	struct co_stack st = t->stack;

	timer_cancel(t);
#ifdef CO_TSAN
	__tsan_destroy_fiber(t->tsan_fiber);
#endif
	LIST_REMOVE(t, all);
	rt->live--;
#ifdef CO_ASAN
	/* Frames that never returned (task_entry and the final switch) leave
	 * poisoned shadow at the top of the stack; every other frame returned
	 * and unpoisoned itself.  The next task on this stack starts clean. */
	if (t->asan_low != NULL)
		ASAN_UNPOISON_MEMORY_REGION(t->asan_low,
		    (size_t)((char *)t - t->asan_low));
#endif
	co_stack_put(rt->stacks, &st);          /* t is gone from here on */
}

static void
runner_cb(evutil_socket_t fd, short what, void *arg)
{
	struct co_rt *rt = arg;
	struct co_task *t;
	int budget = rt->pass_budget;

	(void)fd;
	(void)what;
	rt->runner_pending = false;
	rt->in_pass = true;
	rt->passes++;
	TAILQ_CONCAT(&rt->ready, &rt->yielded, rq);
	while (budget-- > 0 && (t = TAILQ_FIRST(&rt->ready)) != NULL) {
		TAILQ_REMOVE(&rt->ready, t, rq);
		switch_in(rt, t);
		if (t->state == T_DONE && t->detached)
			task_release(t);
	}
	rt->in_pass = false;
	if (!TAILQ_EMPTY(&rt->ready) || !TAILQ_EMPTY(&rt->yielded))
		schedule_after_poll(rt);
}

/* ---- tasks -------------------------------------------------------------- */

static void
task_entry(void *arg)
{
	struct co_task *t = arg;
	struct co_rt *rt = t->rt;

	asan_finish(NULL, &rt->asan_main_bottom, &rt->asan_main_size);
	t->result = t->fn(t->arg);
	t->state = T_DONE;
	rt->running--;
	if (t->joiner != NULL)
		co_wake(t->joiner, 0);
#ifdef CO_ASAN
	/* Below this frame: only switch_out and the switch itself. */
	t->asan_low = (char *)__builtin_frame_address(0) - 4096;
	if (t->asan_low < (char *)t->stack.base)
		t->asan_low = t->stack.base;
#endif
	switch_out(t, true);
	abort();                        /* a finished task is never resumed */
}

int
co_spawn(struct co_rt *rt, co_fn fn, void *arg, struct co_task **taskp)
{
	struct co_stack st;
	struct co_task *t;

	/* Every task may park with a deadline: room in the heap for all. */
	if (co_theap_reserve(&rt->timers, rt->live + 1) < 0 ||
	    co_stack_get(rt->stacks, &st) < 0)
		return -ENOMEM;
	t = (struct co_task *)((char *)st.base + st.size - TASK_BYTES);
	memset(t, 0, sizeof(*t));
	t->stack = st;
	t->rt = rt;
	t->fn = fn;
	t->arg = arg;
	t->detached = taskp == NULL;
	t->cancelled = rt->shutting_down;
	co_tnode_init(&t->timer);
#ifdef CO_TSAN
	t->tsan_fiber = __tsan_create_fiber(0);
#endif
	co_ctx_make(&t->ctx, st.base, st.size - TASK_BYTES, task_entry, t);
	LIST_INSERT_HEAD(&rt->tasks, t, all);
	rt->live++;
	rt->running++;
	t->state = T_READY;
	TAILQ_INSERT_TAIL(&rt->ready, t, rq);
	schedule_now(rt);
	if (taskp != NULL)
		*taskp = t;
	return 0;
}

struct co_task *
co_self(void)
{
	return co_cur;
}

bool
co_cancelled(void)
{
	return co_cur != NULL && co_cur->cancelled;
}

bool
co_done(const struct co_task *t)
{
	return t->state == T_DONE;
}

void
co_detach(struct co_task *t)
{
	if (t->state == T_DONE)
		task_release(t);
	else
		t->detached = true;
}

void
co_misuse(const char *func, const char *what)
{
	log_warnx("%s: %s", func, what);
	abort();
}

void
co_cancel(struct co_task *t)
{
	if (t->state == T_DONE)
		return;
	t->cancelled = true;
	if (t->state == T_PARKED && t->shield == 0 && !t->nointr)
		co_wake(t, -ECANCELED);
}

void
co_shield_enter(void)
{
	struct co_task *t = co_cur;

	CO_MUST(t != NULL, "shield outside a task");
	CO_MUST(t->shield < SHIELD_DEPTH_MAX, "shields nested too deep");
	t->shield_floor[t->shield++] = t->scope;
}

void
co_shield_exit(void)
{
	CO_MUST(co_cur != NULL && co_cur->shield > 0, "shield exit without enter");
	co_cur->shield--;
}

/* The scopes that count for t end here: those of the innermost shield's
 * floor and outside it are held off. */
static struct co_scope *
scope_floor(const struct co_task *t)
{
	return t->shield > 0 ? t->shield_floor[t->shield - 1] : NULL;
}

/* ---- parking ------------------------------------------------------------ */

/* The scope with the earliest deadline, or NULL.  Inside a shield only the
 * scopes entered within it count. */
static struct co_scope *
earliest_scope(const struct co_task *t)
{
	struct co_scope *s, *best = NULL;
	struct co_scope *floor = scope_floor(t);

	for (s = t->scope; s != floor; s = s->outer)
		if (best == NULL || s->deadline < best->deadline)
			best = s;
	return best != NULL && isfinite(best->deadline) ? best : NULL;
}

/* Mark every scope of t that counts now and whose deadline has passed. */
static void
expire_scopes(struct co_task *t, double now)
{
	struct co_scope *floor = scope_floor(t);

	for (struct co_scope *s = t->scope; s != floor; s = s->outer)
		if (s->deadline <= now)
			s->expired = true;
}

#define TASK_OF_TIMER(n) \
	((struct co_task *)((char *)(n) - offsetof(struct co_task, timer)))

/* Keep the libevent timer armed no later than the heap's top.  A timer
 * armed too early (its task woke otherwise) just fires and re-arms. */
static void
timers_rearm(struct co_rt *rt)
{
	struct co_tnode *top = co_theap_top(&rt->timers);
	struct timeval tv;

	if (top == NULL || top->when >= rt->timer_armed_at)
		return;
	tv = until(top->when);
	event_add(rt->timer_ev, &tv);
	rt->timer_armed_at = top->when;
}

/* Take t's deadline out of the heap; with no deadline left, disarm the
 * libevent timer so an idle runtime holds no event (and co_rt_run can see a
 * deadlock at once). */
static void
timer_cancel(struct co_task *t)
{
	struct co_rt *rt = t->rt;

	if (!co_tnode_queued(&t->timer))
		return;
	co_theap_remove(&rt->timers, &t->timer);
	if (co_theap_top(&rt->timers) == NULL && isfinite(rt->timer_armed_at)) {
		event_del(rt->timer_ev);
		rt->timer_armed_at = INFINITY;
	}
}

/* Wake every task whose deadline has passed, earliest (then first
 * parked) first. */
static void
timers_cb(evutil_socket_t fd, short what, void *arg)
{
	struct co_rt *rt = arg;
	struct co_tnode *top;
	double now = co_now();

	(void)fd;
	(void)what;
	rt->timer_armed_at = INFINITY;
	while ((top = co_theap_top(&rt->timers)) != NULL && top->when <= now) {
		struct co_task *t = TASK_OF_TIMER(top);

		co_theap_remove(&rt->timers, top);
		/* A task already woken by a hand-off keeps what it got: its
		 * scope did not interrupt anything. */
		if (t->state != T_PARKED)
			continue;
		if (t->expiry_status == -ETIMEDOUT)
			expire_scopes(t, now);
		co_wake(t, t->expiry_status);
	}
	timers_rearm(rt);
}

int
co_check(void)
{
	struct co_task *t = co_cur;
	struct co_scope *s;
	double now;

	CO_MUST(t != NULL, "co_check outside a task");
	if (t->cancelled && t->shield == 0)
		return -ECANCELED;
	if ((s = earliest_scope(t)) != NULL && s->deadline <= (now = co_now())) {
		expire_scopes(t, now);
		return -ETIMEDOUT;
	}
	return 0;
}

static int
park(double deadline, int expiry_status, int flags)
{
	struct co_task *t = co_cur;
	struct co_scope *s;
	double now;

	CO_MUST(t != NULL, "await outside a task");
	if (deadline < 0)
		deadline = INFINITY;
	if (!(flags & PARK_NOINTR)) {
		if (t->cancelled && t->shield == 0)
			return -ECANCELED;
		if ((s = earliest_scope(t)) != NULL && s->deadline <= deadline) {
			if (s->deadline <= (now = co_now())) {
				expire_scopes(t, now);
				return -ETIMEDOUT;
			}
			deadline = s->deadline;
			expiry_status = -ETIMEDOUT;
		}
	}
	t->expiry_status = expiry_status;
	if (isfinite(deadline)) {
		co_theap_push(&t->rt->timers, &t->timer, deadline);
		timers_rearm(t->rt);
	}
	t->state = T_PARKED;
	t->nointr = flags & PARK_NOINTR;        /* co_cancel must not wake us */
	switch_out(t, false);
	t->nointr = false;
	timer_cancel(t);
	return t->wake_status;
}

int
co_park(double deadline, int expiry_status)
{
	return park(deadline, expiry_status, 0);
}

bool
co_wake(struct co_task *t, int status)
{
	struct co_rt *rt = t->rt;

	if (t->state != T_PARKED)
		return false;
	t->wake_status = status;
	t->state = T_READY;
	TAILQ_INSERT_TAIL(&rt->ready, t, rq);
	schedule_now(rt);
	return true;
}

int
co_yield(void)
{
	struct co_task *t = co_cur;

	CO_MUST(t != NULL, "await outside a task");
	if (t->cancelled && t->shield == 0)
		return -ECANCELED;
	t->state = T_READY;
	TAILQ_INSERT_TAIL(&t->rt->yielded, t, rq);
	if (!t->rt->in_pass)
		schedule_now(t->rt);
	switch_out(t, false);
	return t->cancelled && t->shield == 0 ? -ECANCELED : 0;
}

int
co_sleep(double seconds)
{
	if (!(seconds >= 0))            /* also rejects NaN */
		return -EINVAL;
	return co_park(co_now() + seconds, 0);
}

/* ---- joining ------------------------------------------------------------ */

static int
take_result(struct co_task *t, int *result)
{
	if (result != NULL)
		*result = t->result;
	task_release(t);
	return 0;
}

/* Wait for t's end, or until park() is interrupted. */
static int
join_until(struct co_task *t, double deadline, int flags)
{
	int rc = 0;

	CO_MUST(co_cur != NULL && co_cur != t, "join outside a task, or of itself");
	CO_MUST(t->joiner == NULL || t->joiner == co_cur, "two tasks join one");
	while (t->state != T_DONE) {
		t->joiner = co_cur;
		rc = park(deadline, -ETIMEDOUT, flags);
		t->joiner = NULL;
		if (rc != 0)
			break;
	}
	return t->state == T_DONE ? 0 : rc;
}

int
co_join(struct co_task *t, int *result)
{
	int rc = join_until(t, INFINITY, 0);

	return rc < 0 ? rc : take_result(t, result);
}

int
co_reap(struct co_task *t, int *result)
{
	co_cancel(t);
	(void)join_until(t, INFINITY, PARK_NOINTR);
	return take_result(t, result);
}

int
co_wait_for(struct co_task *t, double timeout, int *result)
{
	double deadline = timeout < 0 ? INFINITY : co_now() + timeout;
	int rc = join_until(t, deadline, 0);

	if (rc == 0)
		return take_result(t, result);
	(void)co_reap(t, result);
	return rc;
}

/* ---- scopes --------------------------------------------------------------- */

void
co_scope_enter(struct co_scope *s, double timeout)
{
	struct co_task *t = co_cur;

	CO_MUST(t != NULL, "scope outside a task");
	s->deadline = timeout < 0 ? INFINITY : co_now() + timeout;
	s->expired = false;
	s->outer = t->scope;
	t->scope = s;
}

int
co_scope_exit(struct co_scope *s)
{
	struct co_task *t = co_cur;

	CO_MUST(t != NULL && t->scope == s, "scopes must nest");
	CO_MUST(t->shield == 0 || t->shield_floor[t->shield - 1] != s,
	    "a scope entered before a shield is exited inside it");
	t->scope = s->outer;
	return s->expired ? -ETIMEDOUT : 0;
}

/* ---- running a program ------------------------------------------------------ */

int
co_rt_run(struct co_rt *rt, co_fn fn, void *arg, int *result)
{
	struct co_task *t;
	int rc, lrc = 0;

	if ((rc = co_spawn(rt, fn, arg, &t)) < 0)
		return rc;
	while (t->state != T_DONE) {
		if ((lrc = event_base_loop(rt->base, EVLOOP_ONCE)) != 0)
			break;                  /* 1: no events left, t is stuck */
	}
	if (t->state == T_DONE)
		return take_result(t, result);
	/* Deadlock: nothing can ever wake t.  Cancel it so it can unwind. */
	co_cancel(t);
	while (t->state != T_DONE && event_base_loop(rt->base, EVLOOP_ONCE) == 0)
		;
	if (t->state == T_DONE)
		(void)take_result(t, result);
	return lrc < 0 ? -EIO : -EDEADLK;
}

void
co_rt_shutdown(struct co_rt *rt)
{
	struct co_task *t;

	rt->shutting_down = true;
	LIST_FOREACH(t, &rt->tasks, all)
		co_cancel(t);
	while (rt->running > 0) {
		if (event_base_loop(rt->base, EVLOOP_ONCE) != 0)
			break;                  /* stuck tasks: nothing can wake them */
	}
}

/* ---- wait queues ---------------------------------------------------------- */

void
co_waitq_init(struct co_waitq *q)
{
	TAILQ_INIT(&q->head);
}

int
co_waitq_wait(struct co_waitq *q, double deadline, void *data)
{
	struct co_waiter w = { .task = co_cur, .data = data, .linked = true };
	int rc;

	TAILQ_INSERT_TAIL(&q->head, &w, link);
	rc = co_park(deadline, -ETIMEDOUT);
	if (w.linked)
		TAILQ_REMOVE(&q->head, &w, link);
	return rc;
}

struct co_waiter *
co_waitq_wake_one(struct co_waitq *q, int status)
{
	struct co_waiter *w;

	while ((w = TAILQ_FIRST(&q->head)) != NULL) {
		TAILQ_REMOVE(&q->head, w, link);
		w->linked = false;
		if (co_wake(w->task, status))
			return w;
	}
	return NULL;
}

size_t
co_waitq_wake_all(struct co_waitq *q, int status)
{
	size_t n = 0;

	while (co_waitq_wake_one(q, status) != NULL)
		n++;
	return n;
}

bool
co_waitq_empty(const struct co_waitq *q)
{
	return TAILQ_EMPTY(&q->head);
}

