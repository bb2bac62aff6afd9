/*
 * ops_int.h — what ops.c shares with ops_life.c (the lifecycle's ops):
 * the answer helpers and who asks.  Not for outside daemon/ops*.c.
 */
#ifndef JOBD_OPS_INT_H
#define JOBD_OPS_INT_H

#include <jansson.h>

#include "engine.h"
#include "ops.h"
#include "proto.h"
#include "store.h"

void answer_error(struct reply *r, const struct proto_req *req,
    enum proto_code code, const char *msg);
void answer_err(struct reply *r, const struct proto_req *req,
    const struct proto_err *err);
/* {"ok":true,key:val} with req's tag; val's reference is taken. */
json_t *ok_with(const struct proto_req *req, const char *key, json_t *val);
const struct eng_who *who_of(struct reply *r, struct eng_who *who);

/* ops_life.c */
void op_pause(struct ops_ctx *ctx, struct proto_req *req, struct reply *r);
void op_retry(struct ops_ctx *ctx, struct proto_req *req, struct reply *r);
void op_prune(struct ops_ctx *ctx, struct proto_req *req, struct reply *r);
/* The lifecycle's {JOB} fields of j, set into job (0, or -ENOMEM). */
int ops_job_life(json_t *job, const struct store_job *j);
/* {JOB} with "history": its attempts from job_attempts (0, or the
 * store's error). */
int ops_job_history(struct store *st, json_t *job, int64_t id);

#endif /* JOBD_OPS_INT_H */
