/*
 * idmap.c — open-addressing hash map from ids to pointers (see idmap.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "idmap.h"

#define IDMAP_MIN 64            /* slots at start; a power of two */

struct slot {
	int64_t id;             /* 0: empty */
	void *val;
};

struct idmap {
	struct slot *slots;
	size_t mask;            /* slots - 1 */
	size_t count;
};

/* Ids come out of a counter, so consecutive ones must not collide:
 * Fibonacci hashing spreads them over the table. */
static size_t
slot_of(const struct idmap *m, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 17) &
	    m->mask;
}

struct idmap *
idmap_new(void)
{
	struct idmap *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->slots = calloc(IDMAP_MIN, sizeof(*m->slots))) == NULL) {
		free(m);
		return NULL;
	}
	m->mask = IDMAP_MIN - 1;
	return m;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static void
place(struct idmap *m, int64_t id, void *val)
{
	size_t i = slot_of(m, id);

	while (m->slots[i].id != 0 && m->slots[i].id != id)
		i = (i + 1) & m->mask;
	if (m->slots[i].id == 0)
		m->count++;
	m->slots[i].id = id;
	m->slots[i].val = val;
}

static int
grow(struct idmap *m)
{
	struct slot *old = m->slots;
	size_t n = m->mask + 1, i;

	if ((m->slots = calloc(n * 2, sizeof(*m->slots))) == NULL) {
		m->slots = old;
		return -ENOMEM;
	}
	m->mask = n * 2 - 1;
	m->count = 0;
	for (i = 0; i < n; i++)
		if (old[i].id != 0)
			place(m, old[i].id, old[i].val);
	free(old);
	return 0;
}

int
idmap_put(struct idmap *m, int64_t id, void *val)
{
	if (id <= 0 || val == NULL)
		return -EINVAL;
	if ((m->count + 1) * 2 > m->mask + 1 && grow(m) < 0)
		return -ENOMEM;
	place(m, id, val);
	return 0;
}

void *
idmap_get(const struct idmap *m, int64_t id)
{
	size_t i;

	if (id <= 0)
		return NULL;
	for (i = slot_of(m, id); m->slots[i].id != 0; i = (i + 1) & m->mask)
		if (m->slots[i].id == id)
			return m->slots[i].val;
	return NULL;
}

/* Backward-shift deletion: pull later entries of the probe run into the
 * hole when their home slot allows it, so no tombstone is left behind. */
void *
idmap_del(struct idmap *m, int64_t id)
{
	size_t i, j, home;
	void *val;

	if (id <= 0)
		return NULL;
	for (i = slot_of(m, id); m->slots[i].id != id; i = (i + 1) & m->mask)
		if (m->slots[i].id == 0)
			return NULL;
	val = m->slots[i].val;
	for (j = (i + 1) & m->mask; m->slots[j].id != 0; j = (j + 1) & m->mask) {
		home = slot_of(m, m->slots[j].id);
		/* j's entry may move to i unless its home lies in (i, j]. */
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].id = 0;
	m->slots[i].val = NULL;
	m->count--;
	return val;
}

size_t
idmap_count(const struct idmap *m)
{
	return m->count;
}

int
idmap_each(const struct idmap *m, int (*fn)(void *, int64_t, void *),
    void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i <= m->mask; i++)
		if (m->slots[i].id != 0 &&
		    (rc = fn(arg, m->slots[i].id, m->slots[i].val)) != 0)
			return rc;
	return 0;
}
