/*
 * ctl_call.c — one jobctl invocation talking to jobd (see ctl_call.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ctl_call.h"
#include "ctl_show.h"
#include "jc.h"
#include "log.h"

void
ctl_say(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("jobctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Settle which socket to use: -s, then -c FILE's socket key, then
 * JOBD_SOCKET, then the default. */
static int
ctl_resolve(struct ctl *ctl)
{
	char err[CONF_ERRLEN];
	struct conf *conf;
	const char *env;

	if (ctl->socket != NULL && ctl->config != NULL) {
		ctl_say("give -s PATH or -c FILE, not both");
		return CTL_USAGE;
	}
	if (ctl->socket != NULL)
		return CTL_CONTINUE;
	if (ctl->config != NULL) {
		if (conf_load(ctl->config, &conf, err, sizeof(err)) < 0) {
			ctl_say("%s", err);
			return CTL_USAGE;
		}
		ctl->conf_socket = strdup(conf_daemon(conf)->socket);
		conf_free(conf);
		if (ctl->conf_socket == NULL)
			fatalx("out of memory");
		ctl->socket = ctl->conf_socket;
		ctl->origin = "from the config";
	} else if ((env = getenv("JOBD_SOCKET")) != NULL && *env != '\0') {
		ctl->socket = env;
		ctl->origin = "from JOBD_SOCKET";
	} else {
		ctl->socket = CTL_DEFAULT_SOCKET;
		ctl->origin = "the default";
	}
	return CTL_CONTINUE;
}

/* Explain why connecting failed, with what to do about it. */
static void
connect_failed(const struct ctl *ctl, int rc)
{
	struct stat st;
	const char *hint = "is jobd running? Start it with 'jobd -c FILE', "
	    "or point jobctl at its socket with -s PATH or JOBD_SOCKET=PATH";

	switch (rc) {
	case -ENOENT:
	case -ENOTDIR:
		ctl_say("cannot connect to jobd at %s (%s): no such socket\n"
		    "jobctl: %s", ctl->socket, ctl->origin, hint);
		break;
	case -ECONNREFUSED:
		if (stat(ctl->socket, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			ctl_say("cannot connect to jobd at %s (%s): not a "
			    "socket", ctl->socket, ctl->origin);
			break;
		}
		ctl_say("cannot connect to jobd at %s (%s): connection "
		    "refused, nobody is listening there (a socket left by a "
		    "jobd that is gone?)\njobctl: %s", ctl->socket, ctl->origin,
		    hint);
		break;
	case -EACCES:
	case -EPERM:
		ctl_say("cannot connect to jobd at %s (%s): permission denied\n"
		    "jobctl: the socket's owner, group and mode decide who may "
		    "connect (jobd's socket_mode and socket_group keys); ask "
		    "to be added to that group, or use another jobd",
		    ctl->socket, ctl->origin);
		break;
	case -ENAMETOOLONG:
		ctl_say("cannot connect to jobd at %s (%s): the path is longer "
		    "than a Unix socket address allows (107 bytes)",
		    ctl->socket, ctl->origin);
		break;
	default:
		ctl_say("cannot connect to jobd at %s (%s): %s\njobctl: %s",
		    ctl->socket, ctl->origin, strerror(-rc), hint);
	}
}

static int
ctl_connect(struct ctl *ctl)
{
	int rc;

	if (ctl->conn != NULL)
		return CTL_CONTINUE;
	if ((rc = ctl_resolve(ctl)) != CTL_CONTINUE)
		return rc;
	if ((rc = jc_open(ctl->socket, &ctl->conn)) < 0) {
		connect_failed(ctl, rc);
		return CTL_CONNECT;
	}
	return CTL_CONTINUE;
}

/* --json: every answer line goes to stdout as it came, error or not. */
static void
ctl_echo(const char *line, size_t len, void *arg)
{
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
}

/* A library call's return as an exit status, after saying what went
 * wrong: the call's own message, with the socket named where it helps. */
static int
ctl_status(struct ctl *ctl, int rc)
{
	const struct jc_error *e = jc_last_error(ctl->conn);
	char *m;

	switch (rc) {
	case 0:
		ctl->nok++;
		return CTL_CONTINUE;
	case JC_EJOBD:
		m = ctl_clean(e->message);
		ctl_say("%s: %s", e->name, m);
		free(m);
		return CTL_FAIL;
	case -ENOMEM:
		fatalx("out of memory");
	case -EPROTO:
	case -EMSGSIZE:
		ctl_say("%s", e->message);
		return CTL_FAIL;
	case -EINVAL:
		ctl_say("%s", e->message);
		return CTL_USAGE;
	default:
		ctl_say("%s (at %s)", e->message, ctl->socket);
		return CTL_CONNECT;
	}
}

int
ctl_call(struct ctl *ctl, json_t *req, json_t **ans)
{
	int rc;

	*ans = NULL;
	if (req == NULL && errno == EINVAL) {
		ctl_say("an argument is not valid UTF-8");
		return CTL_USAGE;
	}
	if (req == NULL)
		fatalx("out of memory");
	if ((rc = ctl_connect(ctl)) != CTL_CONTINUE) {
		json_decref(req);
		return rc;
	}
	if (ctl->json)
		jc_on_answer(ctl->conn, ctl_echo, NULL);
	rc = jc_request(ctl->conn, req, ans);
	json_decref(req);
	if (rc != 0) {
		json_decref(*ans);
		*ans = NULL;
	}
	return ctl_status(ctl, rc);
}

/* ---- wait ---------------------------------------------------------------- */

double
ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
ctl_term_width(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws)
	    == -1)
		return 0;
	return ws.ws_col;
}

/* Whether every job of jobs (an array) ended succeeded. */
static bool
all_succeeded(const json_t *jobs)
{
	const char *state;

	for (size_t i = 0; i < json_array_size(jobs); i++) {
		state = json_string_value(json_object_get(
		    json_array_get(jobs, i), "state"));
		if (state == NULL || strcmp(state, "succeeded") != 0)
			return false;
	}
	return true;
}

/* Show a wait answer (one job or a group's) and turn it into the exit
 * status: 0 only if every job succeeded.  Frees ans. */
static int
show_waited(struct ctl *ctl, json_t *ans)
{
	json_t *job = json_object_get(ans, "job");
	json_t *jobs = json_object_get(ans, "jobs");
	json_t *one = NULL;
	int rc;

	if (json_is_object(job)) {
		if ((jobs = one = json_array()) == NULL ||
		    json_array_append(one, job) < 0)
			fatalx("out of memory");
		if (!ctl->json)
			ctl_show_job(stdout, job, ctl_now());
	} else if (json_is_array(jobs)) {
		if (!ctl->json) {
			ctl_show_jobs(stdout, jobs, ctl_now(),
			    ctl_term_width());
			ctl_show_tally(stdout, jobs);
		}
	} else {
		ctl_say("not a jobd answer: no \"job\" or \"jobs\"");
		json_decref(ans);
		return CTL_FAIL;
	}
	rc = all_succeeded(jobs) ? CTL_OK : CTL_FAIL;
	json_decref(one);
	json_decref(ans);
	return rc;
}

int
ctl_wait(struct ctl *ctl, json_int_t id, json_int_t group, json_t *timeout)
{
	json_t *req, *ans;
	int rc;

	req = jc_req_wait(id, group, timeout ? json_number_value(timeout) :
	    JC_FOREVER);
	json_decref(timeout);
	if ((rc = ctl_call(ctl, req, &ans)) != CTL_CONTINUE)
		return rc;
	return show_waited(ctl, ans);
}

void
ctl_end(struct ctl *ctl)
{
	jc_close(ctl->conn);
	ctl->conn = NULL;
	free(ctl->conf_socket);
	ctl->conf_socket = NULL;
}
