/*
 * kind_sleep.c — the `sleep` kind (see kind_sleep.h): one co_sleep, which
 * makes it the daemon's pure-overhead benchmark and its simplest test of
 * timeouts and cancellation.
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
sleep_run(struct kind_run *run)
{
	struct proto_err err;
	double seconds;
	const char *fail;
	int rc;

	if (sleep_args(run->args, &seconds, &fail, &err) < 0) {
		kind_error(run, "%s", err.msg);         /* check() was skipped */
		return -EINVAL;
	}
	if ((rc = co_sleep(seconds)) < 0)
		return rc;                      /* timed out or cancelled */
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

const struct kind kind_sleep = {
	.name = "sleep",
	.check = sleep_check,
	.run = sleep_run,
	.pure = true,
};
