/*
 * schedules.c — cron schedules (schedules.h).
 *
 * Each schedule keeps its next slot; one event is armed for the earliest
 * of them.  When it fires, every schedule whose slot has come makes its
 * job (unless paused, or overlap = skip and its last job has not ended)
 * and computes its next slot from now, so slots missed while the loop was
 * held are not made twice.  The timer is armed at most SCH_MAX_SLEEP
 * ahead: libevent's timers follow the monotonic clock, slots the wall
 * clock, and a wall clock set forward or back must not leave a schedule
 * asleep for hours.
 *
 * A slot's submits run in a task of their own (eng_submit is a task's
 * call) with nowait: a schedule never waits for room, and a full queue
 * costs that slot its job (logged).  Their answers come back by name,
 * not by pointer, since a reload may have dropped the schedule by then.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "co.h"
#include "conf.h"
#include "cron.h"
#include "engine.h"
#include "log.h"
#include "proto.h"
#include "schedules.h"
#include "store.h"

/* Longest the timer sleeps before looking at the wall clock again. */
#define SCH_MAX_SLEEP 300

struct sched {
	char *name, *cron_text, *zone, *queue;
	struct cron *cron;
	int overlap, catch_up;
	bool paused;
	json_t *submit;                 /* the slots' submit fields */
	int64_t next;                   /* next slot; 0: none ever */
	int64_t last_slot, last_job;    /* what it made last; 0: nothing */
	int inflight;                   /* submits not yet answered */
	bool fresh;                     /* new to this jobd: may catch up */
};

struct sch {
	struct co_rt *rt;
	struct eng *e;
	struct store *st;
	struct event *timer;
	struct sched **v;
	size_t n;
};

/* One task's submits: copies, so the schedule may go meanwhile. */
struct fire {
	struct sch *s;
	char *name;
	json_t *submit;
	size_t n;
	int64_t slots[];
};

/* One submit's answer. */
struct fire_ack {
	struct sch *s;
	int64_t slot;
	char name[];
};

static void sch_arm(struct sch *s);

static void
sched_free(struct sched *d)
{
	if (d == NULL)
		return;
	cron_free(d->cron);
	json_decref(d->submit);
	free(d->name);
	free(d->cron_text);
	free(d->zone);
	free(d->queue);
	free(d);
}

static struct sched *
sched_find(struct sch *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i]->name, name) == 0)
			return s->v[i];
	return NULL;
}

/* The next slot of d strictly after t, or 0 (none, or an error logged). */
static int64_t
sched_next(const struct sched *d, int64_t t)
{
	int64_t slot;
	int rc;

	if ((rc = cron_next(d->cron, d->zone, t, &slot)) == 0)
		return slot;
	if (rc != -ENOENT)
		log_warnx("schedule %s: next slot: %s", d->name, strerror(-rc));
	return 0;
}

static void
fire_done(void *arg, int status, const struct eng_ack *ack)
{
	struct fire_ack *a = arg;
	struct sched *d = sched_find(a->s, a->name);

	if (status < 0)
		log_warnx("schedule %s: the job of slot %lld was not "
		    "recorded: %s", a->name, (long long)a->slot,
		    store_errmsg());
	else if (ack->duplicate)
		log_info("schedule %s: slot %lld already has job %lld",
		    a->name, (long long)a->slot, (long long)ack->id);
	if (d != NULL) {
		d->inflight--;
		if (status == 0 && a->slot >= d->last_slot) {
			d->last_slot = a->slot;
			d->last_job = ack->id;
		}
	}
	free(a);
}

/* Submit one slot's job (in the fire task). */
static void
fire_one(struct fire *f, int64_t slot)
{
	struct proto_submit ps;
	struct proto_err err;
	struct fire_ack *a;
	struct sched *d;

	if (proto_submit_parse(f->submit, &ps, &err) < 0 || ps.nafter > 0) {
		proto_submit_clear(&ps);
		log_warnx("schedule %s: %s", f->name, err.msg);
		return;
	}
	ps.schedule = f->name;
	ps.slot = (double)slot;
	ps.nowait = true;
	if ((a = malloc(sizeof(*a) + strlen(f->name) + 1)) == NULL) {
		log_warnx("schedule %s: slot %lld: out of memory", f->name,
		    (long long)slot);
		return;
	}
	a->s = f->s;
	a->slot = slot;
	strcpy(a->name, f->name);
	if (eng_submit(f->s->e, &ps, NULL, fire_done, a, &err) < 0) {
		log_warnx("schedule %s: slot %lld: no job: %s", f->name,
		    (long long)slot, err.msg);
		free(a);
		return;
	}
	if ((d = sched_find(f->s, f->name)) != NULL)
		d->inflight++;
	log_info("schedule %s: slot %lld submitted", f->name, (long long)slot);
}

static int
fire_main(void *arg)
{
	struct fire *f = arg;

	for (size_t i = 0; i < f->n; i++)
		fire_one(f, f->slots[i]);
	json_decref(f->submit);
	free(f->name);
	free(f);
	return 0;
}

/* May d make a job now?  Not when paused, nor with overlap = skip while
 * its last job (or a submit of it) has not ended. */
static bool
sched_may(struct sch *s, struct sched *d)
{
	struct store_job *j;
	bool live;

	if (d->paused)
		return false;
	if (d->overlap != CONF_OVERLAP_SKIP)
		return true;
	if (d->inflight > 0)
		return false;
	if (d->last_job == 0 || store_get(s->st, d->last_job, &j) < 0)
		return true;
	live = !store_state_ended(j->state);
	store_job_free(j);
	if (live)
		log_info("schedule %s: slot skipped, job %lld has not ended "
		    "(overlap = skip)", d->name, (long long)d->last_job);
	return !live;
}

/* Make d's jobs for slots[0..n-1], oldest first, in a task. */
static void
sched_fire(struct sch *s, struct sched *d, const int64_t *slots, size_t n)
{
	struct fire *f;
	struct co_task *t;

	if (n == 0 || !sched_may(s, d))
		return;
	if ((f = malloc(sizeof(*f) + n * sizeof(f->slots[0]))) == NULL ||
	    (f->name = strdup(d->name)) == NULL) {
		free(f);
		log_warnx("schedule %s: out of memory: slot missed", d->name);
		return;
	}
	f->s = s;
	f->submit = json_incref(d->submit);
	f->n = n;
	memcpy(f->slots, slots, n * sizeof(slots[0]));
	if (co_spawn(s->rt, fire_main, f, &t) < 0) {
		log_warnx("schedule %s: cannot start a task: slot missed",
		    d->name);
		json_decref(f->submit);
		free(f->name);
		free(f);
		return;
	}
	co_detach(t);
}

static void
sch_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sch *s = arg;
	int64_t now = (int64_t)floor(store_now());

	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->n; i++) {
		struct sched *d = s->v[i];

		if (d->next == 0 || d->next > now)
			continue;
		sched_fire(s, d, &d->next, 1);
		d->next = sched_next(d, now);
	}
	sch_arm(s);
}

/* Arm the timer for the earliest next slot (capped). */
static void
sch_arm(struct sch *s)
{
	double now = store_now(), wait = SCH_MAX_SLEEP;
	struct timeval tv;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->next > 0 && s->v[i]->next - now < wait)
			wait = s->v[i]->next - now;
	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	event_add(s->timer, &tv);
}

struct sch *
sch_new(struct co_rt *rt, struct event_base *base, struct eng *e,
    struct store *st)
{
	struct sch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->rt = rt;
	s->e = e;
	s->st = st;
	if ((s->timer = evtimer_new(base, sch_tick, s)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static char *
dup_or_null(const char *v)
{
	return v != NULL ? strdup(v) : NULL;
}

/* A schedule from its config; its last slot and job from old (the same
 * name before a reload) or the store. */
static struct sched *
sched_make(struct sch *s, const struct conf_schedule *cs,
    const struct sched *old)
{
	struct sched *d = calloc(1, sizeof(*d));
	const char *q;
	char err[CRON_ERR_MAX];
	double slot = 0;

	if (d == NULL || (d->name = strdup(cs->name)) == NULL ||
	    (d->cron_text = strdup(cs->cron)) == NULL ||
	    (cs->timezone != NULL && (d->zone = strdup(cs->timezone)) ==
	    NULL) || (d->submit = json_loads(cs->submit, 0, NULL)) == NULL ||
	    cron_parse(cs->cron, &d->cron, err, sizeof(err)) < 0)
		goto fail;
	q = json_string_value(json_object_get(d->submit, "queue"));
	if ((d->queue = dup_or_null(q != NULL ? q : "default")) == NULL)
		goto fail;
	d->overlap = cs->overlap;
	d->catch_up = cs->catch_up;
	d->paused = cs->paused;
	if (old != NULL) {
		d->last_slot = old->last_slot;
		d->last_job = old->last_job;
		d->inflight = old->inflight;
	} else if ((d->fresh = true, store_slot_last(s->st, d->name, &slot,
	    &d->last_job)) < 0) {
		log_warnx("schedule %s: %s", d->name, store_errmsg());
		goto fail;
	} else {
		d->last_slot = (int64_t)slot;
	}
	return d;
fail:
	sched_free(d);
	return NULL;
}

/* The slots d missed while jobd was down, as catch_up says. */
static void
sched_catch_up(struct sch *s, struct sched *d, int64_t now)
{
	int64_t slots[CRON_CATCH_UP_MAX];
	size_t n = 0, max;
	bool more = false;

	max = d->catch_up == CONF_CATCH_UP_ALL ? CRON_CATCH_UP_MAX :
	    d->catch_up == CONF_CATCH_UP_LATEST ? 1 : 0;
	if (max == 0 || d->last_slot == 0 || !d->fresh)
		return;
	if (cron_catch_up(d->cron, d->zone, d->last_slot, now, max, slots,
	    &n, &more) < 0 || n == 0)
		return;
	log_info("schedule %s: %zu missed slot%s to catch up%s", d->name, n,
	    n == 1 ? "" : "s", more ? " (older ones left out)" : "");
	sched_fire(s, d, slots, n);
}

int
sch_configure(struct sch *s, const struct conf *c)
{
	size_t n = conf_schedule_count(c), i;
	int64_t now = (int64_t)floor(store_now());
	struct sched **v = calloc(n > 0 ? n : 1, sizeof(*v)), *old;

	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		old = sched_find(s, conf_schedule(c, i)->name);
		if ((v[i] = sched_make(s, conf_schedule(c, i), old)) == NULL)
			break;
	}
	if (i < n) {
		while (i-- > 0)
			sched_free(v[i]);
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < s->n; i++)
		sched_free(s->v[i]);
	free(s->v);
	s->v = v;
	s->n = n;
	for (i = 0; i < n; i++) {
		sched_catch_up(s, v[i], now);
		v[i]->next = sched_next(v[i], now);
	}
	event_del(s->timer);
	sch_arm(s);
	return 0;
}

static json_t *
time_or_null(int64_t t)
{
	return t > 0 ? json_real((double)t) : json_null();
}

json_t *
sch_list(struct sch *s)
{
	json_t *a = json_array(), *o;

	for (size_t i = 0; a != NULL && i < s->n; i++) {
		const struct sched *d = s->v[i];

		o = json_pack("{s:s s:s s:o s:s s:o s:o s:o s:b}", "name",
		    d->name, "cron", d->cron_text, "timezone",
		    d->zone != NULL ? json_string(d->zone) : json_null(),
		    "queue", d->queue, "next_run_at", time_or_null(d->paused ?
		    0 : d->next), "last_slot", time_or_null(d->last_slot),
		    "last_job", d->last_job > 0 ? json_integer(d->last_job) :
		    json_null(), "paused", d->paused);
		if (o == NULL || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

void
sch_stop(struct sch *s)
{
	if (s != NULL)
		event_del(s->timer);
}

void
sch_free(struct sch *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		sched_free(s->v[i]);
	free(s->v);
	if (s->timer != NULL)
		event_free(s->timer);
	free(s);
}
