/*
 * hist.c — fixed-bucket histograms (see hist.h).
 */
#include <math.h>
#include <string.h>

#include "hist.h"

/* From a millisecond to an hour: a no-op job to a long exec. */
const double hist_le_job[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600 };
const size_t hist_le_job_n = sizeof(hist_le_job) / sizeof(hist_le_job[0]);

/* A commit: a fraction of a millisecond (normal sync, small batch) to
 * seconds (a full fsync on a busy disk). */
const double hist_le_commit[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
const size_t hist_le_commit_n =
    sizeof(hist_le_commit) / sizeof(hist_le_commit[0]);

/* Rows per commit: one to the writer's batch bound (10,000) and past it
 * (groups are never split). */
const double hist_le_rows[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
	2000, 5000, 10000, 20000 };
const size_t hist_le_rows_n = sizeof(hist_le_rows) / sizeof(hist_le_rows[0]);

void
hist_init(struct hist *h, const double *le, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->le = le;
	h->n = n < HIST_MAX ? n : HIST_MAX;
}

void
hist_add(struct hist *h, double v)
{
	size_t i;

	/* Most observations are small: a linear scan from the bottom stops
	 * within a few compares, and never mispredicts on a table. */
	for (i = 0; i < h->n && !(v <= h->le[i]); i++)
		;
	h->count[i]++;
	h->total++;
	if (!isnan(v))
		h->sum += v;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	for (size_t i = 0; i <= dst->n && i <= src->n; i++)
		dst->count[i] += src->count[i];
	dst->total += src->total;
	dst->sum += src->sum;
}

double
hist_quantile(const struct hist *h, double q)
{
	double rank, lo, below = 0;
	size_t i;

	if (h->total == 0 || h->n == 0)
		return 0;
	rank = q * (double)h->total;
	for (i = 0; i < h->n; i++) {
		if (below + (double)h->count[i] >= rank && h->count[i] > 0) {
			lo = i == 0 ? 0 : h->le[i - 1];
			return lo + (h->le[i] - lo) *
			    ((rank - below) / (double)h->count[i]);
		}
		below += (double)h->count[i];
	}
	return h->le[h->n - 1];
}
