/*
 * jobctl.c — jobd's command-line client.
 *
 * One invocation is one command: check the command line, connect to jobd's
 * socket, send one request (two for submit --wait), print the answer, and
 * exit with a status a script can branch on:
 *   0  success (for wait and submit --wait: every job ended succeeded);
 *   1  jobd answered an error, or a waited job did not succeed;
 *   2  usage error: nothing was sent;
 *   3  jobd could not be reached: not running, no permission, or the
 *      connection was lost before the answer.
 * Commands are entries in a table (cmds[]); each parses its own options
 * with getopt_long, the global ones (-s, -c, --json, -h) included, so they
 * may come before or after the command name.
 *
 * Blocking I/O throughout: this is a client that waits for one answer at a
 * time.  Requests are built, sent and their answers read by the client
 * library (lib/client, jc_*), so jobctl and the library cannot drift; the
 * call and its exit status are in ctl_call, argument checking in ctl_args,
 * human output in ctl_show.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_args.h"
#include "ctl_call.h"
#include "ctl_show.h"
#include "ctl_watch.h"
#include "jc.h"
#include "log.h"
#include "proto.h"

#ifndef JOBD_VERSION
#define JOBD_VERSION "0.0.0"
#endif

/* The largest submit-group file: jobd's max_line cannot exceed it. */
#define CTL_GROUP_FILE_MAX (64 * 1024 * 1024)

struct cmd {
	const char *name;
	int (*run)(struct ctl *, int, char **);
	const char *synopsis; /* after "jobctl NAME " */
	const char *help;     /* what it does, and its options */
};

static void usage_all(FILE *f);
static int cmd_help(struct ctl *ctl, int argc, char **argv);

/* ---- messages and usage -------------------------------------------------- */

/* A usage error in the current command: the message, its synopsis, exit
 * 2. */
static int __attribute__((format(printf, 2, 3)))
usage_err(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("jobctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctl->cmd != NULL)
		fprintf(stderr, "usage: jobctl %s%s%s\n"
		    "Try 'jobctl %s --help'.\n", ctl->cmd->name,
		    *ctl->cmd->synopsis ? " " : "", ctl->cmd->synopsis,
		    ctl->cmd->name);
	else
		fputs("Try 'jobctl --help'.\n", stderr);
	return CTL_USAGE;
}

static void
usage_cmd(const struct cmd *cmd)
{
	printf("usage: jobctl %s%s%s\n\n%s", cmd->name,
	    *cmd->synopsis ? " " : "", cmd->synopsis, cmd->help);
	printf("\nGlobal options: -s PATH, -c FILE, --json (see "
	    "'jobctl --help').\n");
}

/* ---- options ------------------------------------------------------------- */

/* Long options every command takes; their short forms are in GLOBAL_SHORT.
 * Values past 255 are options without a short form. */
enum { OPT_JSON = 256, OPT_VERSION, OPT_NOWAIT, OPT_WAIT, OPT_FAIL_FAST,
	OPT_MAX_ATTEMPTS, OPT_STATE, OPT_LIMIT, OPT_DELAY, OPT_AT, OPT_PRIORITY,
	OPT_RETRIES, OPT_HISTORY, OPT_BEFORE, OPT_UNIQUE, OPT_AFTER,
	OPT_DEP_FAIL };

#define GLOBAL_SHORT ":s:c:h"
#define GLOBAL_LONG                                          \
	{ "socket", required_argument, NULL, 's' },          \
	{ "config", required_argument, NULL, 'c' },          \
	{ "json", no_argument, NULL, OPT_JSON },             \
	{ "help", no_argument, NULL, 'h' },                  \
	{ "version", no_argument, NULL, OPT_VERSION },       \
	{ NULL, 0, NULL, 0 }

/* Handle option c if it is a global one (or getopt's complaint).  Returns
 * CTL_CONTINUE when handled, an exit status to stop with, or CTL_OTHER
 * when c is the command's own. */
static int
opt_global(struct ctl *ctl, int c, char **argv)
{
	const char *hint;

	switch (c) {
	case 's':
		ctl->socket = optarg;
		ctl->origin = "from -s";
		return CTL_CONTINUE;
	case 'c':
		ctl->config = optarg;
		return CTL_CONTINUE;
	case OPT_JSON:
		ctl->json = true;
		return CTL_CONTINUE;
	case 'h':
		if (ctl->cmd == NULL)
			usage_all(stdout);
		else
			usage_cmd(ctl->cmd);
		return CTL_OK;
	case OPT_VERSION:
		printf("jobctl %s\n", JOBD_VERSION);
		return CTL_OK;
	case ':':
		return usage_err(ctl, "option %s needs a value",
		    argv[optind - 1]);
	case '?':
		/* An exec command's own options are the usual surprise. */
		hint = ctl->cmd != NULL && strcmp(ctl->cmd->name, "submit") ==
		    0 ? " (an exec command's own options go after --: jobctl "
		    "submit exec -- CMD [ARG...])" : "";
		if (optopt != 0)
			return usage_err(ctl, "unknown option -%c%s", optopt,
			    hint);
		return usage_err(ctl, "unknown option %s%s", argv[optind - 1],
		    hint);
	}
	return CTL_OTHER;
}

/* After a command's options: check that exactly want words remain (want
 * -1: any number). */
static int
opt_words(struct ctl *ctl, int argc, char **argv, int want,
    const char *what)
{
	int n = argc - optind;

	if (want >= 0 && n < want)
		return usage_err(ctl, "%s is missing", what);
	if (want >= 0 && n > want)
		return usage_err(ctl, "unexpected argument %s",
		    argv[optind + want]);
	return CTL_CONTINUE;
}

/* A checked value of a string option, or a usage error. */
#define OPT_CHECK(expr)                                                  \
	do {                                                             \
		if ((expr) < 0)                                          \
			return usage_err(ctl, "%s", err);                \
	} while (0)

/* ---- commands ------------------------------------------------------------ */

/* A command's own options: handle option c (optarg is its value) into
 * state.  CTL_CONTINUE, or an exit status. */
typedef int (*opt_fn)(struct ctl *, int c, void *state);

/* Run getopt_long over a command's argv (argv[0] is the command name);
 * shortopts and lo include the global options.  Leaves optind at the
 * first word after the options. */
static int
opt_parse(struct ctl *ctl, int argc, char **argv, const char *shortopts,
    const struct option *lo, opt_fn fn, void *state)
{
	int c, rc;

	optind = 0; /* glibc: start over, from argv[1] */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		rc = opt_global(ctl, c, argv);
		if (rc == CTL_OTHER)
			rc = fn != NULL ? fn(ctl, c, state) :
			    usage_err(ctl, "unknown option");
		if (rc != CTL_CONTINUE)
			return rc;
	}
	return CTL_CONTINUE;
}

/* Commands without options of their own, and without words. */
static int
opt_none(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = { GLOBAL_LONG };
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT, lo, NULL, NULL)) !=
	    CTL_CONTINUE)
		return rc;
	if (optind < argc)
		return usage_err(ctl, "unexpected argument %s", argv[optind]);
	return CTL_CONTINUE;
}

static int
cmd_ping(struct ctl *ctl, int argc, char **argv)
{
	json_t *ans;
	int rc;

	if ((rc = opt_none(ctl, argc, argv)) != CTL_CONTINUE ||
	    (rc = ctl_call(ctl, jc_req_ping(), &ans)) !=
	    CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		printf("jobd %s at %s\n", json_string_value(json_object_get(
		    ans, "version")) ?: "(unknown version)", ctl->socket);
	json_decref(ans);
	return CTL_OK;
}

/* submit's options, gathered into request fields as they come. */
struct submit_opts {
	json_t *fields; /* queue, timeout, name, max_attempts, nowait... */
	bool wait;
};

/* --after ID[,ID...] (repeatable): the ids gathered in fields.after. */
static int
submit_after(struct ctl *ctl, struct submit_opts *so, const char *list)
{
	char err[CTL_ERRLEN], *copy, *tok, *save = NULL;
	json_t *a = json_object_get(so->fields, "after");
	int64_t id;
	int rc = CTL_CONTINUE;

	if (a == NULL && (a = json_array()) != NULL &&
	    json_object_set_new(so->fields, "after", a) < 0)
		a = NULL;
	if (a == NULL || (copy = strdup(list)) == NULL)
		fatalx("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc ==
	    CTL_CONTINUE; tok = strtok_r(NULL, ",", &save)) {
		if (ctl_parse_id(tok, "--after", &id, err, sizeof(err)) < 0)
			rc = usage_err(ctl, "%s", err);
		else if (json_array_append_new(a, json_integer(id)) < 0)
			fatalx("out of memory");
	}
	if (rc == CTL_CONTINUE && json_array_size(a) == 0)
		rc = usage_err(ctl, "--after: no job id");
	free(copy);
	return rc;
}

static int
submit_opt(struct ctl *ctl, int c, void *state)
{
	struct submit_opts *so = state;
	char err[CTL_ERRLEN];
	const char *key;
	json_t *v = NULL;
	int64_t n;
	double d;

	switch (c) {
	case OPT_DELAY:
	case OPT_AT:
		key = c == OPT_DELAY ? "delay" : "run_at";
		if (c == OPT_DELAY)
			OPT_CHECK(ctl_parse_duration(optarg, "--delay", &d, err,
			    sizeof(err)));
		else
			OPT_CHECK(ctl_parse_when(optarg, "--at", &d, err,
			    sizeof(err)));
		v = json_real(d);
		break;
	case OPT_PRIORITY:
	case OPT_RETRIES:
		key = c == OPT_PRIORITY ? "priority" : "retries";
		OPT_CHECK(ctl_parse_int(optarg, c == OPT_PRIORITY ?
		    "--priority" : "--retries", 0, c == OPT_PRIORITY ? 9 :
		    PROTO_RETRIES_MAX, &n, err, sizeof(err)));
		v = json_integer(n);
		break;
	case OPT_AFTER:
		return submit_after(ctl, so, optarg);
	case OPT_DEP_FAIL:
		key = "on_dependency_failure";
		if (strcmp(optarg, "run") != 0 && strcmp(optarg, "cancel") != 0)
			return usage_err(ctl, "--on-dependency-failure: "
			    "expected run or cancel, got \"%s\"", optarg);
		v = json_string(optarg);
		break;
	case OPT_UNIQUE:
		key = "unique_key";
		if (optarg[0] == '\0')
			return usage_err(ctl, "--unique: an empty key");
		OPT_CHECK(ctl_check_string(optarg, "--unique",
		    PROTO_UNIQUE_KEY_MAX, err, sizeof(err)));
		if ((v = json_string(optarg)) == NULL)
			return usage_err(ctl, "--unique: not valid UTF-8");
		break;
	case 'q':
	case 'n':
		key = c == 'q' ? "queue" : "name";
		OPT_CHECK(ctl_check_string(optarg, c == 'q' ? "--queue" :
		    "--name", PROTO_STR_MAX, err, sizeof(err)));
		if ((v = json_string(optarg)) == NULL)
			return usage_err(ctl, "--%s: not valid UTF-8", key);
		break;
	case 't':
		key = "timeout";
		OPT_CHECK(ctl_parse_seconds(optarg, "--timeout", &v, err,
		    sizeof(err)));
		break;
	case OPT_MAX_ATTEMPTS:
		key = "max_attempts";
		OPT_CHECK(ctl_parse_int(optarg, "--max-attempts", 1,
		    PROTO_ATTEMPTS_MAX, &n, err, sizeof(err)));
		v = json_integer(n);
		break;
	case OPT_NOWAIT:
		key = "nowait";
		v = json_true();
		break;
	default:
		so->wait = true;
		return CTL_CONTINUE;
	}
	if (json_object_set_new(so->fields, key, v) < 0)
		fatalx("out of memory");
	return CTL_CONTINUE;
}

/* The submit request: kind, args (stolen) and the options, through the
 * library's builder (which puts them in the contract's order). */
static json_t *
submit_req(const char *kind, json_t *args, const json_t *fields)
{
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	int64_t *after = NULL;
	json_t *v, *req;
	size_t n;

	o.queue = json_string_value(json_object_get(fields, "queue"));
	o.name = json_string_value(json_object_get(fields, "name"));
	if ((v = json_object_get(fields, "timeout")) != NULL)
		o.timeout = json_number_value(v);
	if ((v = json_object_get(fields, "max_attempts")) != NULL)
		o.max_attempts = (int)json_integer_value(v);
	if (json_object_get(fields, "nowait") != NULL)
		o.nowait = 1;
	if ((v = json_object_get(fields, "delay")) != NULL)
		o.delay = json_number_value(v);
	if ((v = json_object_get(fields, "run_at")) != NULL)
		o.run_at = json_number_value(v);
	if ((v = json_object_get(fields, "priority")) != NULL)
		o.priority = (int)json_integer_value(v);
	if ((v = json_object_get(fields, "retries")) != NULL)
		o.retries = (int)json_integer_value(v);
	o.unique_key = json_string_value(json_object_get(fields, "unique_key"));
	o.on_dependency_failure = json_string_value(json_object_get(fields,
	    "on_dependency_failure"));
	if ((v = json_object_get(fields, "after")) != NULL) {
		n = json_array_size(v);
		if ((after = calloc(n, sizeof(*after))) == NULL)
			fatalx("out of memory");
		for (size_t i = 0; i < n; i++)
			after[i] = json_integer_value(json_array_get(v, i));
		o.after = after;
		o.nafter = n;
	}
	req = jc_req_submit(kind, args, &o);
	free(after);
	json_decref(args);
	return req;
}

/* Check KIND and its words, and send the submit. */
static int
submit_send(struct ctl *ctl, int argc, char **argv, const json_t *fields,
    json_t **ans)
{
	char err[CTL_ERRLEN];
	json_t *args;

	if (argc - optind < 1)
		return usage_err(ctl, "KIND is missing");
	if (argc - optind < 2)
		return usage_err(ctl, "ARGS-JSON is missing after %s",
		    argv[optind]);
	if (ctl_args_build(argv[optind], argc - optind - 1, argv + optind + 1,
	    &args, err, sizeof(err)) < 0)
		return usage_err(ctl, "%s", err);
	return ctl_call(ctl, submit_req(argv[optind], args, fields), ans);
}

static int
cmd_submit(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
		{ "nowait", no_argument, NULL, OPT_NOWAIT },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "delay", required_argument, NULL, OPT_DELAY },
		{ "at", required_argument, NULL, OPT_AT },
		{ "priority", required_argument, NULL, OPT_PRIORITY },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "unique", required_argument, NULL, OPT_UNIQUE },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "on-dependency-failure", required_argument, NULL,
		  OPT_DEP_FAIL },
		GLOBAL_LONG
	};
	struct submit_opts so = { .fields = json_object() };
	json_int_t id;
	json_t *ans;
	int rc, nok;

	if (so.fields == NULL)
		fatalx("out of memory");
	rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT "q:t:n:", lo, submit_opt,
	    &so);
	if (rc == CTL_CONTINUE)
		rc = submit_send(ctl, argc, argv, so.fields, &ans);
	json_decref(so.fields);
	if (rc != CTL_CONTINUE)
		return rc;
	id = json_integer_value(json_object_get(ans, "id"));
	if (json_is_true(json_object_get(ans, "duplicate")) && !ctl->json)
		ctl_say("job %lld already holds that unique key: nothing "
		    "new submitted", (long long)id);
	json_decref(ans);
	if (id < 1) {
		ctl_say("not a jobd answer: no job id");
		return CTL_FAIL;
	}
	if (!so.wait) {
		if (!ctl->json)
			printf("%lld\n", (long long)id);
		return CTL_OK;
	}
	nok = ctl->nok;
	rc = ctl_wait(ctl, id, 0, NULL);
	/* Nothing shown: the id would be lost with the wait. */
	if (ctl->nok == nok)
		ctl_say("job %lld was submitted; see 'jobctl get %lld'",
		    (long long)id, (long long)id);
	return rc;
}

static void
show_group(const json_t *ans)
{
	const json_t *ids = json_object_get(ans, "ids");

	printf("group: %lld\njobs: ", (long long)json_integer_value(
	    json_object_get(ans, "group")));
	for (size_t i = 0; i < json_array_size(ids); i++)
		printf(" %lld", (long long)json_integer_value(
		    json_array_get(ids, i)));
	printf("\n");
}

struct group_opts {
	bool fail_fast, nowait, wait;
};

static int
group_opt(struct ctl *ctl, int c, void *state)
{
	struct group_opts *go = state;

	go->fail_fast |= c == OPT_FAIL_FAST;
	go->nowait |= c == OPT_NOWAIT;
	go->wait |= c == OPT_WAIT;
	return CTL_CONTINUE;
}

static int
cmd_submit_group(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "fail-fast", no_argument, NULL, OPT_FAIL_FAST },
		{ "nowait", no_argument, NULL, OPT_NOWAIT },
		{ "wait", no_argument, NULL, OPT_WAIT },
		GLOBAL_LONG
	};
	struct group_opts go = { 0 };
	char err[CTL_ERRLEN];
	json_t *jobs, *req, *ans;
	json_int_t group;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT, lo, group_opt,
	    &go)) != CTL_CONTINUE ||
	    (rc = opt_words(ctl, argc, argv, 1, "FILE")) != CTL_CONTINUE)
		return rc;
	OPT_CHECK(ctl_read_jobs(argv[optind], CTL_GROUP_FILE_MAX, &jobs, err,
	    sizeof(err)));
	req = jc_req_submit_group(jobs, go.fail_fast ? "fail_fast" : NULL,
	    go.nowait);
	json_decref(jobs);
	if ((rc = ctl_call(ctl, req, &ans)) != CTL_CONTINUE)
		return rc;
	group = json_integer_value(json_object_get(ans, "group"));
	if (!ctl->json && group > 0)
		show_group(ans);
	json_decref(ans);
	if (group < 1) {
		ctl_say("not a jobd answer: no group id");
		return CTL_FAIL;
	}
	if (!go.wait)
		return CTL_OK;
	return ctl_wait(ctl, 0, group, NULL);
}

static int
flag_opt(struct ctl *ctl, int c, void *state)
{
	(void)ctl;
	(void)c;
	*(bool *)state = true;
	return CTL_CONTINUE;
}

static int
cmd_get(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "history", no_argument, NULL, OPT_HISTORY },
		GLOBAL_LONG
	};
	char err[CTL_ERRLEN];
	bool history = false;
	json_t *ans;
	int64_t id;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT, lo, flag_opt,
	    &history)) != CTL_CONTINUE ||
	    (rc = opt_words(ctl, argc, argv, 1, "ID")) != CTL_CONTINUE)
		return rc;
	OPT_CHECK(ctl_parse_id(argv[optind], "ID", &id, err, sizeof(err)));
	rc = ctl_call(ctl, jc_req_get(id, history), &ans);
	if (rc != CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		ctl_show_job(stdout, json_object_get(ans, "job"), ctl_now());
	json_decref(ans);
	return CTL_OK;
}

/* Options of wait and cancel: strings, checked once all are in. */
struct target_opts {
	const char *group, *timeout, *reason;
};

static int
target_opt(struct ctl *ctl, int c, void *state)
{
	struct target_opts *to = state;

	*(c == 'g' ? &to->group : c == 't' ? &to->timeout : &to->reason) =
	    optarg;
	return CTL_CONTINUE;
}

/* wait and cancel name a job (ID) or a group (--group G): parse either. */
static int
target(struct ctl *ctl, int argc, char **argv, const char *group_arg,
    int64_t *id, int64_t *group)
{
	char err[CTL_ERRLEN];

	*id = *group = 0;
	if (group_arg != NULL) {
		if (argc - optind > 0)
			return usage_err(ctl, "give ID or --group G, not both");
		OPT_CHECK(ctl_parse_id(group_arg, "--group", group, err,
		    sizeof(err)));
		return CTL_CONTINUE;
	}
	if (argc - optind < 1)
		return usage_err(ctl, "ID (or --group G) is missing");
	if (argc - optind > 1)
		return usage_err(ctl, "too many arguments");
	OPT_CHECK(ctl_parse_id(argv[optind], "ID", id, err, sizeof(err)));
	return CTL_CONTINUE;
}

static int
cmd_wait(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "group", required_argument, NULL, 'g' },
		GLOBAL_LONG
	};
	struct target_opts to = { 0 };
	char err[CTL_ERRLEN];
	json_t *timeout = NULL;
	int64_t id, group;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT "t:g:", lo,
	    target_opt, &to)) != CTL_CONTINUE ||
	    (rc = target(ctl, argc, argv, to.group, &id, &group)) !=
	    CTL_CONTINUE)
		return rc;
	if (to.timeout != NULL)
		OPT_CHECK(ctl_parse_seconds(to.timeout, "--timeout", &timeout,
		    err, sizeof(err)));
	return ctl_wait(ctl, id, group, timeout);
}

static void
show_cancelled(const json_t *ans, int64_t id, int64_t group)
{
	const json_t *ids = json_object_get(ans, "ids");
	size_t n = json_array_size(ids);

	if (id != 0) {
		printf("job %lld cancelled\n", (long long)id);
		return;
	}
	printf("group %lld: %zu job%s cancelled:", (long long)group, n,
	    n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		printf(" %lld", (long long)json_integer_value(
		    json_array_get(ids, i)));
	printf("\n");
}

static int
cmd_cancel(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "group", required_argument, NULL, 'g' },
		GLOBAL_LONG
	};
	struct target_opts to = { 0 };
	char err[CTL_ERRLEN];
	int64_t id, group;
	json_t *req, *ans;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT "r:g:", lo,
	    target_opt, &to)) != CTL_CONTINUE ||
	    (rc = target(ctl, argc, argv, to.group, &id, &group)) !=
	    CTL_CONTINUE)
		return rc;
	if (to.reason != NULL)
		OPT_CHECK(ctl_check_string(to.reason, "--reason",
		    PROTO_REASON_MAX, err, sizeof(err)));
	if ((req = jc_req_cancel(id, group, to.reason)) == NULL &&
	    errno == EINVAL)
		return usage_err(ctl, "--reason: not valid UTF-8");
	if ((rc = ctl_call(ctl, req, &ans)) != CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		show_cancelled(ans, id, group);
	json_decref(ans);
	return CTL_OK;
}

struct list_opts {
	const char *state, *queue, *limit;
};

static int
list_opt(struct ctl *ctl, int c, void *state)
{
	struct list_opts *lo = state;

	*(c == OPT_STATE ? &lo->state : c == 'q' ? &lo->queue : &lo->limit) =
	    optarg;
	return CTL_CONTINUE;
}

/* The list request from its checked options. */
static int
list_req(struct ctl *ctl, const struct list_opts *o, json_t **req)
{
	struct jc_list_opts lo = { 0 };
	char err[CTL_ERRLEN];
	int64_t n = 0;
	int i;

	for (i = 0; o->state && i < PROTO_NSTATES; i++)
		if (strcmp(o->state, proto_state_names[i]) == 0)
			break;
	if (i == PROTO_NSTATES)
		return usage_err(ctl, "--state: expected one of queued, "
		    "running, succeeded, failed, timed_out, cancelled, got "
		    "\"%s\"", o->state);
	if (o->queue)
		OPT_CHECK(ctl_check_string(o->queue, "--queue", PROTO_STR_MAX,
		    err, sizeof(err)));
	if (o->limit)
		OPT_CHECK(ctl_parse_int(o->limit, "--limit", 1, PROTO_LIST_MAX,
		    &n, err, sizeof(err)));
	lo.state = o->state;
	lo.queue = o->queue;
	lo.limit = (int)n;
	if ((*req = jc_req_list(&lo)) == NULL && errno == EINVAL)
		return usage_err(ctl, "--queue: not valid UTF-8");
	return CTL_CONTINUE;
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, OPT_STATE },
		{ "queue", required_argument, NULL, 'q' },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		GLOBAL_LONG
	};
	struct list_opts o = { 0 };
	json_t *req, *ans;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT "q:", lo, list_opt,
	    &o)) != CTL_CONTINUE ||
	    (rc = opt_words(ctl, argc, argv, 0, "")) != CTL_CONTINUE ||
	    (rc = list_req(ctl, &o, &req)) != CTL_CONTINUE ||
	    (rc = ctl_call(ctl, req, &ans)) != CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		ctl_show_jobs(stdout, json_object_get(ans, "jobs"), ctl_now(),
		    ctl_term_width());
	json_decref(ans);
	return CTL_OK;
}

static int
cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	json_t *ans;
	int rc;

	if ((rc = opt_none(ctl, argc, argv)) != CTL_CONTINUE ||
	    (rc = ctl_call(ctl, jc_req_stats(), &ans)) !=
	    CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		ctl_show_stats(stdout, ans);
	json_decref(ans);
	return CTL_OK;
}

static int
cmd_schedules(struct ctl *ctl, int argc, char **argv)
{
	json_t *ans;
	int rc;

	if ((rc = opt_none(ctl, argc, argv)) != CTL_CONTINUE ||
	    (rc = ctl_call(ctl, json_pack("{s:s}", "op", "schedules"), &ans)) !=
	    CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		ctl_show_schedules(stdout, ans, ctl_now());
	json_decref(ans);
	return CTL_OK;
}

/* pause QUEUE, resume QUEUE. */
static int
cmd_pause(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = { GLOBAL_LONG };
	const char *op = ctl->cmd->name;
	char err[CTL_ERRLEN];
	json_t *ans;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT, lo, NULL, NULL)) !=
	    CTL_CONTINUE ||
	    (rc = opt_words(ctl, argc, argv, 1, "QUEUE")) != CTL_CONTINUE)
		return rc;
	OPT_CHECK(ctl_check_string(argv[optind], "QUEUE", PROTO_STR_MAX, err,
	    sizeof(err)));
	if ((rc = ctl_call(ctl, json_pack("{s:s,s:s}", "op", op, "queue",
	    argv[optind]), &ans)) != CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		printf("queue %s: %s\n", argv[optind], json_is_true(
		    json_object_get(ans, "paused")) ? "paused" : "running");
	json_decref(ans);
	return CTL_OK;
}

static int
cmd_retry(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = { GLOBAL_LONG };
	char err[CTL_ERRLEN];
	json_t *ans;
	int64_t id;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT, lo, NULL, NULL)) !=
	    CTL_CONTINUE ||
	    (rc = opt_words(ctl, argc, argv, 1, "ID")) != CTL_CONTINUE)
		return rc;
	OPT_CHECK(ctl_parse_id(argv[optind], "ID", &id, err, sizeof(err)));
	if ((rc = ctl_call(ctl, json_pack("{s:s,s:I}", "op", "retry", "id",
	    (json_int_t)id), &ans)) != CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		printf("job %lld: queued\n", (long long)id);
	json_decref(ans);
	return CTL_OK;
}

struct prune_opts {
	const char *before;
	json_t *states;
};

static int
prune_opt(struct ctl *ctl, int c, void *state)
{
	struct prune_opts *po = state;

	if (c == OPT_BEFORE)
		po->before = optarg;
	else if (json_array_append_new(po->states, json_string(optarg)) < 0)
		return usage_err(ctl, "--state: not valid UTF-8");
	return CTL_CONTINUE;
}

/* prune --before AGE [--state S]...: ended jobs older than AGE. */
static int
cmd_prune(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "before", required_argument, NULL, OPT_BEFORE },
		{ "state", required_argument, NULL, OPT_STATE },
		GLOBAL_LONG
	};
	struct prune_opts po = { NULL, json_array() };
	char err[CTL_ERRLEN];
	json_t *req, *ans;
	double age;
	int rc;

	rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT, lo, prune_opt, &po);
	if (rc == CTL_CONTINUE)
		rc = opt_words(ctl, argc, argv, 0, "");
	if (rc == CTL_CONTINUE && po.before == NULL)
		rc = usage_err(ctl, "--before AGE is missing (e.g. 30d)");
	if (rc == CTL_CONTINUE && ctl_parse_duration(po.before, "--before",
	    &age, err, sizeof(err)) < 0)
		rc = usage_err(ctl, "%s", err);
	if (rc != CTL_CONTINUE) {
		json_decref(po.states);
		return rc;
	}
	req = json_pack("{s:s,s:f}", "op", "prune", "before", ctl_now() - age);
	if (req != NULL && json_array_size(po.states) > 0)
		json_object_set(req, "states", po.states);
	json_decref(po.states);
	if ((rc = ctl_call(ctl, req, &ans)) != CTL_CONTINUE)
		return rc;
	if (!ctl->json)
		printf("deleted %lld jobs\n", (long long)json_integer_value(
		    json_object_get(ans, "deleted")));
	json_decref(ans);
	return CTL_OK;
}

struct watch_opts {
	const char *queue, *group;
};

static int
watch_opt(struct ctl *ctl, int c, void *state)
{
	struct watch_opts *wo = state;

	*(c == 'q' ? &wo->queue : &wo->group) = optarg;
	return CTL_CONTINUE;
}

static int
cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "group", required_argument, NULL, 'g' },
		GLOBAL_LONG
	};
	struct watch_opts o = { 0 };
	char err[CTL_ERRLEN];
	int64_t id = 0, group = 0;
	int rc;

	if ((rc = opt_parse(ctl, argc, argv, GLOBAL_SHORT "q:g:", lo,
	    watch_opt, &o)) != CTL_CONTINUE)
		return rc;
	if (argc - optind > 1)
		return usage_err(ctl, "unexpected argument %s",
		    argv[optind + 1]);
	if (o.queue)
		OPT_CHECK(ctl_check_string(o.queue, "--queue", PROTO_STR_MAX,
		    err, sizeof(err)));
	if (o.group)
		OPT_CHECK(ctl_parse_int(o.group, "--group", 1, INT64_MAX,
		    &group, err, sizeof(err)));
	if (optind < argc)
		OPT_CHECK(ctl_parse_int(argv[optind], "ID", 1, INT64_MAX, &id,
		    err, sizeof(err)));
	return ctl_watch(ctl, o.queue, id, group);
}

static int
cmd_top(struct ctl *ctl, int argc, char **argv)
{
	int rc;

	if ((rc = opt_none(ctl, argc, argv)) != CTL_CONTINUE)
		return rc;
	return ctl_top(ctl);
}

static const struct cmd cmds[] = {
	{ "ping", cmd_ping, "",
	    "Ask jobd whether it is running; prints its version.\n" },
	{ "submit", cmd_submit,
	    "[OPTIONS] KIND ARGS-JSON | sleep SECONDS | exec -- CMD [ARG...] "
	    "| http URL",
	    "Submit one job and print its id.  ARGS-JSON is one JSON object;\n"
	    "the shorthands build it: 'sleep 0.5' is {\"seconds\":0.5}, 'exec "
	    "-- ls -l'\nis {\"argv\":[\"ls\",\"-l\"]}, 'http URL' is "
	    "{\"url\":URL}.\n\n"
	    "  -q, --queue Q         the queue (default: default)\n"
	    "  -t, --timeout S       time limit in seconds, 0 = none "
	    "(default: the queue's)\n"
	    "  -n, --name N          a label shown with the job\n"
	    "      --max-attempts N  starts allowed across restarts, 1-1000\n"
	    "      --nowait          fail with queue_full instead of waiting "
	    "for room\n"
	    "      --delay D         start no sooner than D from now (90, 30s, "
	    "15m, 12h, 7d)\n"
	    "      --at TIME         start no sooner than TIME "
	    "(2027-01-01T09:00, local)\n"
	    "      --priority N      0 (first) to 9 (default: the queue's, "
	    "5)\n"
	    "      --retries N       run again up to N times after failed or "
	    "timed_out\n"
	    "      --unique KEY      no new job while one with KEY has not "
	    "ended: prints\n                        the id of that one\n"
	    "      --after ID[,ID...]  start only once those jobs have ended "
	    "(waiting)\n"
	    "      --on-dependency-failure run|cancel  when one of them ends "
	    "otherwise\n                        than succeeded (default: "
	    "cancel)\n"
	    "      --wait            wait for the job to end and print it; "
	    "exit 0 only if\n                        it succeeded\n" },
	{ "submit-group", cmd_submit_group,
	    "[--fail-fast] [--nowait] [--wait] FILE|-",
	    "Submit the jobs of FILE (- = stdin), a JSON array of job objects\n"
	    "({\"kind\":..., \"args\":{...}, optional queue, timeout, name,\n"
	    "max_attempts}), as one group; prints the group id and job ids.\n\n"
	    "      --fail-fast  when a job fails or times out, cancel the "
	    "others\n"
	    "      --nowait     the whole group fits now, or queue_full\n"
	    "      --wait       wait for every job and list them; exit 0 only "
	    "if all\n                   succeeded\n" },
	{ "get", cmd_get, "[--history] ID", "Print one job.\n\n"
	    "      --history  also every start it had (job_attempts)\n" },
	{ "pause", cmd_pause, "QUEUE", "Start no more jobs of QUEUE (running "
	    "ones go on; kept\nacross restarts).  Root or admin_group.\n" },
	{ "resume", cmd_pause, "QUEUE", "Start QUEUE's jobs again.\n" },
	{ "retry", cmd_retry, "ID", "Run a failed, timed_out or cancelled job "
	    "again (same id), or a\nscheduled one now.\n" },
	{ "prune", cmd_prune, "--before AGE [--state S]...",
	    "Delete ended jobs that finished more than AGE ago (30d, 12h), "
	    "with\ntheir attempts.  Root or admin_group.\n\n"
	    "      --state S  only jobs in state S (succeeded, failed, "
	    "timed_out,\n                 cancelled); repeatable\n" },
	{ "wait", cmd_wait, "[--timeout S] ID | [--timeout S] --group G",
	    "Wait until the job (every job of group G) has ended and print "
	    "it.\nExit 0 only if it (every job) succeeded, else 1.\n\n"
	    "  -t, --timeout S  give up after S seconds (error timeout, exit "
	    "1);\n                   0 answers at once\n"
	    "  -g, --group G    wait for group G\n" },
	{ "cancel", cmd_cancel, "[--reason TEXT] ID | [--reason TEXT] "
	    "--group G",
	    "Cancel a job, or every job of group G that has not ended; "
	    "answers\nonce they have stopped.\n\n"
	    "  -r, --reason TEXT  kept as the job's cancel_reason\n"
	    "  -g, --group G      cancel group G\n" },
	{ "list", cmd_list, "[--state S] [--queue Q] [--limit N]",
	    "List jobs, newest first, as a table.\n\n"
	    "      --state S  only jobs in state S (queued, running, "
	    "succeeded,\n                 failed, timed_out, cancelled, scheduled, waiting)\n"
	    "  -q, --queue Q  only jobs of queue Q\n"
	    "      --limit N  at most N jobs, 1-10000 (default 100)\n" },
	{ "schedules", cmd_schedules, "",
	    "Print the [schedule.NAME] schedules: cron line, zone, queue, "
	    "next run,\nlast slot and the job it made.\n" },
	{ "stats", cmd_stats, "",
	    "Print each queue's queued and running jobs, workers and "
	    "capacity,\nand jobd's counters.\n" },
	{ "watch", cmd_watch, "[--queue Q] [--group G] [ID]",
	    "Print one line per job state change as it happens (time, id, "
	    "queue,\nkind, new state, name, error), until interrupted.  "
	    "--json prints the\nevent lines as jobd sends them.\n\n"
	    "  -q, --queue Q         only jobs of queue Q\n"
	    "  -g, --group G         only jobs of group G\n"
	    "  ID                    only job ID\n" },
	{ "top", cmd_top, "",
	    "A live full-screen view, refreshed every second: each queue's "
	    "queued,\nrunning, scheduled and paused jobs, workers, jobs/s and "
	    "p50/p99 run\ntime, and the latest failures.  q quits.\n" },
	{ "help", cmd_help, "[COMMAND]", "Print help on jobctl or COMMAND.\n" },
};
static const size_t ncmds = sizeof(cmds) / sizeof(cmds[0]);

static void
usage_all(FILE *f)
{
	fputs("usage: jobctl [-s PATH | -c FILE] [--json] COMMAND [ARGS...]\n"
	    "\njobd's command-line client.\n\nCommands:\n", f);
	for (size_t i = 0; i < ncmds; i++)
		fprintf(f, "  %s%s%s\n", cmds[i].name,
		    *cmds[i].synopsis ? " " : "", cmds[i].synopsis);
	fputs("\nOptions (before or after COMMAND):\n"
	    "  -s, --socket PATH  jobd's socket (default: $JOBD_SOCKET, else "
	    CTL_DEFAULT_SOCKET ")\n"
	    "  -c, --config FILE  use the socket named in jobd's config FILE\n"
	    "      --json         print jobd's raw answer lines, not text\n"
	    "  -h, --help         this help; 'jobctl COMMAND --help' for one "
	    "command\n"
	    "      --version      print jobctl's version\n"
	    "\nExit status: 0 success (wait: every job succeeded); 1 jobd "
	    "answered an error,\nor a waited job did not succeed; 2 usage "
	    "error; 3 jobd not reachable.\n"
	    "Reference: docs/JOBCTL.md.\n", f);
}

static const struct cmd *
cmd_find(const char *name)
{
	for (size_t i = 0; i < ncmds; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static int
cmd_help(struct ctl *ctl, int argc, char **argv)
{
	const struct cmd *cmd;

	if (argc < 2) {
		usage_all(stdout);
		return CTL_OK;
	}
	if ((cmd = cmd_find(argv[1])) == NULL)
		return usage_err(ctl, "no command %s", argv[1]);
	usage_cmd(cmd);
	return CTL_OK;
}


/* ---- main ---------------------------------------------------------------- */

/* The options before the command.  CTL_CONTINUE with *cmd_at = the index
 * of the command word, or an exit status. */
static int
main_opts(struct ctl *ctl, int argc, char **argv, int *cmd_at)
{
	static const struct option lo[] = { GLOBAL_LONG };
	int c, rc;

	opterr = 0;
	/* "+": stop at the command word; its options are its own. */
	while ((c = getopt_long(argc, argv, "+" GLOBAL_SHORT, lo, NULL)) !=
	    -1)
		if ((rc = opt_global(ctl, c, argv)) != CTL_CONTINUE)
			return rc;
	if (optind >= argc)
		return usage_err(ctl, "no command given");
	*cmd_at = optind;
	return CTL_CONTINUE;
}

/* Flush stdout; a reader that went away (jobctl list | head) is not an
 * error of the command. */
static int
finish(int rc)
{
	if (fflush(stdout) == EOF && errno != EPIPE) {
		fprintf(stderr, "jobctl: stdout: %s\n", strerror(errno));
		return rc == CTL_OK ? CTL_FAIL : rc;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = { 0 };
	int rc, at = 0;

	/* jobd may close the socket under a write; that is an error return,
	 * not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	log_init("jobctl", LOG_LVL_INFO);
	rc = main_opts(&ctl, argc, argv, &at);
	if (rc == CTL_CONTINUE && (ctl.cmd = cmd_find(argv[at])) == NULL)
		rc = usage_err(&ctl, "unknown command %s", argv[at]);
	if (rc == CTL_CONTINUE)
		rc = ctl.cmd->run(&ctl, argc - at, argv + at);
	if (rc == CTL_CONTINUE)
		rc = CTL_OK;
	ctl_end(&ctl);
	return finish(rc);
}
