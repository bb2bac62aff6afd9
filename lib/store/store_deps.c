/*
 * store_deps.c — the front's part of dependencies: the changes a write
 * makes to waiting jobs (released, cancelled down a chain), collected by
 * the backend in the write's transaction and handed to the daemon's hook
 * on the loop thread once it has committed (store.h, store_backend.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_backend.h"

int
store_chg_add(const struct store_write *w, int64_t id, enum store_state state,
    double at, const char *reason)
{
	struct store_chg *c = w->chg;
	struct store_dep_change *v;
	size_t cap;

	if (c == NULL)
		return 0;               /* a tool's write: nobody listens */
	if (c->n == c->cap) {
		cap = c->cap == 0 ? 8 : c->cap * 2;
		if ((v = realloc(c->v, cap * sizeof(*v))) == NULL)
			return store_seterr(-ENOMEM, "store: out of memory");
		c->v = v;
		c->cap = cap;
	}
	v = &c->v[c->n];
	v->id = id;
	v->state = state;
	v->at = at;
	v->reason = NULL;
	if (reason != NULL && (v->reason = strdup(reason)) == NULL)
		return store_seterr(-ENOMEM, "store: out of memory");
	c->n++;
	return 0;
}

void
store_chg_clear(struct store_chg *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].reason);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

void
store_dep_reason(char *buf, size_t len, int64_t id, enum store_state state)
{
	snprintf(buf, len, "dependency: job %lld ended %s", (long long)id,
	    store_state_name(state));
}

static int
job_id_cmp(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key;
	const struct store_job *j = *(struct store_job *const *)elem;

	return id < j->id ? -1 : id > j->id;
}

void
store_chg_patch(const struct store_write *w, struct store_recover_res *res)
{
	struct store_job **jp;

	for (size_t i = 0; w->chg != NULL && i < w->chg->n; i++)
		if ((jp = bsearch(&w->chg->v[i].id, res->jobs, res->n,
		    sizeof(*res->jobs), job_id_cmp)) != NULL) {
			(*jp)->state = w->chg->v[i].state;
			(*jp)->finished_at = w->chg->v[i].at;
		}
}
