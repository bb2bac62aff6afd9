/*
 * kind_exec.c — the `exec` kind (see kind_exec.h, docs/EXEC.md).
 *
 * A run is one child (co_proc: no shell, its own process group, killed
 * with jobd) and up to three helper tasks beside the job's own: one per
 * captured stream, reading it to end of file, and one feeding stdin.  The
 * job's task only waits for the child to exit.  So a program that fills
 * its stdout without reading its stdin cannot deadlock against us, and the
 * job's deadline or cancel reaches the one task that stops the child.
 *
 * However the child ends, the job's task then, shielded and bounded, lets
 * the readers reach end of file, and turns what they kept into the
 * result.  co_proc kills what is left of the child's process group as the
 * child is reaped (kill_group_on_exit), so the pipes close at once unless
 * a process left the group with setsid().
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "co.h"
#include "co_io.h"
#include "co_pool.h"
#include "co_proc.h"
#include "co_sched.h"
#include "co_sync.h"
#include "kind_exec.h"
#include "utf8.h"

extern char **environ;

/* A capture buffer's first size (it doubles up to the cap), and the size
 * of the buffer that bytes past the cap are read into and dropped. */
#define CAPTURE_FIRST 4096
#define CAPTURE_SINK  65536

/* The variable that tells the program its job's id. */
#define JOB_ID_VAR "JOBD_JOB_ID"
#define JOB_ID_MAX (sizeof(JOB_ID_VAR "=-9223372036854775808"))

/* Threads that start children (co_proc's spawner): at most this many,
 * and no more than exec_concurrency.  A start holds one for the child's
 * set-up and the first half of its execve. */
#define SPAWNERS_MAX 4

/* Longest program or directory name quoted in an error. */
#define NAME_MAX_ERR 200

/* The kind's shared state: one per daemon. */
struct exec_state {
	struct co_sem *sem;     /* exec_concurrency permits */
	struct co_pool *spawner;        /* made at the first run */
	unsigned nspawners;
};

/* The fields of args, as check() validated them; borrowed from args. */
struct exec_args {
	json_t *argv;
	json_t *env;            /* or NULL */
	const char *cwd;        /* or NULL */
	const char *in;         /* stdin, or NULL: /dev/null */
	size_t inlen;
};

/* One captured stream, read to its end by its own task. */
struct capture {
	int fd;
	size_t cap;             /* bytes kept at most (max_output) */
	char *buf;              /* what is kept: len bytes of size */
	size_t len, size;
	char *sink;             /* bytes past the cap are read here */
	char tiny[64];          /* the sink when even that cannot be had */
	bool cut;               /* bytes were dropped */
	struct co_task *task;
};

/* One run of an exec job. */
struct exec_job {
	struct kind_run *run;
	struct exec_args a;
	const char **argv;      /* NULL-terminated, into a.argv */
	char **envp;            /* NULL-terminated */
	char *envbuf;           /* the "NAME=value" strings envp adds */
	struct co_proc *p;
	struct capture out, err;
	struct co_task *feeder; /* writes stdin */
	int wstatus;
	bool exited;            /* the child was reaped: wstatus is valid */
};

/* ---- args ----------------------------------------------------------------- */

/* A JSON string without NUL (one the wire can carry and exec can take). */
static bool
is_cstring(const json_t *v)
{
	return json_is_string(v) && memchr(json_string_value(v), '\0',
	    json_string_length(v)) == NULL;
}

static const char *const exec_fields[] = { "argv", "cwd", "env", "stdin" };

static int
argv_check(const json_t *args, json_t **argv, struct proto_err *err)
{
	json_t *v;
	size_t i;

	if (proto_field_array(args, "argv", PROTO_REQUIRED, 1,
	    KIND_EXEC_ARGV_MAX, argv, err) < 0)
		return -EINVAL;
	json_array_foreach(*argv, i, v)
		if (!is_cstring(v))
			return proto_bad(err, "field \"argv\": element %zu is not a "
			    "string without NUL characters", i);
	if (json_string_length(json_array_get(*argv, 0)) == 0)
		return proto_bad(err, "field \"argv\": the program (element 0) is "
		    "empty");
	return 0;
}

static int
env_check(const json_t *args, json_t **env, struct proto_err *err)
{
	const char *key;
	json_t *v;
	int rc;

	if ((rc = proto_field_object(args, "env", PROTO_OPTIONAL, env,
	    err)) <= 0)
		return rc;
	if (json_object_size(*env) > KIND_EXEC_ENV_MAX)
		return proto_bad(err, "field \"env\": more than %d variables",
		    KIND_EXEC_ENV_MAX);
	json_object_foreach(*env, key, v) {
		if (key[0] == '\0' || strchr(key, '=') != NULL)
			return proto_bad(err, "field \"env\": the name \"%s\" is "
			    "empty or contains '='", key);
		if (!is_cstring(v))
			return proto_bad(err, "field \"env\": the value of \"%s\" is "
			    "not a string without NUL characters", key);
	}
	return 0;
}

/* Validate args into a (borrowed from args).  0, or -EINVAL with err. */
static int
exec_args(const json_t *args, struct exec_args *a, struct proto_err *err)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(args))
		rc = proto_bad(err, "expected an object");
	else
		rc = kind_fields_known(args, exec_fields, sizeof(exec_fields) /
		    sizeof(exec_fields[0]), err);
	if (rc >= 0)
		rc = argv_check(args, &a->argv, err);
	if (rc >= 0 && (rc = proto_field_string(args, "cwd", PROTO_OPTIONAL,
	    PATH_MAX - 1, &a->cwd, err)) > 0 && a->cwd[0] == '\0')
		rc = proto_bad(err, "field \"cwd\": empty");
	if (rc >= 0)
		rc = env_check(args, &a->env, err);
	if (rc >= 0 && (rc = proto_field_string(args, "stdin", PROTO_OPTIONAL,
	    SIZE_MAX, &a->in, err)) > 0)
		a->inlen = json_string_length(json_object_get(args, "stdin"));
	if (rc < 0) {
		proto_err_prefix(err, "args: ");
		return -EINVAL;
	}
	return 0;
}

static int
exec_check(const json_t *args, struct proto_err *err)
{
	struct exec_args a;

	return exec_args(args, &a, err);
}

/* ---- the command ---------------------------------------------------------- */

static int
cmd_argv(struct exec_job *ej)
{
	size_t i, n = json_array_size(ej->a.argv);

	if ((ej->argv = calloc(n + 1, sizeof(*ej->argv))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ej->argv[i] = json_string_value(json_array_get(ej->a.argv, i));
	return 0;
}

/* Does the job set the variable of the environ entry e ("NAME=value")? */
static bool
env_replaced(const char *e, const json_t *env)
{
	size_t n = strcspn(e, "=");

	if (n == sizeof(JOB_ID_VAR) - 1 && memcmp(e, JOB_ID_VAR, n) == 0)
		return true;
	return json_object_getn(env, e, n) != NULL;
}

/* The child's environment: jobd's, but for what env sets, then env, then
 * JOBD_JOB_ID (which env cannot override). */
static int
cmd_env(struct exec_job *ej)
{
	const json_t *env = ej->a.env;
	size_t n = 0, size = JOB_ID_MAX, k = 0;
	const char *key;
	json_t *v;
	char **e, *s;

	for (e = environ; *e != NULL; e++)
		n++;
	json_object_foreach((json_t *)env, key, v)
		size += strlen(key) + json_string_length(v) + 2;
	ej->envp = calloc(n + json_object_size(env) + 2, sizeof(*ej->envp));
	if (ej->envp == NULL || (ej->envbuf = malloc(size)) == NULL)
		return -ENOMEM;
	for (e = environ; *e != NULL; e++)
		if (!env_replaced(*e, env))
			ej->envp[k++] = *e;
	s = ej->envbuf;
	json_object_foreach((json_t *)env, key, v) {
		if (strcmp(key, JOB_ID_VAR) == 0)
			continue;
		ej->envp[k++] = s;
		s += sprintf(s, "%s=%s", key, json_string_value(v)) + 1;
	}
	if (ej->run->job_id > 0) {
		ej->envp[k++] = s;
		sprintf(s, "%s=%lld", JOB_ID_VAR, (long long)ej->run->job_id);
	}
	return 0;
}

/* ---- the helper tasks ----------------------------------------------------- */

static void
capture_init(struct capture *c, int fd, size_t cap)
{
	c->fd = fd;
	c->cap = cap;
}

/* Where the next read goes and how much it may take: the buffer while it
 * is under the cap (grown as needed), else the sink.  *keep says which. */
static size_t
capture_room(struct capture *c, char **dst, bool *keep)
{
	size_t want;
	char *nb;

	if (c->len < c->cap && c->len == c->size) {
		want = c->size == 0 ? CAPTURE_FIRST : c->size * 2;
		if (want > c->cap)
			want = c->cap;
		if ((nb = realloc(c->buf, want)) != NULL) {
			c->buf = nb;
			c->size = want;
		}       /* else out of memory: keep what we have */
	}
	if ((*keep = c->len < c->size)) {
		*dst = c->buf + c->len;
		return c->size - c->len;
	}
	if (c->sink == NULL && (c->sink = malloc(CAPTURE_SINK)) == NULL) {
		*dst = c->tiny;
		return sizeof(c->tiny);
	}
	*dst = c->sink;
	return CAPTURE_SINK;
}

/* Task: read one stream to its end, keeping up to the cap, dropping the
 * rest: the child must never block on a full pipe. */
static int
capture_main(void *arg)
{
	struct capture *c = arg;
	size_t room;
	ssize_t n;
	bool keep;
	char *dst;

	for (;;) {
		room = capture_room(c, &dst, &keep);
		if ((n = co_read(c->fd, dst, room, CO_FOREVER)) <= 0)
			return (int)n;
		if (keep)
			c->len += (size_t)n;
		else
			c->cut = true;
	}
}

/* Task: write stdin, then close it so the child reads end of file. */
static int
feed_main(void *arg)
{
	struct exec_job *ej = arg;
	ssize_t rc;

	rc = co_write_all(co_proc_stdin_fd(ej->p), ej->a.in, ej->a.inlen,
	    CO_FOREVER);
	co_proc_close_stdin(ej->p);
	/* EPIPE: the program did not want it all. */
	return rc >= 0 || rc == -EPIPE ? 0 : (int)rc;
}

/* Wait (up to the absolute time end) for c's reader to reach the end. */
static void
capture_end(struct capture *c, double end)
{
	double left = end - co_now();

	if (c->task != NULL && co_wait_for(c->task, left > 0 ? left : 0,
	    NULL) < 0)
		c->cut = true;  /* a process outside the group holds the pipe */
	c->task = NULL;
}

static void
capture_free(struct capture *c)
{
	if (c->task != NULL)
		(void)co_reap(c->task, NULL);
	free(c->buf);
	free(c->sink);
}

/* ---- a run ---------------------------------------------------------------- */

/* Free everything of ej: helper tasks first (they use the child's fds),
 * then the child (killed with its group and reaped if it still runs). */
static void
job_free(struct exec_job *ej)
{
	capture_free(&ej->out);
	capture_free(&ej->err);
	if (ej->feeder != NULL)
		(void)co_reap(ej->feeder, NULL);
	co_proc_free(ej->p);
	free(ej->argv);
	free(ej->envp);
	free(ej->envbuf);
}

/* The error for a child that could not be started.  co_proc cannot say
 * whether exec or the chdir before it failed, so look at the directory. */
static void
spawn_error(struct exec_job *ej, int rc)
{
	const char *prog = ej->argv[0], *cwd = ej->a.cwd;
	struct stat sb;
	int err = 0;

	if (cwd != NULL) {
		if (stat(cwd, &sb) < 0)
			err = errno;
		else if (!S_ISDIR(sb.st_mode))
			err = ENOTDIR;
		else if (access(cwd, X_OK) < 0)
			err = errno;
	}
	if (err != 0)
		kind_error(ej->run, "cannot start \"%.*s\": working directory "
		    "\"%.*s\": %s", (int)utf8_prefix(prog, NAME_MAX_ERR), prog,
		    (int)utf8_prefix(cwd, NAME_MAX_ERR), cwd, strerror(err));
	else
		kind_error(ej->run, "cannot start \"%.*s\": %s",
		    (int)utf8_prefix(prog, NAME_MAX_ERR), prog, strerror(-rc));
	ej->run->permanent = true;      /* a retry would not start it either */
}

/* Start the helper tasks for a child just spawned. */
static int
job_helpers(struct exec_job *ej)
{
	struct co_rt *rt = co_current_rt();
	size_t cap = ej->run->conf->max_output;

	capture_init(&ej->out, co_proc_stdout_fd(ej->p), cap);
	capture_init(&ej->err, co_proc_stderr_fd(ej->p), cap);
	if (co_spawn(rt, capture_main, &ej->out, &ej->out.task) < 0 ||
	    co_spawn(rt, capture_main, &ej->err, &ej->err.task) < 0 ||
	    (ej->a.in != NULL &&
	    co_spawn(rt, feed_main, ej, &ej->feeder) < 0))
		return -ENOMEM;
	return 0;
}

/* Start the child and its helpers.  On an error run->error says why (but
 * for -ETIMEDOUT / -ECANCELED); a child already started is left to
 * job_free. */
static int
job_spawn(struct exec_job *ej)
{
	struct exec_state *es = ej->run->state;
	struct co_proc_opts o = {
		.spawner = es != NULL ? es->spawner : NULL,
		.argv = ej->argv,
		.envp = (const char *const *)ej->envp,
		.cwd = ej->a.cwd,
		.pipe_stdin = ej->a.in != NULL,
		.pipe_stdout = true,
		.pipe_stderr = true,
		.kill_group_on_exit = true,
	};
	struct co_scope bound;
	int rc;

	/* A stopped job starts nothing; once the spawn is under way it runs to
	 * its verdict in a shield.  Otherwise a stop landing after the exec
	 * but before the loop saw it would discard a program that has already
	 * run (and written output the job must keep); this way job_wait sees
	 * the stop (it is sticky) and stops the program as usual. */
	if ((rc = co_check()) < 0)
		return rc;
	co_shield_enter();
	co_scope_enter(&bound, KIND_EXEC_SPAWN_WAIT);
	rc = co_proc_spawn(&o, &ej->p);
	if (co_scope_exit(&bound) < 0) {
		co_shield_exit();
		kind_error(ej->run, "the program did not start within %.0f s",
		    KIND_EXEC_SPAWN_WAIT);
		return -EIO;
	}
	co_shield_exit();
	if (rc < 0) {
		if (rc != -ETIMEDOUT && rc != -ECANCELED)
			spawn_error(ej, rc);
		return rc;
	}
	if ((rc = job_helpers(ej)) < 0)
		kind_error(ej->run, "out of memory");  /* job_free kills it */
	return rc;
}

/* Stop the child: SIGTERM to its group, SIGKILL after kill_grace.  In a
 * shield; bounded by kill_grace + KIND_EXEC_KILL_WAIT. */
static void
job_stop(struct exec_job *ej)
{
	struct co_proc *p = ej->p;

	if (!co_proc_reaped(p)) {
		(void)co_proc_signal(p, SIGTERM);
		if (co_proc_wait(p, ej->run->conf->kill_grace, NULL) < 0) {
			(void)co_proc_signal(p, SIGKILL);
			if (co_proc_wait(p, KIND_EXEC_KILL_WAIT, NULL) < 0)
				return; /* stuck in the kernel: job_free */
		}
	}
	/* (A wait that lost the race to a cancel may have reaped it too.) */
	ej->exited = co_proc_reaped(p) &&
	    co_proc_wait(p, 0, &ej->wstatus) == 0;
}

/* Wait for the child to exit, or stop it when the job is stopped first;
 * then let the readers finish.  Returns what ended the wait. */
static int
job_wait(struct exec_job *ej)
{
	int rc = co_proc_wait(ej->p, CO_FOREVER, &ej->wstatus);
	double end;

	co_shield_enter();
	if (rc == 0)
		ej->exited = true;
	else
		job_stop(ej);
	/* The group is dead: the pipes end at once, unless a process that
	 * left the group (setsid) holds them. */
	end = co_now() + KIND_EXEC_DRAIN;
	capture_end(&ej->out, end);
	capture_end(&ej->err, end);
	if (ej->feeder != NULL)
		(void)co_reap(ej->feeder, NULL);
	ej->feeder = NULL;
	co_shield_exit();
	return rc;
}

static void
sig_name(int sig, char *buf, size_t size)
{
	const char *abbr = sigabbrev_np(sig);

	if (abbr != NULL)
		snprintf(buf, size, "SIG%s", abbr);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, size, "SIG%d", sig);
}

static json_t *
capture_json(const struct capture *c, bool *truncated)
{
	*truncated |= c->cut;
	return utf8_json(c->buf, c->len, c->cut, c->cap, truncated);
}

/* The result: how the child ended (nulls if it was never reaped) and
 * its output.  NULL when out of memory. */
static json_t *
job_result(struct exec_job *ej)
{
	int st = ej->wstatus;
	bool exited = ej->exited && WIFEXITED(st);
	bool killed = ej->exited && WIFSIGNALED(st);
	bool cut = false;
	char name[32];
	json_t *r;

	if ((r = json_object()) == NULL)
		return NULL;
	if (killed)
		sig_name(WTERMSIG(st), name, sizeof(name));
	/* Each value is made in its own call: set_new frees it on failure,
	 * and nothing made earlier is left behind when the chain stops. */
	if (json_object_set_new(r, "exit_code", exited ?
	    json_integer(WEXITSTATUS(st)) : json_null()) < 0 ||
	    json_object_set_new(r, "signal", killed ? json_string(name) :
	    json_null()) < 0 ||
	    json_object_set_new(r, "stdout", capture_json(&ej->out, &cut)) < 0 ||
	    json_object_set_new(r, "stderr", capture_json(&ej->err, &cut)) < 0 ||
	    json_object_set_new(r, "truncated", json_boolean(cut)) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* The run's verdict from how the child ended. */
static int
job_verdict(struct exec_job *ej)
{
	int st = ej->wstatus;
	char name[32];

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st)) {
		kind_error(ej->run, "exited with status %d", WEXITSTATUS(st));
	} else {
		sig_name(WTERMSIG(st), name, sizeof(name));
		kind_error(ej->run, "killed by %s%s", name,
		    WCOREDUMP(st) ? " (core dumped)" : "");
	}
	return -EIO;
}

/* Run the started child to its end; fills run->result. */
static int
job_finish(struct exec_job *ej)
{
	int rc = job_wait(ej);

	if ((ej->run->result = job_result(ej)) == NULL && rc == 0) {
		kind_error(ej->run, "out of memory");
		return -ENOMEM;
	}
	if (rc == -ETIMEDOUT || rc == -ECANCELED)
		return rc;              /* stopped: keeps its output */
	if (rc < 0) {
		kind_error(ej->run, "waiting for the program: %s",
		    strerror(-rc));
		return rc;
	}
	return job_verdict(ej);
}

/* Take the args apart into what co_proc_spawn wants. */
static int
job_prepare(struct exec_job *ej)
{
	struct proto_err err;

	if (exec_args(ej->run->args, &ej->a, &err) < 0) {
		kind_error(ej->run, "%s", err.msg);     /* check() was skipped */
		return -EINVAL;
	}
	if (cmd_argv(ej) < 0 || cmd_env(ej) < 0) {
		kind_error(ej->run, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* The spawner threads, made in the first run: a pool needs a runtime,
 * which open() does not have.  Without them children start from the loop
 * thread, which is slower but works. */
static void
spawner_ensure(struct exec_state *es)
{
	if (es->spawner == NULL)
		es->spawner = co_pool_new(co_current_rt(), es->nspawners);
}

static int
exec_run(struct kind_run *run)
{
	struct exec_state *es = run->state;
	struct exec_job ej;
	bool held = false;
	int rc;

	memset(&ej, 0, sizeof(ej));
	ej.run = run;
	if ((rc = job_prepare(&ej)) < 0)
		goto out;
	/* A turn among the exec jobs; the wait counts against the job's
	 * deadline and a cancel ends it. */
	if (es != NULL) {
		if ((rc = co_sem_acquire(es->sem)) < 0)
			goto out;
		held = true;
		spawner_ensure(es);
	}
	if ((rc = job_spawn(&ej)) == 0)
		rc = job_finish(&ej);
out:
	job_free(&ej);
	if (held)
		co_sem_release(es->sem);
	return rc;
}

/* ---- the kind ------------------------------------------------------------- */

static void
exec_close(void *state)
{
	struct exec_state *es = state;

	co_pool_free(es->spawner);      /* no run left: no child left */
	co_sem_free(es->sem);
	free(es);
}

static int
exec_open(struct event_base *base, const struct kind_conf *kc, void **state)
{
	unsigned n = kc->exec_concurrency > 0 ? (unsigned)kc->exec_concurrency :
	    1;
	struct exec_state *es;

	(void)base;
	if ((es = calloc(1, sizeof(*es))) == NULL)
		return -ENOMEM;
	es->nspawners = n < SPAWNERS_MAX ? n : SPAWNERS_MAX;
	if ((es->sem = co_sem_new(n)) == NULL) {
		exec_close(es);
		return -ENOMEM;
	}
	*state = es;
	return 0;
}

static bool
exec_allowed(const struct kind_conf *kc)
{
	return kc->allow_exec;
}

const struct kind kind_exec = {
	.name = "exec",
	.check = exec_check,
	.run = exec_run,
	.open = exec_open,
	.close = exec_close,
	.allowed = exec_allowed,
};
