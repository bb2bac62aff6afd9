/*
 * fuzzlib.c — what the fuzz targets share (see fuzz.h).
 */
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
	if (a == NULL || b == NULL)
		return a == b;
	return json_equal(a, b);
}
