/*
 * test_fuzz_regress.c — the fuzz targets (fuzz/) replayed in every build.
 *
 * This suite links the targets' code (jobd_fuzz: fuzz_request_one,
 * fuzz_answer_one and fuzz_submit_one), so it runs exactly the code and
 * the properties libFuzzer runs, with gcc, under valgrind and
 * ThreadSanitizer too.  It
 * replays every file of the seed corpora (fuzz/corpus/NAME/) and of
 * fuzz/regressions/NAME/ (each one an input that once broke something:
 * kept so that it stays fixed), then inputs longer than the fuzzer's 4 KiB
 * (deep nesting, the largest group).  A broken property aborts: the test
 * fails in fork mode, and the message names the input.
 */
#include <dirent.h>
#include <errno.h>

#include "fuzz.h"
#include "proto.h"
#include "testutil.h"

typedef int fuzz_fn(const uint8_t *data, size_t size);

/* The directories under fuzz/ and the target each goes through.  A
 * corpus must hold something; a regressions directory may be empty. */
static const struct {
	const char *dir;
	fuzz_fn *fn;
	bool must_have;
} sets[] = {
	{ "corpus/request", fuzz_request_one, true },
	{ "regressions/request", fuzz_request_one, false },
	{ "corpus/answer", fuzz_answer_one, true },
	{ "regressions/answer", fuzz_answer_one, false },
	{ "corpus/submit", fuzz_submit_one, true },
	{ "regressions/submit", fuzz_submit_one, false },
};

#define NSETS (sizeof(sets) / sizeof(sets[0]))

/* fuzz/rel in the source tree (this file is tests/test_fuzz_regress.c). */
static void
fuzz_path(char *out, size_t len, const char *rel)
{
	const char *me = __FILE__, *s = strstr(me, "tests/test_fuzz_regress.c");

	ck_assert_msg(me[0] == '/' && s != NULL, "__FILE__ is %s", me);
	snprintf(out, len, "%.*sfuzz/%s", (int)(s - me), me, rel);
}

/* Run the file at path through fn. */
static void
replay_file(const char *path, fuzz_fn *fn)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(len + 1);          /* + 1: malloc(0) may be NULL */
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, len, f);
	ck_assert_uint_eq(n, len);
	fclose(f);
	fuzz_input = path;
	fn((const uint8_t *)buf, len);
	fuzz_input = NULL;
	free(buf);
}

/* Replay every file of fuzz/rel; returns how many.  A missing directory
 * counts as empty. */
static size_t
replay_dir(const char *rel, fuzz_fn *fn)
{
	char dir[4096], path[4352];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	fuzz_path(dir, sizeof(dir), rel);
	if ((d = opendir(dir)) == NULL) {
		ck_assert_msg(errno == ENOENT, "%s: %s", dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		replay_file(path, fn);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(test_replay)
{
	size_t n = replay_dir(sets[_i].dir, sets[_i].fn);

	if (sets[_i].must_have)
		ck_assert_msg(n > 0, "fuzz/%s is empty", sets[_i].dir);
}
END_TEST

/* head, then n copies of s, then tail; the caller frees it. */
static char *
repeat(const char *head, const char *s, size_t n, const char *tail)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	fputs(head, f);
	for (size_t i = 0; i < n; i++)
		fputs(s, f);
	fputs(tail, f);
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

/* Run head, depth nested arrays, tail through fn. */
static void
run_nested(fuzz_fn *fn, const char *head, size_t depth, const char *tail)
{
	char *close = repeat("", "]", depth, tail);
	char *text = repeat(head, "[", depth, close);

	fn((const uint8_t *)text, strlen(text));
	free(text);
	free(close);
}

/* Nesting at and past every bound: the request's 32 levels, and jansson's
 * 2048 for the answer printers, which recurse. */
START_TEST(test_deep)
{
	static const size_t depths[] = { 30, 31, 32, 2046, 2047, 2048, 100000 };

	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		run_nested(fuzz_request_one, "{\"op\":\"ping\",\"tag\":",
		    depths[i], "}");
		run_nested(fuzz_answer_one, "{\"ok\":true,\"job\":{\"id\":1,"
		    "\"args\":", depths[i], "}}");
	}
}
END_TEST

/* The largest group (every job through every kind), and one more. */
START_TEST(test_big_group)
{
	const char *job = "{\"kind\":\"sleep\",\"args\":{\"seconds\":0.5}},";
	char *text;

	for (size_t n = PROTO_GROUP_MAX - 1; n <= PROTO_GROUP_MAX; n++) {
		text = repeat("{\"op\":\"submit_group\",\"jobs\":[", job, n,
		    "{\"kind\":\"sleep\",\"args\":{}}]}");
		fuzz_request_one((const uint8_t *)text, strlen(text));
		free(text);
	}
}
END_TEST

static Suite *
fuzz_regress_suite(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_replay, 0, NSETS);
	tcase_add_test(tc, test_deep);
	tcase_add_test(tc, test_big_group);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(fuzz_regress_suite());
}
