/*
 * store_front.h — the front's own types, shared by store.c and
 * store_merge.c (nothing else includes this).
 */
#ifndef JOBD_STORE_FRONT_H
#define JOBD_STORE_FRONT_H

#include <stdbool.h>
#include <sys/queue.h>

#include "store.h"
#include "store_backend.h"

/* One queued write: the front's part, then what the backend applies, then
 * (one allocation) the write's strings and arrays. */
struct store_req {
	STAILQ_ENTRY(store_req) link;
	store_cb cb;
	void *arg;
	size_t rows;                    /* rows it writes, for batch_max */
	int status;                     /* from apply, or the transaction's */
	char *errmsg;                   /* malloc'ed message when status < 0 */
	/* Set by store_merge for one batch: this end carries its job's
	 * start, which is `absorbed` (not applied, completes with it). */
	struct store_req *start;
	bool absorbed;
	struct store_chg chg;           /* its changes of waiting jobs */
	void *owned;                    /* freed with it (a group's rows) */
	struct store_write w;
};

STAILQ_HEAD(wlist, store_req);

/* In a batch about to be applied, merge each job's start with its end
 * later in the same batch (store_merge.c): the end gets the start's time
 * and its `start`, the start is marked absorbed.  A start with any other
 * write of its job in between stays alone.  Returns how many merged;
 * merges none without memory for its table (it is only an optimisation). */
size_t store_merge(struct wlist *batch);

#endif /* JOBD_STORE_FRONT_H */
