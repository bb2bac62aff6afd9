/*
 * proto_dump.c — JSON text out: answers (proto_dump) and stored args and
 * results (proto_dumps), with every real in its shortest round-trip form.
 *
 * jansson prints a real with "%.Ng" for one fixed N: 17 reads back exact
 * but shows 0.1 as 0.10000000000000001; 16 shows 0.1 but turns
 * 0.30000000000000004 into 0.3, another number.  So the text is dumped
 * with N = 17 (exact), and each real in it is then written again as the
 * first of %.15g, %.16g, %.17g that reads back to the same double: 15
 * digits always do for a number that has a 15-digit spelling, so this is
 * the shortest (for subnormals, below 2.2e-308, it still reads back
 * exact but may be longer than need be).  Outside strings, a JSON number token with '.', 'e' or
 * 'E' is a real (jansson writes integers without them), so the rewrite
 * needs no parser: it skips strings and respells those tokens.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct dumpbuf {
	char *p;
	size_t len, cap;
};

/* Room for n more bytes.  0 or -1 (jansson's callback convention). */
static int
dumpbuf_reserve(struct dumpbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	while (cap - b->len < n)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
	struct dumpbuf *b = data;

	if (dumpbuf_reserve(b, size) < 0)
		return -1;
	memcpy(b->p + b->len, buf, size);
	b->len += size;
	return 0;
}

/* jansson's spelling of a %g text: a '.' or an 'e' (so it reads back as
 * a real), no '+' and no leading zeros in the exponent. */
static void
real_tidy(char *buf, size_t len)
{
	char *e = strchr(buf, 'e'), *d;
	size_t n = strlen(buf);

	if (e == NULL) {
		if (strchr(buf, '.') == NULL && n + 2 < len)
			memcpy(buf + n, ".0", 3);
		return;
	}
	d = e + 1;
	if (*d == '+')
		memmove(d, d + 1, strlen(d));
	else if (*d == '-')
		d++;
	while (d[0] == '0' && d[1] != '\0')
		memmove(d, d + 1, strlen(d));
}

int
proto_real_text(double d, char *buf, size_t len)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, len, "%.*g", prec, d);
		if (n < 0 || (size_t)n >= len)
			return -ENOSPC;
		if (strtod(buf, NULL) == d)
			break;
	}
	real_tidy(buf, len);
	return (int)strlen(buf);
}

/* Bytes from in[i] (just past an opening '"') to past the closing one. */
static size_t
span_string(const char *in, size_t n, size_t i)
{
	while (i < n && in[i] != '"')
		i += in[i] == '\\' ? 2 : 1;
	return i < n ? i + 1 : n;
}

static bool
starts_number(char c)
{
	return c == '-' || (c >= '0' && c <= '9');
}

/* One number token, respelt if it is a real. */
static int
respell_number(const char *p, size_t k, struct dumpbuf *out)
{
	char tok[40], num[40];

	if (k >= sizeof(tok) || (memchr(p, '.', k) == NULL &&
	    memchr(p, 'e', k) == NULL && memchr(p, 'E', k) == NULL))
		return dump_cb(p, k, out);      /* an integer */
	memcpy(tok, p, k);
	tok[k] = '\0';
	if (proto_real_text(strtod(tok, NULL), num, sizeof(num)) < 0)
		return -1;
	return dump_cb(num, strlen(num), out);
}

/* Copy in to out, respelling each real (see the top of the file). */
static int
respell(const char *in, size_t n, struct dumpbuf *out)
{
	size_t i = 0, j;
	int rc = 0;

	while (i < n && rc == 0) {
		j = i + 1;
		if (in[i] == '"') {
			j = span_string(in, n, j);
		} else if (starts_number(in[i])) {
			while (j < n && strchr("0123456789+-.eE", in[j]) !=
			    NULL)
				j++;
			rc = respell_number(in + i, j - i, out);
			i = j;
			continue;
		} else {
			while (j < n && in[j] != '"' && !starts_number(in[j]))
				j++;
		}
		rc = dump_cb(in + i, j - i, out);
		i = j;
	}
	return rc;
}

/* v as text in out (not terminated): 0 or -1 (out of memory, or a value
 * jansson cannot write: a non-finite real). */
static int
dump_into(const json_t *v, size_t flags, struct dumpbuf *out)
{
	struct dumpbuf raw = { NULL, 0, 0 };
	int rc = -1;

	if (json_dump_callback(v, dump_cb, &raw, flags |
	    JSON_REAL_PRECISION(17)) == 0 && dumpbuf_reserve(out, raw.len) ==
	    0)
		rc = respell(raw.p, raw.len, out);
	free(raw.p);
	return rc;
}

char *
proto_dumps(const json_t *v, size_t flags)
{
	struct dumpbuf b = { NULL, 0, 0 };

	if (v == NULL || dump_into(v, flags, &b) < 0 ||
	    dumpbuf_reserve(&b, 1) < 0) {
		free(b.p);
		return NULL;
	}
	b.p[b.len] = '\0';
	return b.p;
}

int
proto_dump(const json_t *resp, char **out, size_t *len)
{
	struct dumpbuf b = { NULL, 0, 0 };
	int rc = -EINVAL;

	*out = NULL;
	*len = 0;
	if (!json_is_object(resp))
		goto out;
	rc = -ENOMEM;
	/* Compact output puts no whitespace between tokens, and jansson
	 * escapes control characters inside strings, so no '\n' but ours. */
	if (dump_into(resp, JSON_COMPACT, &b) < 0 ||
	    dumpbuf_reserve(&b, 2) < 0)
		goto out;
	rc = -EINVAL;
	if (memchr(b.p, '\n', b.len) != NULL)
		goto out;
	b.p[b.len++] = '\n';
	b.p[b.len] = '\0';
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	rc = 0;
out:
	free(b.p);
	return rc;
}
