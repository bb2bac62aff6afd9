/*
 * ops.h — jobd's ops: one table entry per op of the wire protocol.
 *
 * ops_handle is the server's handler: it parses a request line, runs the
 * op through the table and answers.  Ops that change jobs go through the
 * engine; ops that show jobs read the store, so what they show is what is
 * committed.
 */
#ifndef JOBD_OPS_H
#define JOBD_OPS_H

#include <stddef.h>

struct co_pool;
#include <jansson.h>

struct eng;
struct reply;
struct sch;
struct srv;
struct store;

/* What the ops work on; owned by the daemon, which fills it before
 * serving and keeps it valid while the server runs. */
struct ops_ctx {
	struct eng *eng;
	struct store *st;
	struct srv *srv;        /* for stats; may be NULL */
	struct sch *sch;        /* the schedules op; may be NULL */
	double started;         /* Unix time jobd started, for stats */
	struct co_pool *reads;  /* where lists are read; NULL: the loop */
	struct watch_hub *hub;  /* for watch; NULL: watch answers internal */
};

struct proto_req;
struct store_job;

/* The stats answer (new reference, NULL on ENOMEM); req may be NULL (no
 * tag), for the HTTP pages. */
json_t *ops_stats_json(const struct ops_ctx *ctx, const struct proto_req *req);

/* A job row as the protocol shows it (new reference, NULL on ENOMEM). */
json_t *ops_job_json(const struct store_job *j);

/* The server's handler (srv_handler): arg is a struct ops_ctx. */
void ops_handle(void *arg, const char *line, size_t len, struct reply *r);

#endif /* JOBD_OPS_H */
