/*
 * test_theap.c — the timer heap (co_theap.h): order by deadline, FIFO among
 * equal deadlines, removal from anywhere.
 */
#include <stdlib.h>

#include "co_theap.h"
#include "testutil.h"

#define N 2000

static struct co_tnode *
pop(struct co_theap *h)
{
	struct co_tnode *top = co_theap_top(h);

	if (top != NULL)
		co_theap_remove(h, top);
	return top;
}

START_TEST(test_order_and_ties)
{
	static struct co_tnode node[N];
	struct co_theap h;
	struct co_tnode *prev = NULL, *n;
	size_t popped = 0;

	co_theap_init(&h);
	ck_assert_int_eq(co_theap_reserve(&h, N), 0);
	srand(42);
	for (size_t i = 0; i < N; i++) {
		co_tnode_init(&node[i]);
		co_theap_push(&h, &node[i], (double)(rand() % 50)); /* many ties */
	}
	/* Remove every third node from the middle of the heap. */
	for (size_t i = 0; i < N; i += 3) {
		co_theap_remove(&h, &node[i]);
		ck_assert(!co_tnode_queued(&node[i]));
	}
	while ((n = pop(&h)) != NULL) {
		if (prev != NULL) {
			ck_assert(prev->when <= n->when);
			if (prev->when == n->when)
				ck_assert(prev->seq < n->seq);      /* FIFO */
		}
		prev = n;
		popped++;
	}
	ck_assert_uint_eq(popped, N - (N + 2) / 3);
	co_theap_free(&h);
}
END_TEST

START_TEST(test_remove_absent_is_noop)
{
	struct co_theap h;
	struct co_tnode a, b;

	co_theap_init(&h);
	ck_assert_int_eq(co_theap_reserve(&h, 2), 0);
	co_tnode_init(&a);
	co_tnode_init(&b);
	co_theap_remove(&h, &a);
	co_theap_push(&h, &b, 1.0);
	co_theap_remove(&h, &b);
	co_theap_remove(&h, &b);
	ck_assert_ptr_null(co_theap_top(&h));
	co_theap_free(&h);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("theap");
	TCase *tc = tcase_create("theap");

	tcase_add_test(tc, test_order_and_ties);
	tcase_add_test(tc, test_remove_absent_is_noop);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
