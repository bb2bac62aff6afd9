/*
 * test_utf8.c — bytes as JSON text (utf8.h): well-formed input kept as is,
 * each ill-formed piece and each NUL replaced by one U+FFFD, a character
 * split by a cap dropped, the cap kept after replacements.
 */
#include <string.h>

#include <check.h>

#include "testutil.h"
#include "utf8.h"

#define R "\xef\xbf\xbd"

/* utf8_json of in (n bytes) must give want; *trunc says what it set. */
static void
expect(const char *in, size_t n, bool cut, size_t cap, const char *want,
    bool trunc)
{
	bool t = false;
	json_t *v = utf8_json(in, n, cut, cap, &t), *again;

	ck_assert_ptr_nonnull(v);
	ck_assert_msg(json_string_length(v) == strlen(want) &&
	    memcmp(json_string_value(v), want, strlen(want)) == 0,
	    "got \"%s\", want \"%s\"", json_string_value(v), want);
	ck_assert_int_eq(t, trunc);
	/* jansson takes it as a checked string: valid UTF-8, no NUL. */
	ck_assert_ptr_nonnull(again = json_string(json_string_value(v)));
	ck_assert(json_equal(again, v));
	json_decref(again);
	json_decref(v);
}

#define X(in, want) expect(in, sizeof(in) - 1, false, 1000, want, false)

START_TEST(test_clean_kept)
{
	X("", "");
	X("plain ascii\n\t~", "plain ascii\n\t~");
	X("\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
	    "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	X("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80");
}
END_TEST

START_TEST(test_replaced)
{
	X("a\xff" "b", "a" R "b");
	X("a\0b", "a" R "b");
	X("\x80\xbf", R R);                     /* lone continuations */
	X("\xc0\xaf", R R);                     /* overlong 2-byte */
	X("\xe0\x80\xaf", R R R);               /* overlong 3-byte */
	X("\xed\xa0\x80", R R R);               /* surrogate */
	X("\xf4\x90\x80\x80", R R R R);         /* past U+10FFFF */
	X("\xf5\x80", R R);
	X("\xe2\x82x", R "x");                  /* one maximal subpart */
	X("\xf0\x9f\x98x", R "x");
	X("ok\xe2\x82", "ok" R);                /* stream ended mid-char */
}
END_TEST

START_TEST(test_cut_and_cap)
{
	/* A cap split the last character: dropped, not replaced. */
	expect("ab\xe2\x98", 4, true, 4, "ab", false);
	expect("ab\xf0", 3, true, 3, "ab", false);
	/* ... but an ill-formed end is still replaced. */
	expect("ab\xff", 3, true, 100, "ab" R, false);
	/* Replacements count against the cap, cut at a boundary. */
	expect("\xff\xff\xff\xff", 4, false, 8, R R, true);
	expect("\xff\xff", 2, false, 6, R R, false);
	expect("a\xff" "bcd", 5, false, 5, "a" R "b", true);
	/* Longer than the cap: cut first. */
	expect("abcdef", 6, false, 4, "abcd", true);
	expect("abc\xe2\x98\x83", 6, false, 4, "abc", true);
	expect("x", 1, false, 0, "", true);
}
END_TEST

START_TEST(test_prefix)
{
	ck_assert_uint_eq(utf8_prefix("abc", 10), 3);
	ck_assert_uint_eq(utf8_prefix("abc", 2), 2);
	ck_assert_uint_eq(utf8_prefix("a\xe2\x98\x83", 3), 1);
	ck_assert_uint_eq(utf8_prefix("a\xe2\x98\x83", 4), 4);
	ck_assert_uint_eq(utf8_prefix("a\xffz", 10), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("utf8");

	tcase_add_test(tc, test_clean_kept);
	tcase_add_test(tc, test_replaced);
	tcase_add_test(tc, test_cut_and_cap);
	tcase_add_test(tc, test_prefix);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
