/*
 * obs.h — observability, wired: the counters, the event hub and the HTTP
 * listener, and the pages' view of the daemon.
 *
 * jobd makes one obs at start (always: the watch op works with the HTTP
 * listener off), hands its counters and hub to the engine (eng_observe)
 * and its hub to the ops, and opens the listener when http_listen is set.
 */
#ifndef JOBD_OBS_H
#define JOBD_OBS_H

struct event_base;
struct met;
struct obs;
struct ops_ctx;
struct watch_hub;

/* NULL (ENOMEM). */
struct obs *obs_new(void);

/* Listen on addr ("HOST:PORT") showing what ctx reaches (borrowed; it
 * must outlive o).  0 or a negative errno with *what saying why. */
int obs_listen(struct obs *o, struct event_base *base, const char *addr,
    const struct ops_ctx *ctx, const char **what);

struct met *obs_met(const struct obs *o);
struct watch_hub *obs_hub(const struct obs *o);

/* The HTTP port, or -1 when not listening. */
int obs_port(const struct obs *o);

/* Close the listener (before the engine and the server go): its pages
 * read them. */
void obs_close(struct obs *o);

/* Free everything; after eng_free and srv_close_all (no watcher left).
 * NULL is a no-op. */
void obs_free(struct obs *o);

#endif /* JOBD_OBS_H */
