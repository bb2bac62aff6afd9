/*
 * proto_deps.c — the submit fields of unique jobs (and, next,
 * dependencies): unique_key, unique_for.  See proto.h.
 */
#include <errno.h>

#include "proto.h"

/* unique_for: a window in seconds, as long as a timeout may be. */
#define UNIQUE_FOR_MAX PROTO_TIMEOUT_MAX

int
proto_submit_deps_parse(const json_t *o, struct proto_submit *s,
    struct proto_err *err)
{
	s->unique_key = NULL;
	s->unique_for = 0;
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
