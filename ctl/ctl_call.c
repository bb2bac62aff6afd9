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
#include "ctl_json.h"
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

/* Read one answer line: CTL_CONTINUE with *line, or an exit status after
 * saying what went wrong. */
static int
ctl_read(struct ctl *ctl, char **line, size_t *len)
{
	int rc = jc_recv(ctl->conn, JC_FOREVER, line, len);

	switch (rc) {
	case 0:
		return CTL_CONTINUE;
	case -EPIPE:
	case -ECONNRESET:
		ctl_say("jobd at %s closed the connection without answering",
		    ctl->socket);
		return CTL_CONNECT;
	case -EBADMSG:
		ctl_say("jobd at %s closed the connection in the middle of an "
		    "answer", ctl->socket);
		return CTL_CONNECT;
	case -EMSGSIZE:
		ctl_say("jobd's answer is longer than %zu bytes; not read",
		    JC_LINE_MAX);
		return CTL_FAIL;
	default:
		ctl_say("reading from jobd at %s: %s", ctl->socket,
		    strerror(-rc));
		return CTL_CONNECT;
	}
}

/* Check an answer line; print "jobctl: CODE: message" for an error. */
static int
ctl_answer(const char *line, size_t len, json_t **ans)
{
	const char *code, *msg;
	json_error_t je;
	json_t *e;
	char *m;

	*ans = json_loadb(line, len, 0, &je);
	if (*ans == NULL || !json_is_boolean(json_object_get(*ans, "ok"))) {
		ctl_say("not a jobd answer: %s", *ans == NULL ? je.text :
		    "no \"ok\" field");
		json_decref(*ans);
		*ans = NULL;
		return CTL_FAIL;
	}
	if (json_is_true(json_object_get(*ans, "ok")))
		return CTL_CONTINUE;
	e = json_object_get(*ans, "error");
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	m = ctl_clean(msg ? msg : "(no message)");
	ctl_say("%s: %s", code ? code : "error", m);
	free(m);
	json_decref(*ans);
	*ans = NULL;
	return CTL_FAIL;
}

int
ctl_call(struct ctl *ctl, json_t *req, json_t **ans)
{
	char *text, *line;
	size_t len;
	int rc, sent;

	*ans = NULL;
	if (req == NULL)
		fatalx("out of memory");
	if ((rc = ctl_connect(ctl)) != CTL_CONTINUE) {
		json_decref(req);
		return rc;
	}
	text = ctl_json_text(req);
	json_decref(req);
	if (text == NULL)
		fatalx("out of memory");
	sent = jc_send(ctl->conn, text, strlen(text), JC_FOREVER);
	free(text);
	/* A jobd that refuses us (too many connections) says why and then
	 * closes: read what it said even when the write failed. */
	if (sent < 0 && sent != -EPIPE && sent != -ECONNRESET) {
		ctl_say("writing to jobd at %s: %s", ctl->socket,
		    strerror(-sent));
		return CTL_CONNECT;
	}
	if ((rc = ctl_read(ctl, &line, &len)) != CTL_CONTINUE)
		return rc;
	if (ctl->json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	}
	if ((rc = ctl_answer(line, len, ans)) == CTL_CONTINUE)
		ctl->nok++;
	return rc;
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

	req = json_pack("{s:s}", "op", "wait");
	if (req == NULL || json_object_set_new(req, id ? "id" : "group",
	    json_integer(id ? id : group)) < 0 ||
	    (timeout && json_object_set_new(req, "timeout", timeout) < 0))
		fatalx("out of memory");
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
