/*
 * kind_sleep.c — the `sleep` kind (see kind_sleep.h): one co_sleep, which
 * makes it the daemon's pure-overhead benchmark and its simplest test of
 * timeouts and cancellation.  Split in wait() and done() too, so that jobd
 * holds a sleeping job without a worker (kind.h, docs/PERF.md).
 */
#include <errno.h>

#include "co.h"
#include "kind_sleep.h"

static int
sleep_args(const json_t *args, double *seconds, const char **fail,
    struct proto_err *err)
{
	int rc;

	*fail = NULL;
	rc = proto_field_number(args, "seconds", PROTO_REQUIRED, 0,
	    KIND_SLEEP_MAX, seconds, err);
	if (rc >= 0)
		rc = proto_field_string(args, "fail", PROTO_OPTIONAL,
		    KIND_ERROR_MAX - 1, fail, err);
	if (rc < 0) {
		proto_err_prefix(err, "args: ");
		return -EINVAL;
	}
	return 0;
}

static int
sleep_check(const json_t *args, struct proto_err *err)
{
	double seconds;
	const char *fail;

	return sleep_args(args, &seconds, &fail, err);
}

static int
sleep_wait(struct kind_run *run, double *seconds)
{
	struct proto_err err;
	const char *fail;

	if (sleep_args(run->args, seconds, &fail, &err) < 0) {
		kind_error(run, "%s", err.msg);         /* check() was skipped */
		return -EINVAL;
	}
	return 0;
}

/* The part after the wait. */
static int
sleep_done(struct kind_run *run)
{
	struct proto_err err;
	double seconds;
	const char *fail;

	if (sleep_args(run->args, &seconds, &fail, &err) < 0) {
		kind_error(run, "%s", err.msg);
		return -EINVAL;
	}
	run->result = json_pack("{s:f}", "slept", seconds);
	if (run->result == NULL) {
		kind_error(run, "out of memory");
		return -ENOMEM;
	}
	if (fail != NULL) {
		kind_error(run, "%s", fail);
		return -EIO;
	}
	return 0;
}

static int
sleep_run(struct kind_run *run)
{
	double seconds;
	int rc;

	if ((rc = sleep_wait(run, &seconds)) < 0)
		return rc;
	if ((rc = co_sleep(seconds)) < 0)
		return rc;                      /* timed out or cancelled */
	return sleep_done(run);
}

const struct kind kind_sleep = {
	.name = "sleep",
	.check = sleep_check,
	.run = sleep_run,
	.pure = true,
	.wait = sleep_wait,
	.done = sleep_done,
};
