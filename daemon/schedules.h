/*
 * schedules.h — [schedule.NAME] cron schedules: one job per slot
 * (docs/SCHEDULES.md).
 *
 * One libevent timer for the whole set, armed for the earliest next slot
 * (no polling).  Each slot's job is submitted with schedule = NAME and
 * slot = the slot's time; the store's UNIQUE (schedule, slot) makes a
 * second submit of a slot a duplicate, so a crash anywhere between the
 * submit and its commit, then a restart, leaves exactly one job for it.
 * What each schedule made last is read back from the store (an index
 * lookup), never kept anywhere else, so it is right after a crash.
 */
#ifndef JOBD_SCHEDULES_H
#define JOBD_SCHEDULES_H

#include <jansson.h>

struct co_rt;
struct conf;
struct eng;
struct event_base;
struct sch;
struct store;

/* An empty set, or NULL (ENOMEM). */
struct sch *sch_new(struct co_rt *rt, struct event_base *base, struct eng *e,
    struct store *st);

/* Take the schedules of c (at start, after recovery; and on each SIGHUP):
 * new ones join, changed ones take their new settings, gone ones stop;
 * a schedule whose last slot is older than the newest one due catches up
 * as its catch_up says.  0, or -ENOMEM and the running set is kept. */
int sch_configure(struct sch *s, const struct conf *c);

/* The schedules op's array: one object per schedule (name, cron,
 * timezone, queue, next_run_at, last_slot, last_job, paused).  NULL on
 * ENOMEM. */
json_t *sch_list(struct sch *s);

/* Make no more jobs (jobd stops).  NULL is a no-op. */
void sch_stop(struct sch *s);

/* Free the set, after the store's last callbacks (store_close): answers
 * of its submits still refer to it until then.  NULL is a no-op. */
void sch_free(struct sch *s);

#endif /* JOBD_SCHEDULES_H */
