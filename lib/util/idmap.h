/*
 * idmap.h — a hash map from positive 64-bit ids to pointers.
 *
 * jobd keeps every job and group it is working on in one of these, keyed
 * by the id the store gave it.  Open addressing with linear probing and
 * backward-shift deletion (no tombstones), so lookups stay short however
 * many inserts and removals a long-running daemon does; the table doubles
 * at 50 % load and never shrinks below its start size.
 */
#ifndef JOBD_IDMAP_H
#define JOBD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap;

/* A new empty map, or NULL (ENOMEM). */
struct idmap *idmap_new(void);

/* Free the map, not the values.  NULL is a no-op. */
void idmap_free(struct idmap *m);

/* Map id (> 0) to val (not NULL), replacing any value it had.  0, -EINVAL
 * for a bad id or value, -ENOMEM (then the map is unchanged). */
int idmap_put(struct idmap *m, int64_t id, void *val);

/* The value of id, or NULL. */
void *idmap_get(const struct idmap *m, int64_t id);

/* Remove id; returns its value, or NULL if it was not there. */
void *idmap_del(struct idmap *m, int64_t id);

/* Number of entries. */
size_t idmap_count(const struct idmap *m);

/* Visit every entry (in no particular order) until fn returns non-zero,
 * which is then returned.  fn must not change the map. */
int idmap_each(const struct idmap *m, int (*fn)(void *arg, int64_t id,
    void *val), void *arg);

#endif /* JOBD_IDMAP_H */
