/*
 * fuzz.h — what the fuzz targets share.
 *
 * A target is a libFuzzer entry point, LLVMFuzzerTestOneInput(data, size),
 * that feeds one input through the code under test and checks properties
 * that must hold for every input; a broken one aborts, which libFuzzer
 * reports as a crash and saves the input.  tests/test_fuzz_regress.c
 * includes the targets and replays the committed corpora and regressions
 * through them in every build, so a fixed crash stays fixed.
 */
#ifndef JOBD_FUZZ_H
#define JOBD_FUZZ_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Unlike assert(), never compiled out (RelWithDebInfo sets NDEBUG). */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond))                                                 \
			fuzz_fail(__FILE__, __LINE__, #cond);                \
	} while (0)

/* The input being run, named in the failure message when a replay sets
 * it (libFuzzer saves the input itself). */
static const char *fuzz_input __attribute__((unused));

static void __attribute__((noreturn, unused))
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property broken: %s%s%s\n", file, line, what,
	    fuzz_input ? ", input " : "", fuzz_input ? fuzz_input : "");
	abort();
}

/* Is s (NUL-terminated) valid UTF-8, as jansson judges it? */
static bool __attribute__((unused))
fuzz_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Are a and b the same JSON value?  Reals too, exactly: jobd writes each
 * in its shortest round-trip form (docs/PROTOCOL.md "Times"). */
static bool __attribute__((unused))
fuzz_same(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return json_equal(a, b);
}

#endif /* JOBD_FUZZ_H */
