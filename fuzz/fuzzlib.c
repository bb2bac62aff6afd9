/*
 * fuzzlib.c — what the fuzz targets share (see fuzz.h).
 */
#include <math.h>
#include <stdio.h>

#include "fuzz.h"

const char *fuzz_input;

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property broken: %s%s%s\n", file, line, what,
	    fuzz_input ? ", input " : "", fuzz_input ? fuzz_input : "");
	abort();
}

bool
fuzz_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

bool
fuzz_same(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;
	double x, y;

	if (a == NULL || b == NULL)
		return a == b;
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, key, v)
			if (!fuzz_same(v, json_object_get(b, key)))
				return false;
		return true;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!fuzz_same(json_array_get(a, i),
			    json_array_get(b, i)))
				return false;
		return true;
	case JSON_REAL:
		x = json_real_value(a);
		y = json_real_value(b);
		return x == y || fabs(x - y) <= 1e-15 * fmax(fabs(x), fabs(y));
	default:
		return json_equal(a, b);
	}
}
