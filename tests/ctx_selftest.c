/*
 * ctx_selftest.c — the context switch alone, with no dependency but
 * co_ctx.c and the assembly, so it also runs on other CPUs under qemu-user
 * (tests/cross-aarch64).  A plain program: exit 0 = pass.
 *
 * Checks what the ABI makes the switch responsible for: callee-saved
 * integer and floating-point registers survive (the compiler keeps live
 * values in them across the call), each context keeps its own FP rounding
 * mode, a new context starts with a 16-byte aligned stack as the ABI
 * requires at a call, and contexts interleave correctly.
 */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "co_ctx.h"

#define NCTX 4
#define ROUNDS 1000

static struct co_ctx main_ctx, ctx[NCTX];
static int turn[NCTX];
static int failures;

#define CHECK(cond, ...)                                                \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "ctx_selftest: " __VA_ARGS__);  \
			fputc('\n', stderr);                            \
			failures++;                                     \
		}                                                       \
	} while (0)

/* Keep many integer and FP values live across each switch, so the
 * compiler has to put some in callee-saved registers. */
static void __attribute__((noinline))
worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	volatile int sink = 0;
	long a = id, b = id * 3, c = id * 5, d = id * 7, e = id * 11, f = id * 13;
	double x = id + 0.5, y = id * 1.25, z = id * 2.5, w = id * 0.75;

	CHECK(sp % 16 == 0, "context %d: frame not 16-byte aligned (%#lx)",
	    id, (unsigned long)sp);
	fesetround(id % 2 ? FE_DOWNWARD : FE_UPWARD);
	for (int i = 0; i < ROUNDS; i++) {
		a += 1; b += 3; c += 5; d += 7; e += 11; f += 13;
		x += 1.0; y += 2.0; z += 3.0; w += 4.0;
		turn[id]++;
		co_ctx_switch(&ctx[id], &main_ctx);
		CHECK(fegetround() == (id % 2 ? FE_DOWNWARD : FE_UPWARD),
		    "context %d: rounding mode not kept", id);
	}
	CHECK(a == id + ROUNDS && b == id * 3 + 3L * ROUNDS &&
	    c == id * 5 + 5L * ROUNDS && d == id * 7 + 7L * ROUNDS &&
	    e == id * 11 + 11L * ROUNDS && f == id * 13 + 13L * ROUNDS,
	    "context %d: integer registers clobbered", id);
	CHECK(x == id + 0.5 + ROUNDS && y == id * 1.25 + 2.0 * ROUNDS &&
	    z == id * 2.5 + 3.0 * ROUNDS && w == id * 0.75 + 4.0 * ROUNDS,
	    "context %d: FP registers clobbered", id);
	sink = 1;
	(void)sink;
	turn[id] = -1;                          /* done */
	co_ctx_switch(&ctx[id], &main_ctx);
	abort();                                /* never resumed */
}

int
main(void)
{
	static char stacks[NCTX][64 * 1024] __attribute__((aligned(16)));
	long a = 1, b = 2, c = 3;
	double x = 0.25, y = 0.5;
	int live;

	fesetround(FE_TONEAREST);
	for (int i = 0; i < NCTX; i++)
		co_ctx_make(&ctx[i], stacks[i], sizeof(stacks[i]), worker,
		    (void *)(intptr_t)i);
	do {
		live = 0;
		for (int i = 0; i < NCTX; i++) {
			if (turn[i] < 0)
				continue;
			co_ctx_switch(&main_ctx, &ctx[i]);
			a += 2; b += 4; c += 6; x += 1.0; y += 2.0;
			CHECK(fegetround() == FE_TONEAREST,
			    "main: rounding mode of context %d leaked", i);
			live++;
		}
	} while (live > 0);
	CHECK(a == 1 + 2L * NCTX * (ROUNDS + 1) && b == 2 + 4L * NCTX * (ROUNDS + 1) &&
	    c == 3 + 6L * NCTX * (ROUNDS + 1), "main: integer registers clobbered");
	CHECK(x == 0.25 + 1.0 * NCTX * (ROUNDS + 1) &&
	    y == 0.5 + 2.0 * NCTX * (ROUNDS + 1), "main: FP registers clobbered");
	if (failures == 0)
		printf("ctx_selftest: %d contexts x %d switches: ok\n", NCTX, ROUNDS);
	return failures == 0 ? 0 : 1;
}
