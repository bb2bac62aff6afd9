/*
 * fuzz.h — what the fuzz targets share.
 *
 * A target is a libFuzzer entry point, LLVMFuzzerTestOneInput(data, size),
 * that feeds one input through the code under test and checks properties
 * that must hold for every input; a broken one aborts, which libFuzzer
 * reports as a crash and saves the input.  Each target is a function
 * fuzz_NAME_one in fuzz/fuzz_NAME.c; fuzz/main.c makes it a libFuzzer
 * program, and tests/test_fuzz_regress.c links the same code and replays
 * the committed corpora and regressions through it in every build, so a
 * fixed crash stays fixed.
 */
#ifndef JOBD_FUZZ_H
#define JOBD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Unlike assert(), never compiled out (RelWithDebInfo sets NDEBUG). */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond))                                                 \
			fuzz_fail(__FILE__, __LINE__, #cond);                \
	} while (0)

/* The targets, one per fuzz/fuzz_NAME.c: feed one input through, abort
 * (via FUZZ_CHECK) when a property breaks; always 0. */
int fuzz_request_one(const uint8_t *data, size_t size);
int fuzz_answer_one(const uint8_t *data, size_t size);
int fuzz_submit_one(const uint8_t *data, size_t size);

/* The input being run, named in the failure message when a replay sets
 * it (libFuzzer saves the input itself). */
extern const char *fuzz_input;

/* Print where property what broke, and abort. */
void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* Is s (NUL-terminated) valid UTF-8, as jansson judges it? */
bool fuzz_utf8(const char *s);

/* Are a and b the same JSON value?  Reals too, exactly: jobd writes each
 * in its shortest round-trip form (docs/PROTOCOL.md "Times"). */
bool fuzz_same(const json_t *a, const json_t *b);

#endif /* JOBD_FUZZ_H */
