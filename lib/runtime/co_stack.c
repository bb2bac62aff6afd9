/*
 * co_stack.c — stack slots in arenas, guard pages, the overflow reporter.
 *
 * Arena layout, low to high addresses: [guard][stack][guard][stack]...
 * Stacks grow down, so each stack's guard sits just below it.  The guard is
 * 64 KiB, not one page: our code is built with -fstack-clash-protection,
 * but glibc's is not, and some of its functions (strtold, printf's
 * internals) open 13–33 KiB frames that would hop a single page and land in
 * the next stack down — on the task record at its top.  A guard costs
 * address space only: one MADV_GUARD_INSTALL or one mprotect range per
 * stack, whatever its size.
 *
 * Free stacks are kept LIFO (the most recently used, still cache- and
 * TLB-warm, goes out first).  Only the top `keep` of them stay resident: as
 * more are returned, the oldest beyond that window has its pages dropped
 * with MADV_DONTNEED, so a burst of 100,000 tasks does not pin its memory
 * forever and the next spawn still gets a warm stack.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "co_stack.h"
#include "log.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102          /* Linux 6.13 */
#endif

/* An arena is at least this big, so the map count stays low even with the
 * mprotect fallback's two entries per stack. */
#define ARENA_MIN_BYTES (4u << 20)
#define ARENA_MIN_SLOTS 16

/* Below every stack; see the top of the file. */
#define GUARD_BYTES (64u * 1024)

struct co_stack_pool {
	size_t page;             /* system page size */
	size_t stack_size;       /* usable bytes per slot */
	size_t guard;            /* guard bytes below each stack */
	size_t slot_size;        /* guard + stack */
	size_t arena_slots;
	size_t keep;
	void **free;             /* LIFO of free stack bases */
	size_t nfree, free_cap;
	size_t ncold;            /* free[0, ncold) have had their pages dropped */
	void **arenas;
	size_t narenas, arenas_cap;
	size_t total;
	bool guard_madvise;      /* last arena used MADV_GUARD_INSTALL */
};

/* -1 unknown, 0 no, 1 yes: whether this kernel has MADV_GUARD_INSTALL. */
static int guard_madvise_ok = -1;

struct co_stack_pool *
co_stack_pool_new(size_t stack_size, size_t keep)
{
	struct co_stack_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	p->stack_size = (stack_size + p->page - 1) & ~(p->page - 1);
	if (p->stack_size < 4 * p->page)
		p->stack_size = 4 * p->page;
	p->guard = GUARD_BYTES > p->page ? GUARD_BYTES : p->page;
	p->slot_size = p->stack_size + p->guard;
	p->arena_slots = ARENA_MIN_BYTES / p->slot_size;
	if (p->arena_slots < ARENA_MIN_SLOTS)
		p->arena_slots = ARENA_MIN_SLOTS;
	p->keep = keep;
	/* JOBD_STACK_GUARD=mprotect forces the pre-6.13 way, to measure and
	 * test it on any kernel. */
	const char *g = getenv("JOBD_STACK_GUARD");
	if (g != NULL && strcmp(g, "mprotect") == 0)
		guard_madvise_ok = 0;
	return p;
}

void
co_stack_pool_free(struct co_stack_pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->narenas; i++)
		munmap(p->arenas[i], p->arena_slots * p->slot_size);
	free(p->arenas);
	free(p->free);
	free(p);
}

/* Make the first page of every slot a guard page. */
static int
arena_guard(struct co_stack_pool *p, char *arena)
{
	for (size_t i = 0; i < p->arena_slots; i++) {
		char *g = arena + i * p->slot_size;

		if (guard_madvise_ok != 0 &&
		    madvise(g, p->guard, MADV_GUARD_INSTALL) == 0) {
			guard_madvise_ok = 1;
			continue;
		}
		if (guard_madvise_ok == 1)
			return -errno;
		guard_madvise_ok = 0;
		if (mprotect(g, p->guard, PROT_NONE) == -1)
			return -errno;
	}
	p->guard_madvise = guard_madvise_ok == 1;
	return 0;
}

static int
grow(void ***v, size_t *cap, size_t need)
{
	void **n;
	size_t ncap = *cap ? *cap * 2 : 64;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if ((n = realloc(*v, ncap * sizeof(*n))) == NULL)
		return -ENOMEM;
	*v = n;
	*cap = ncap;
	return 0;
}

static void
map_count_hint(void)
{
	static bool said;

	if (said)
		return;
	said = true;
	log_warnx("cannot map more coroutine stacks: vm.max_map_count reached "
	    "(each stack costs 2 map entries on kernels before 6.13); raise it, "
	    "e.g. sysctl vm.max_map_count=262144");
}

static int
arena_add(struct co_stack_pool *p)
{
	size_t len = p->arena_slots * p->slot_size;
	char *a;
	int rc;

	if (grow(&p->arenas, &p->arenas_cap, p->narenas + 1) < 0 ||
	    grow(&p->free, &p->free_cap, p->total + p->arena_slots) < 0)
		return -ENOMEM;
	a = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return -ENOMEM;
	(void)madvise(a, len, MADV_NOHUGEPAGE);  /* best effort */
	if ((rc = arena_guard(p, a)) < 0) {
		munmap(a, len);
		if (rc == -ENOMEM)
			map_count_hint();
		return -ENOMEM;
	}
	p->arenas[p->narenas++] = a;
	/* Push in reverse so the lowest slot is handed out first. */
	/* Fresh slots go on top: never touched, they cost nothing resident
	 * until used, like cold ones. */
	for (size_t i = p->arena_slots; i-- > 0;)
		p->free[p->nfree++] = a + i * p->slot_size + p->guard;
	p->total += p->arena_slots;
	return 0;
}

int
co_stack_get(struct co_stack_pool *p, struct co_stack *st)
{
	int rc;

	if (p->nfree == 0 && (rc = arena_add(p)) < 0)
		return rc;
	st->base = p->free[--p->nfree];
	if (p->ncold > p->nfree)
		p->ncold = p->nfree;            /* took a cold one */
	st->size = p->stack_size;
	st->guard = p->guard;
	st->vg_id = VALGRIND_STACK_REGISTER(st->base,
	    (char *)st->base + st->size);
	return 0;
}

void
co_stack_put(struct co_stack_pool *p, const struct co_stack *st)
{
	VALGRIND_STACK_DEREGISTER(st->vg_id);
	p->free[p->nfree++] = st->base;         /* capacity reserved at map */
	/* Keep the top `keep` resident; drop the one that falls out. */
	if (p->nfree - p->ncold > p->keep) {
		(void)madvise(p->free[p->ncold], p->stack_size, MADV_DONTNEED);
		p->ncold++;
	}
}

void
co_stack_pool_stats(const struct co_stack_pool *p, struct co_stack_pool_stats *st)
{
	st->total = p->total;
	st->free = p->nfree;
	st->arenas = p->narenas;
	st->guard_madvise = p->guard_madvise;
}

/* ---- the overflow reporter ------------------------------------------------ */

/* The stack running on this thread; read by the signal handler. */
static __thread const struct co_stack *running_stack
    __attribute__((tls_model("initial-exec")));
static struct sigaction old_segv, old_bus;
static pthread_once_t reporter_once = PTHREAD_ONCE_INIT;
static int reporter_err;

void
co_stack_set_running(const struct co_stack *st)
{
	running_stack = st;
}

/* Async-signal-safe hex formatting into buf (at least 19 bytes). */
static size_t
fmt_hex(char *buf, uintptr_t v)
{
	char tmp[16];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	buf[i++] = '0';
	buf[i++] = 'x';
	while (n > 0)
		buf[i++] = tmp[--n];
	return i;
}

static void
say(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void
report_overflow(uintptr_t addr, const struct co_stack *st)
{
	static const char a[] = "libjobd: coroutine stack overflow: fault at ";
	static const char b[] = " in the guard page of stack ";
	static const char c[] = " (raise co_rt_opts.stack_size)\n";
	char buf[24];

	say(a, sizeof(a) - 1);
	say(buf, fmt_hex(buf, addr));
	say(b, sizeof(b) - 1);
	say(buf, fmt_hex(buf, (uintptr_t)st->base));
	say(c, sizeof(c) - 1);
}

/* A signal that is not a guard-page hit goes to whoever had it before, as
 * they asked for it.  We stay installed (a previous handler that survives
 * its fault must not cost us the overflow report), and a signal sent by
 * kill(2), which has no faulting instruction to re-run, is not lost. */
static void
chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, si, uc);
	} else if (old->sa_handler == SIG_IGN) {
		return;
	} else if (old->sa_handler == SIG_DFL) {
		signal(sig, SIG_DFL);
		raise(sig);             /* SA_NODEFER: delivered at once */
	} else {
		old->sa_handler(sig);
	}
}

static void
reporter_handler(int sig, siginfo_t *si, void *uc)
{
	const struct co_stack *st = running_stack;
	uintptr_t addr = (uintptr_t)si->si_addr;
	int saved = errno;

	if (st != NULL && si->si_code > 0 &&
	    addr >= (uintptr_t)st->base - st->guard && addr < (uintptr_t)st->base) {
		report_overflow(addr, st);
		signal(sig, SIG_DFL);           /* re-fault: core dump */
	} else {
		chain(sig, si, uc);
	}
	errno = saved;
}

static void
reporter_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = reporter_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) == -1)
		reporter_err = -errno;
	else if (sigaction(SIGBUS, &sa, &old_bus) == -1) {
		reporter_err = -errno;
		sigaction(SIGSEGV, &old_segv, NULL);    /* all or nothing */
	}
}

/* Alternate signal stack of this thread.  Never freed: the kernel may
 * still deliver on it until the thread ends, and threads that run
 * runtimes live as long as the program. */
static __thread void *altstack;

int
co_stack_reporter_init(void)
{
	stack_t ss, old;
	size_t len = 64 * 1024;

	pthread_once(&reporter_once, reporter_install);
	if (reporter_err < 0)
		return reporter_err;
	if (altstack != NULL)
		return 0;
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE) &&
	    old.ss_size >= (size_t)MINSIGSTKSZ)
		return 0;               /* someone (e.g. ASan) set one up */
	if ((altstack = malloc(len)) == NULL)
		return -ENOMEM;
	ss.ss_sp = altstack;
	ss.ss_size = len;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) == -1) {
		free(altstack);
		altstack = NULL;
		return -errno;
	}
	return 0;
}
