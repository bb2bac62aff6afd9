/*
 * ctl_watch.h — jobctl watch and jobctl top: the watch op's event stream,
 * as lines or as a live full-screen view.
 */
#ifndef JOBD_CTL_WATCH_H
#define JOBD_CTL_WATCH_H

#include <jansson.h>

struct ctl;

/* Send {"op":"watch"} with the filters given (queue NULL, id and group 0:
 * any) and print one line per job change (--json: the event lines as
 * they come) until jobd goes or SIGINT/SIGTERM.  An exit status. */
int ctl_watch(struct ctl *ctl, const char *queue, json_int_t id,
    json_int_t group);

/* The live view: per-queue counts and rates, p50/p99 run time and the
 * latest failures, refreshed once a second until 'q' (or SIGINT/SIGTERM);
 * the terminal is restored on the way out.  Needs a terminal on stdin and
 * stdout.  An exit status. */
int ctl_top(struct ctl *ctl);

/* ---- shared by the two ---------------------------------------------------- */

/* Start watching on ctl's connection: CTL_CONTINUE once jobd said ok. */
int ctl_watch_start(struct ctl *ctl, const char *queue, json_int_t id,
    json_int_t group);

/* Set by SIGINT/SIGTERM while watching. */
extern volatile int ctl_watch_stop;
void ctl_watch_signals(void);

#endif /* JOBD_CTL_WATCH_H */
