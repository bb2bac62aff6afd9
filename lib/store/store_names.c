/*
 * store_names.c — the store's small vocabulary, the same for every
 * backend: the error message of the calling thread, the names of states
 * and group modes, time, and freeing rows (see store.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_backend.h"

static _Thread_local char store_err[512];

int
store_seterr(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(store_err, sizeof(store_err), fmt, ap);
	va_end(ap);
	return err;
}

const char *
store_errmsg(void)
{
	return store_err;
}

void
store_interrupted_msg(char *buf, size_t len, int attempts)
{
	snprintf(buf, len, "interrupted (jobd stopped or crashed) after %d "
	    "attempt%s", attempts, attempts == 1 ? "" : "s");
}

static const char *const state_names[STORE_NSTATES] = {
	"queued", "running", "succeeded", "failed", "timed_out", "cancelled",
	"scheduled", "waiting",
};

static const char *const mode_names[] = { "all", "fail_fast" };

const char *
store_state_name(int state)
{
	return state >= 0 && state < STORE_NSTATES ? state_names[state] : NULL;
}

int
store_state_parse(const char *name, enum store_state *state)
{
	for (int i = 0; i < STORE_NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*state = i;
			return 0;
		}
	return -EINVAL;
}

bool
store_state_ended(int state)
{
	return state >= STORE_SUCCEEDED && state <= STORE_CANCELLED;
}

const char *
store_group_mode_name(int mode)
{
	return mode == STORE_GROUP_ALL || mode == STORE_GROUP_FAIL_FAST ?
	    mode_names[mode] : NULL;
}

int
store_group_mode_parse(const char *name, enum store_group_mode *mode)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(name, mode_names[i]) == 0) {
			*mode = i;
			return 0;
		}
	return -EINVAL;
}

double
store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct store_job *
store_job_alloc(const char *const t[STORE_JOB_NTEXT],
    const size_t len[STORE_JOB_NTEXT])
{
	struct store_job *j;
	size_t total = 0;
	char **dst[STORE_JOB_NTEXT], *p;

	for (int i = 0; i < STORE_JOB_NTEXT; i++)
		total += t[i] != NULL ? len[i] + 1 : 0;
	if ((j = calloc(1, sizeof(*j) + total)) == NULL)
		return NULL;
	dst[0] = &j->queue, dst[1] = &j->kind, dst[2] = &j->args;
	dst[3] = &j->name, dst[4] = &j->result, dst[5] = &j->error;
	dst[6] = &j->cancel_reason, dst[7] = &j->schedule;
	dst[8] = &j->unique_key, dst[9] = &j->after;
	p = (char *)(j + 1);
	for (int i = 0; i < STORE_JOB_NTEXT; i++) {
		if (t[i] == NULL)
			continue;
		*dst[i] = memcpy(p, t[i], len[i]);
		p[len[i]] = '\0';
		p += len[i] + 1;
	}
	return j;
}

void
store_job_free(struct store_job *job)
{
	free(job);
}

void
store_jobs_free(struct store_job **jobs, size_t n)
{
	if (jobs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_job_free(jobs[i]);
	free(jobs);
}

