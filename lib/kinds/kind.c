/*
 * kind.c — the table of job kinds (see kind.h).  Adding a kind is one line
 * here and one kind_NAME.c beside it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "kind_exec.h"
#include "kind_http.h"
#include "kind_sleep.h"

static const struct kind *const kinds[] = {
	&kind_sleep,
	&kind_exec,
	&kind_http,
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The http methods a repeat cannot change the outcome of (RFC 9110). */
const struct kind *
kind_find(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

const struct kind *
kind_at(size_t i)
{
	return i < NKINDS ? kinds[i] : NULL;
}

bool
kind_rerun(const struct kind *k, const json_t *args, enum kind_idem idem,
    char *why, size_t len)
{
	if (len > 0)
		why[0] = '\0';
	if (idem == KIND_IDEM_YES)
		return true;
	if (idem == KIND_IDEM_NO) {
		snprintf(why, len, "submitted with \"idempotent\": false");
		return false;
	}
	if (k == NULL || args == NULL || k->rerun == NULL)
		return true;
	return k->rerun(args, why, len);
}

void
kind_rerun_error(char *buf, size_t len, const char *why)
{
	snprintf(buf, len, "interrupted by a crash or stop; not run again: %s",
	    why);
}

void
kind_error(struct kind_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->error, sizeof(run->error), fmt, ap);
	va_end(ap);
}

int
kind_fields_known(const json_t *args, const char *const *names, size_t n,
    struct proto_err *err)
{
	char list[PROTO_MSG_MAX / 2] = "";
	const char *key;
	json_t *v;
	size_t i, len = 0;

	json_object_foreach((json_t *)args, key, v) {
		for (i = 0; i < n; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i < n)
			continue;
		for (i = 0; i < n && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len,
			    "%s%s", i > 0 ? ", " : "", names[i]);
		return proto_bad(err, "unknown field \"%s\" (expected %s)", key,
		    list);
	}
	return 0;
}

/* ---- the daemon's kinds: their shared state ------------------------------ */

struct kind_env {
	struct kind_conf conf;
	void *state[NKINDS];
};

int
kind_env_open(struct event_base *base, const struct kind_conf *kc,
    struct kind_env **out)
{
	struct kind_env *ke;
	size_t i;
	int rc;

	*out = NULL;
	if ((ke = calloc(1, sizeof(*ke))) == NULL)
		return -ENOMEM;
	ke->conf = *kc;
	for (i = 0; i < NKINDS; i++) {
		if (kinds[i]->open == NULL)
			continue;
		if ((rc = kinds[i]->open(base, &ke->conf, &ke->state[i])) < 0) {
			kind_env_close(ke);
			return rc;
		}
	}
	*out = ke;
	return 0;
}

void
kind_env_reconf(struct kind_env *ke, const struct kind_conf *kc)
{
	ke->conf = *kc;
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i]->reconf != NULL && ke->state[i] != NULL)
			kinds[i]->reconf(ke->state[i], &ke->conf);
}

void
kind_env_close(struct kind_env *ke)
{
	if (ke == NULL)
		return;
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i]->close != NULL && ke->state[i] != NULL)
			kinds[i]->close(ke->state[i]);
	free(ke);
}

const struct kind_conf *
kind_env_conf(const struct kind_env *ke)
{
	return &ke->conf;
}

int
kind_env_allowed(const struct kind_env *ke, const struct kind *k,
    struct proto_err *err)
{
	if (k->allowed == NULL || k->allowed(&ke->conf))
		return 0;
	proto_err_set(err, PROTO_FORBIDDEN, "%s jobs are turned off on this "
	    "jobd (allow_%s = no)", k->name, k->name);
	return -EPERM;
}

static size_t
kind_index(const struct kind *k)
{
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (kinds[i] == k)
			break;
	return i;
}

void
kind_env_prepare(const struct kind_env *ke, const struct kind *k,
    struct kind_run *run)
{
	size_t i = kind_index(k);

	run->state = i < NKINDS ? ke->state[i] : NULL;
	run->conf = &ke->conf;
}
