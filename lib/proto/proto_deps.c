/*
 * proto_deps.c — the submit fields of dependencies (after,
 * on_dependency_failure) and of unique jobs (unique_key, unique_for), and
 * the check of a group's member references (range, self, cycles).
 * See proto.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *const dep_policies[] = { "cancel", "run" };

static int
id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* One entry of after: a job id (> 0) or {"member":i} (-(i + 1)). */
static int
deps_entry(const json_t *v, size_t k, int64_t *out, struct proto_err *err)
{
	json_t *m;

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_object(v) && json_object_size(v) == 1 &&
	    (m = json_object_get(v, "member")) != NULL && json_is_integer(m) &&
	    json_integer_value(m) >= 0 &&
	    json_integer_value(m) < PROTO_GROUP_MAX) {
		*out = -(json_integer_value(m) + 1);
		return 0;
	}
	return proto_bad(err, "field \"after\": entry %zu: expected a job id "
	    "(an integer >= 1) or {\"member\":i} (i from 0)", k);
}

/* after: an array of at most PROTO_AFTER_MAX distinct entries. */
static int
deps_after(const json_t *o, struct proto_submit *s, struct proto_err *err)
{
	const json_t *a = json_object_get(o, "after");
	int64_t *sorted;
	size_t i, n;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return proto_bad(err, "field \"after\": expected an array of "
		    "job ids");
	if ((n = json_array_size(a)) > PROTO_AFTER_MAX)
		return proto_bad(err, "field \"after\": %zu entries, at most "
		    "%d", n, PROTO_AFTER_MAX);
	if (n == 0)
		return 0;
	if ((s->after = calloc(n, sizeof(*s->after))) == NULL ||
	    (sorted = calloc(n, sizeof(*sorted))) == NULL) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	s->nafter = n;
	for (i = 0; i < n; i++)
		if (deps_entry(json_array_get(a, i), i, &s->after[i],
		    err) < 0) {
			free(sorted);
			return -EINVAL;
		}
	memcpy(sorted, s->after, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), id_cmp);
	for (i = 1; i < n && sorted[i] != sorted[i - 1]; i++)
		;
	if (i < n) {
		if (sorted[i] > 0)
			proto_bad(err, "field \"after\": job %lld is listed "
			    "twice", (long long)sorted[i]);
		else
			proto_bad(err, "field \"after\": {\"member\":%lld} "
			    "is listed twice", (long long)(-sorted[i] - 1));
	}
	free(sorted);
	return i < n ? -EINVAL : 0;
}

void
proto_submit_clear(struct proto_submit *s)
{
	free(s->after);
	s->after = NULL;
	s->nafter = 0;
}

/* Depth-first search for a cycle through member references: color 0
 * unseen, 1 on the path, 2 done.  Iterative (10,000 members deep). */
static int
deps_cycle(const struct proto_submit_group *g, unsigned char *color,
    size_t *stack, size_t *pos, size_t root)
{
	size_t sp = 0, v, k;
	int64_t a;

	stack[sp] = root;
	pos[sp++] = 0;
	color[root] = 1;
	while (sp > 0) {
		v = stack[sp - 1];
		k = pos[sp - 1]++;
		if (k == g->jobs[v].nafter) {
			color[v] = 2;
			sp--;
			continue;
		}
		if ((a = g->jobs[v].after[k]) > 0)
			continue;
		a = -a - 1;
		if (color[a] == 1)
			return (int)v;
		if (color[a] == 0) {
			color[a] = 1;
			stack[sp] = (size_t)a;
			pos[sp++] = 0;
		}
	}
	return -1;
}

int
proto_group_deps_check(const struct proto_submit_group *g,
    struct proto_err *err)
{
	unsigned char *color;
	size_t *stack, *pos, i, k;
	int64_t m;
	int rc = 0, c;

	for (i = 0; i < g->njobs; i++)
		for (k = 0; k < g->jobs[i].nafter; k++) {
			if ((m = g->jobs[i].after[k]) > 0)
				continue;
			m = -m - 1;
			if ((size_t)m >= g->njobs)
				return proto_bad(err, "jobs[%zu]: field "
				    "\"after\": {\"member\":%lld} is out of "
				    "range (the group has %zu jobs)", i,
				    (long long)m, g->njobs);
			if ((size_t)m == i)
				return proto_bad(err, "jobs[%zu]: field "
				    "\"after\": a job cannot depend on itself",
				    i);
		}
	color = calloc(g->njobs, 1);
	stack = calloc(g->njobs, sizeof(*stack));
	pos = calloc(g->njobs, sizeof(*pos));
	if (color == NULL || stack == NULL || pos == NULL) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory");
		rc = -ENOMEM;
	}
	for (i = 0; rc == 0 && i < g->njobs; i++)
		if (color[i] == 0 && (c = deps_cycle(g, color, stack, pos,
		    i)) >= 0)
			rc = proto_bad(err, "jobs[%d]: field \"after\": the "
			    "member references make a cycle", c);
	free(color);
	free(stack);
	free(pos);
	return rc;
}

/* unique_for: a window in seconds, as long as a timeout may be. */
#define UNIQUE_FOR_MAX PROTO_TIMEOUT_MAX

int
proto_submit_deps_parse(const json_t *o, struct proto_submit *s,
    struct proto_err *err)
{
	int pol = 0;

	s->unique_key = NULL;
	s->unique_for = 0;
	if (deps_after(o, s, err) < 0 ||
	    proto_field_enum(o, "on_dependency_failure", PROTO_OPTIONAL,
	        dep_policies, 2, &pol, err) < 0)
		return -EINVAL;
	s->dep_run = pol == 1;
	if (proto_field_string(o, "unique_key", PROTO_OPTIONAL,
	        PROTO_UNIQUE_KEY_MAX, &s->unique_key, err) < 0 ||
	    proto_field_number(o, "unique_for", PROTO_OPTIONAL, 0,
	        UNIQUE_FOR_MAX, &s->unique_for, err) < 0)
		return -EINVAL;
	if (s->unique_key != NULL && s->unique_key[0] == '\0')
		return proto_bad(err, "field \"unique_key\": expected 1 to %d "
		    "bytes, got an empty string", PROTO_UNIQUE_KEY_MAX);
	if (s->unique_key == NULL && json_object_get(o, "unique_for") != NULL &&
	    !json_is_null(json_object_get(o, "unique_for")))
		return proto_bad(err, "field \"unique_for\": needs a "
		    "\"unique_key\"");
	return 0;
}
