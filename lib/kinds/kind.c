/*
 * kind.c — the table of job kinds (see kind.h).  Adding a kind is one line
 * here and one kind_NAME.c beside it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kind.h"
#include "kind_sleep.h"

static const struct kind *const kinds[] = {
	&kind_sleep,
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

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

void
kind_error(struct kind_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->error, sizeof(run->error), fmt, ap);
	va_end(ap);
}
