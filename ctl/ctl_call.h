/*
 * ctl_call.h — one jobctl invocation talking to jobd: which socket,
 * connecting (and saying why not), one request and its answer, and the
 * exit status that follows.
 *
 * Every function here reports what went wrong itself, once, on stderr as
 * "jobctl: ...", and returns the exit status for it; the caller only
 * passes the status on.
 */
#ifndef JOBD_CTL_CALL_H
#define JOBD_CTL_CALL_H

#include <stdbool.h>

#include <jansson.h>

#include "jc.h"

/* Where jobd listens when nothing says otherwise: the library's default,
 * so jobctl and every other client agree. */
#define CTL_DEFAULT_SOCKET JC_DEFAULT_SOCKET

/* jobctl's exit statuses, and two internal values. */
enum ctl_exit {
	CTL_OK = 0,        /* success; for a wait: every job succeeded */
	CTL_FAIL = 1,      /* an error answer, or a job that did not succeed */
	CTL_USAGE = 2,     /* a bad command line; nothing sent */
	CTL_CONNECT = 3,   /* jobd not reachable, or gone before answering */
	CTL_CONTINUE = -1, /* internal: go on */
	CTL_OTHER = -2     /* internal: not a global option */
};

struct cmd;

/* One invocation: set up by jobctl.c's option parsing, used here. */
struct ctl {
	const char *socket; /* -s PATH; else resolved at connect */
	const char *config; /* -c FILE */
	const char *origin; /* where socket came from, for messages */
	char *conf_socket;  /* the socket read from -c FILE, owned */
	bool json;          /* --json: raw answer lines on stdout */
	struct jc_conn *conn;
	int nok;               /* ok answers so far */
	const struct cmd *cmd; /* the command running (jobctl.c's) */
};

/* Print "jobctl: " and the message on stderr (stdout flushed first, so
 * the two stay in order on a terminal). */
void ctl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send req (stolen; NULL means out of memory) and read its answer,
 * connecting first if needed: -s PATH, else -c FILE's socket, else
 * JOBD_SOCKET, else CTL_DEFAULT_SOCKET.  With --json the raw answer line
 * goes to stdout, error or not.  Returns CTL_CONTINUE with *ans (owned)
 * when jobd answered ok, else the exit status: CTL_FAIL after "jobctl:
 * CODE: message" for an error answer (or one that is not JSON),
 * CTL_CONNECT when jobd cannot be reached or closed the connection first,
 * CTL_USAGE for a bad -c FILE. */
int ctl_call(struct ctl *ctl, json_t *req, json_t **ans);

/* Send a wait for job id, or for group (id 0), with timeout (stolen; NULL
 * for none), print the job(s) unless --json, and return CTL_OK only if
 * every job ended succeeded, else CTL_FAIL (or ctl_call's status). */
int ctl_wait(struct ctl *ctl, json_int_t id, json_int_t group,
    json_t *timeout);

/* Close the connection and free what ctl owns. */
void ctl_end(struct ctl *ctl);

/* The time now, epoch seconds. */
double ctl_now(void);

/* Columns of the terminal on stdout, or 0 when it is not one. */
int ctl_term_width(void);

#endif /* JOBD_CTL_CALL_H */
