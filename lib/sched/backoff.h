/*
 * backoff.h — how long a failed job waits before its next retry.
 *
 * The contract's rules as pure functions: retry k (1 for the first) waits
 * delay * 2^(k-1) ("exponential", the default) or delay ("fixed"), never
 * more than max_delay; the wait actually used is that times a random
 * factor in [0.5, 1.0] (jitter, so jobs that failed together do not all
 * come back together); an http Retry-After raises it to at least that
 * many seconds, still capped by max_delay.  The random source is a
 * parameter so tests can pin it.
 */
#ifndef JOBD_BACKOFF_H
#define JOBD_BACKOFF_H

#include <stddef.h>

enum backoff_mode {
	BACKOFF_EXPONENTIAL,
	BACKOFF_FIXED,
};

/* A job's (or a queue's) retry policy.  Defaults: 1 s, 3600 s,
 * exponential (BACKOFF_DEFAULT). */
struct backoff {
	double delay;           /* retry_delay, s: finite, > 0 */
	double max_delay;       /* retry_max_delay, s: finite, > 0 */
	enum backoff_mode mode; /* retry_backoff */
};

#define BACKOFF_DEFAULT { 1.0, 3600.0, BACKOFF_EXPONENTIAL }

/* A random number in [0, 1]. */
typedef double (*backoff_rand_fn)(void *arg);

/* The "exponential" or "fixed" of retry_backoff.  0, or -EINVAL. */
int backoff_mode_parse(const char *s, enum backoff_mode *mode)
    __attribute__((warn_unused_result));

/* The name backoff_mode_parse takes for mode. */
const char *backoff_mode_name(enum backoff_mode mode);

/* Is b usable?  0, or -EINVAL with err naming the bad field. */
int backoff_check(const struct backoff *b, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The wait before retry k (k >= 1; smaller counts as 1) without jitter:
 * finite and in [0, max_delay] for every k, however large. */
double backoff_base(const struct backoff *b, int k);

/* The wait before retry k with jitter from rnd(arg) (NULL: an unseeded
 * system source, arc4random), raised to retry_after if that is a finite
 * number > 0 (pass 0 or a negative for "none"), capped by max_delay. */
double backoff_delay(const struct backoff *b, int k, double retry_after,
    backoff_rand_fn rnd, void *arg);

/* The default random source: arc4random scaled to [0, 1]. */
double backoff_rand(void *arg);

#endif /* JOBD_BACKOFF_H */
