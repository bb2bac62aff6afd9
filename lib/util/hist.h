/*
 * hist.h — fixed-bucket histograms, Prometheus style.
 *
 * A histogram counts observations into buckets with upper bounds chosen
 * when it is made (le[0] < le[1] < ... < le[n-1], plus +Inf), and keeps
 * their sum.  Adding is a short search over at most HIST_MAX bounds and two
 * additions: cheap enough for every job's start and end.  No locking: the
 * owner serialises (jobd adds on the loop thread; the store adds under its
 * mutex).  The struct is public so owners can embed and copy it.
 */
#ifndef JOBD_HIST_H
#define JOBD_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_MAX 16             /* finite bounds in one histogram */

struct hist {
	const double *le;       /* n bounds, ascending; borrowed (static) */
	size_t n;
	uint64_t count[HIST_MAX + 1]; /* per bucket, NOT cumulative; [n] = +Inf */
	uint64_t total;
	double sum;
};

/* Bucket sets the daemon uses (seconds, or rows for commit sizes). */
extern const double hist_le_job[];      /* job durations, queue waits */
extern const size_t hist_le_job_n;
extern const double hist_le_commit[];   /* store commit times */
extern const size_t hist_le_commit_n;
extern const double hist_le_rows[];     /* jobs per commit */
extern const size_t hist_le_rows_n;

/* Empty histogram over le[0..n-1] (n <= HIST_MAX; more are ignored). */
void hist_init(struct hist *h, const double *le, size_t n);

/* Count one observation v (NaN counts as +Inf). */
void hist_add(struct hist *h, double v);

/* Add every count of src into dst (same bounds). */
void hist_merge(struct hist *dst, const struct hist *src);

/* The q-quantile (0 < q < 1) estimated by linear interpolation inside the
 * bucket that holds it, as PromQL's histogram_quantile does; 0 when empty,
 * le[n-1] when it falls in +Inf. */
double hist_quantile(const struct hist *h, double q);

#endif /* JOBD_HIST_H */
