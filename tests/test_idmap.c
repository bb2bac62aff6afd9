/*
 * test_idmap.c — the id → pointer hash map (idmap.h): put, get, del,
 * replace, growth, backward-shift deletion checked against a plain array
 * over a long random run, idmap_each, and the ids and values it refuses.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "idmap.h"
#include "testutil.h"

/* Check's ck_assert_* writes a mark point (a write(2)) on every call; the
 * loops below make millions of checks, so they test with plain C and only
 * call into Check on a failure. */
#define CHECK_EQ(got, want)                                                 \
	do {                                                                 \
		long long g_ = (long long)(got), w_ = (long long)(want);     \
		if (g_ != w_)                                                \
			ck_abort_msg("%s:%d: %s is %lld, expected %lld",     \
			    __FILE__, __LINE__, #got, g_, w_);               \
	} while (0)

/* A value that says which id it belongs to. */
#define VAL(id)         ((void *)(uintptr_t)((uint64_t)(id) * 8 + 8))

START_TEST(test_put_get_del)
{
	struct idmap *m = idmap_new();
	int a, b;

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(idmap_count(m), 0);
	ck_assert_ptr_null(idmap_get(m, 1));
	ck_assert_ptr_null(idmap_del(m, 1));
	ck_assert_int_eq(idmap_put(m, 1, &a), 0);
	ck_assert_int_eq(idmap_put(m, 2, &b), 0);
	ck_assert_uint_eq(idmap_count(m), 2);
	ck_assert_ptr_eq(idmap_get(m, 1), &a);
	ck_assert_ptr_eq(idmap_get(m, 2), &b);
	ck_assert_ptr_null(idmap_get(m, 3));
	ck_assert_ptr_eq(idmap_del(m, 1), &a);
	ck_assert_ptr_null(idmap_get(m, 1));
	ck_assert_ptr_null(idmap_del(m, 1));            /* gone already */
	ck_assert_uint_eq(idmap_count(m), 1);
	ck_assert_ptr_eq(idmap_get(m, 2), &b);
	idmap_free(m);
	idmap_free(NULL);
}
END_TEST

START_TEST(test_replace_keeps_count)
{
	struct idmap *m = idmap_new();
	int a, b;

	ck_assert_int_eq(idmap_put(m, 42, &a), 0);
	ck_assert_int_eq(idmap_put(m, 42, &b), 0);
	ck_assert_uint_eq(idmap_count(m), 1);
	ck_assert_ptr_eq(idmap_get(m, 42), &b);
	ck_assert_ptr_eq(idmap_del(m, 42), &b);
	ck_assert_uint_eq(idmap_count(m), 0);
	idmap_free(m);
}
END_TEST

START_TEST(test_bad_ids_and_values)
{
	struct idmap *m = idmap_new();
	int a;

	ck_assert_int_eq(idmap_put(m, 0, &a), -EINVAL);
	ck_assert_int_eq(idmap_put(m, -1, &a), -EINVAL);
	ck_assert_int_eq(idmap_put(m, INT64_MIN, &a), -EINVAL);
	ck_assert_int_eq(idmap_put(m, 5, NULL), -EINVAL);
	ck_assert_uint_eq(idmap_count(m), 0);
	ck_assert_ptr_null(idmap_get(m, 0));
	ck_assert_ptr_null(idmap_get(m, -7));
	ck_assert_ptr_null(idmap_del(m, 0));
	ck_assert_ptr_null(idmap_del(m, -7));
	ck_assert_ptr_null(idmap_get(m, 5));
	/* The extremes that are allowed work. */
	ck_assert_int_eq(idmap_put(m, INT64_MAX, &a), 0);
	ck_assert_ptr_eq(idmap_get(m, INT64_MAX), &a);
	ck_assert_ptr_eq(idmap_del(m, INT64_MAX), &a);
	idmap_free(m);
}
END_TEST

/* Consecutive ids (as the store hands them out), then sparse ones, well
 * past the start size: every one is found after the table grew. */
START_TEST(test_growth)
{
	struct idmap *m = idmap_new();
	const int64_t n = 100000;
	int64_t id;

	for (id = 1; id <= n; id++)
		CHECK_EQ(idmap_put(m, id, VAL(id)), 0);
	for (id = 1; id <= n; id++)
		CHECK_EQ(idmap_put(m, id * 1000003 + n,
		    VAL(id * 1000003 + n)), 0);
	CHECK_EQ(idmap_count(m), 2 * n);
	for (id = 1; id <= n; id++) {
		CHECK_EQ(idmap_get(m, id), VAL(id));
		CHECK_EQ(idmap_get(m, id * 1000003 + n),
		    VAL(id * 1000003 + n));
	}
	CHECK_EQ(idmap_get(m, n + 1), 0);
	/* Emptied whole, it is empty and still works. */
	for (id = 1; id <= n; id++) {
		CHECK_EQ(idmap_del(m, id), VAL(id));
		CHECK_EQ(idmap_del(m, id * 1000003 + n),
		    VAL(id * 1000003 + n));
	}
	CHECK_EQ(idmap_count(m), 0);
	CHECK_EQ(idmap_get(m, 1), 0);
	CHECK_EQ(idmap_put(m, 7, VAL(7)), 0);
	CHECK_EQ(idmap_get(m, 7), VAL(7));
	idmap_free(m);
}
END_TEST

/* Deterministic splitmix64, so a failure reproduces.  (Not a bare
 * xorshift: the low bits of its consecutive outputs are linearly tied, so
 * "which id" would decide "which operation".) */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Random puts, replaces and deletes over a pool of random ids (random, so
 * home slots collide and probe runs grow long and wrap around the table
 * end), checked against an array after every step; a full scan now and
 * then catches an entry cut off its probe chain by a deletion even when
 * no later get happened to hit it.  (Consecutive ids hash almost without
 * collisions, so they alone would not exercise the backward shift.)
 */
#define POOL            4096
#define RANDOM_OPS      200000

START_TEST(test_random_against_array)
{
	static int64_t ids[POOL];
	static void *ref[POOL];
	struct idmap *m = idmap_new();
	size_t count = 0, op, i, k;
	void *v;

	rng_state = 0x2545f4914f6cdd1dull;
	for (i = 0; i < POOL; i++) {
		ids[i] = (int64_t)(rng() >> 1) | 1;
		ref[i] = NULL;
	}
	for (op = 0; op < RANDOM_OPS; op++) {
		i = rng() % POOL;
		switch (rng() % 8) {
		case 0: case 1: case 2:         /* put or replace */
			v = (void *)(uintptr_t)((rng() | 1) << 3);
			CHECK_EQ(idmap_put(m, ids[i], v), 0);
			count += ref[i] == NULL;
			ref[i] = v;
			break;
		case 3: case 4: case 5:         /* delete */
			CHECK_EQ(idmap_del(m, ids[i]), ref[i]);
			count -= ref[i] != NULL;
			ref[i] = NULL;
			break;
		default:                        /* look up */
			CHECK_EQ(idmap_get(m, ids[i]), ref[i]);
			break;
		}
		CHECK_EQ(idmap_count(m), count);
		if (op % 5000 == 0)
			for (k = 0; k < POOL; k++)
				CHECK_EQ(idmap_get(m, ids[k]), ref[k]);
	}
	for (k = 0; k < POOL; k++)
		CHECK_EQ(idmap_get(m, ids[k]), ref[k]);
	idmap_free(m);
}
END_TEST

/* The daemon's pattern: ids only grow, jobs end in any order.  A window
 * of live ids slides forward for a long time; the map stays small and
 * every live id stays findable. */
START_TEST(test_sliding_window)
{
	enum { WINDOW = 2000, TOTAL = 200000 };
	static bool live[TOTAL + 1];
	struct idmap *m = idmap_new();
	int64_t next = 1, oldest = 1, id;
	size_t count = 0;

	rng_state = 0x9e3779b97f4a7c15ull;
	while (next <= TOTAL) {
		if (count < WINDOW && rng() % 3 != 0) {
			CHECK_EQ(idmap_put(m, next, VAL(next)), 0);
			live[next++] = true;
			count++;
		} else if (count > 0) {
			/* End a random live job among the oldest WINDOW ids. */
			id = oldest + (int64_t)(rng() % (uint64_t)(next - oldest));
			if (live[id]) {
				CHECK_EQ(idmap_del(m, id), VAL(id));
				live[id] = false;
				count--;
			} else {
				CHECK_EQ(idmap_del(m, id), 0);
			}
			while (oldest < next && !live[oldest])
				oldest++;
		}
		CHECK_EQ(idmap_count(m), count);
	}
	for (id = 1; id <= TOTAL; id++)
		CHECK_EQ(idmap_get(m, id), live[id] ? VAL(id) : NULL);
	idmap_free(m);
}
END_TEST

/* ---- idmap_each ---------------------------------------------------------- */

struct visit {
	int64_t sum;
	size_t n, stop_at;
	int bad;
};

static int
visit(void *arg, int64_t id, void *val)
{
	struct visit *v = arg;

	if (val != VAL(id))
		v->bad++;
	v->sum += id;
	if (++v->n == v->stop_at)
		return 7;
	return 0;
}

START_TEST(test_each)
{
	struct idmap *m = idmap_new();
	struct visit v = { 0 };
	int64_t id;

	ck_assert_int_eq(idmap_each(m, visit, &v), 0);  /* empty: no call */
	ck_assert_uint_eq(v.n, 0);
	for (id = 1; id <= 1000; id++)
		ck_assert_int_eq(idmap_put(m, id, VAL(id)), 0);
	for (id = 2; id <= 1000; id += 2)
		ck_assert_ptr_eq(idmap_del(m, id), VAL(id));
	ck_assert_int_eq(idmap_each(m, visit, &v), 0);
	ck_assert_uint_eq(v.n, 500);                    /* each once */
	ck_assert_int_eq(v.sum, 500 * 500);             /* 1 + 3 + ... + 999 */
	ck_assert_int_eq(v.bad, 0);
	/* A non-zero return stops the walk and is passed back. */
	v = (struct visit){ .stop_at = 10 };
	ck_assert_int_eq(idmap_each(m, visit, &v), 7);
	ck_assert_uint_eq(v.n, 10);
	idmap_free(m);
}
END_TEST

static Suite *
idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("idmap");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_put_get_del);
	tcase_add_test(tc, test_replace_keeps_count);
	tcase_add_test(tc, test_bad_ids_and_values);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_random_against_array);
	tcase_add_test(tc, test_sliding_window);
	tcase_add_test(tc, test_each);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(idmap_suite());
}
