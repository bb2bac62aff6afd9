/*
 * conf_sched.h — the [schedule.NAME] sections of a config file.  Internal
 * to lib/conf: conf.c feeds each section and key here as inih reads them
 * and turns the messages into "FILE:LINE: message"; callers read the
 * result through conf.h (struct conf_schedule).
 */
#ifndef JOBD_CONF_SCHED_H
#define JOBD_CONF_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf_schedule;
struct csched_set;

/* An empty set, or NULL (ENOMEM). */
struct csched_set *csched_new(void);
void csched_free(struct csched_set *set);

/* Open section [schedule.name] declared at line: 0, or a negative errno
 * with msg (a bad or duplicate name, too many sections, ENOMEM). */
int csched_open(struct csched_set *set, const char *name, int line,
    char *msg, size_t len);

/* Key name = value at line, in the section opened last.  0, or -EINVAL
 * with msg (an unknown or duplicate key, a value its type refuses: a bad
 * cron line, an unknown zone, a submit field proto_submit_parse refuses),
 * -ENOMEM. */
int csched_key(struct csched_set *set, const char *name, const char *value,
    int line, char *msg, size_t len);

/* Once the whole file is read: each section has cron and kind, its args
 * pass the kind's check, its queue is one queue_ok accepts.  0, or
 * -EINVAL with msg and *line the line to blame. */
int csched_finish(struct csched_set *set,
    bool (*queue_ok)(void *arg, const char *queue), void *arg, int *line,
    char *msg, size_t len);

size_t csched_count(const struct csched_set *set);
const struct conf_schedule *csched_at(const struct csched_set *set, size_t i);

/* Print every section as a config file would hold it. */
void csched_dump(FILE *f, const struct csched_set *set);

#endif /* JOBD_CONF_SCHED_H */
