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
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "utf8.h"

struct dumpbuf {
	char *p;
	size_t len, cap;
	char *stack;            /* p's first buffer, not malloc'd; or NULL */
};

/* proto_dumps' first buffer, on the caller's stack: most texts it makes
 * (a job's args, a result) are a few dozen bytes and are kept for a
 * job's life, so they get an exact malloc, not a 256-byte one. */
#define DUMPS_STACK 256

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
	if (b->p != NULL && b->p == b->stack) {
		if ((p = malloc(cap)) == NULL)
			return -1;
		memcpy(p, b->p, b->len);
	} else if ((p = realloc(b->p, cap)) == NULL)
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

/* Bytes from in[i] (just past an opening '"') to past the closing one:
 * the next '"' not escaped (an odd run of backslashes before it). */
static size_t
span_string(const char *in, size_t n, size_t i)
{
	const char *q;
	size_t b;

	while (i < n && (q = memchr(in + i, '"', n - i)) != NULL) {
		for (b = 0; q - b > in + i && q[-1 - (ptrdiff_t)b] == '\\'; b++)
			;
		i = (size_t)(q - in) + 1;
		if (b % 2 == 0)
			return i;
	}
	return n;
}

static bool
starts_number(char c)
{
	return c == '-' || (c >= '0' && c <= '9');
}

static bool
number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
	    c == '+' || c == '-';
}

/* jansson writes an integer without '.', 'e' or 'E', a real with one. */
static bool
real_token(const char *p, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (p[i] == '.' || p[i] == 'e' || p[i] == 'E')
			return true;
	return false;
}

/* Significant digits of a number token's mantissa. */
static size_t
sig_digits(const char *p, size_t k)
{
	size_t n = 0;
	bool lead = true;

	for (size_t i = 0; i < k && p[i] != 'e' && p[i] != 'E'; i++) {
		if (p[i] < '0' || p[i] > '9')
			continue;
		if (lead && p[i] == '0')
			continue;
		lead = false;
		n++;
	}
	return n;
}

/* A decimal number taken apart: value = (neg ? -1 : 1) * 0.DIGITS * 10^exp,
 * DIGITS without leading zeros. */
struct dec {
	bool neg;
	char dig[40];
	int n;          /* digits in dig */
	int exp;
};

/* Take a %.17g token apart; false if it is not one. */
static bool
dec_parse(const char *p, size_t k, struct dec *d)
{
	int point = -1, seen = 0;
	size_t i = 0;

	memset(d, 0, sizeof(*d));
	if (i < k && p[i] == '-')
		d->neg = (i++, true);
	for (; i < k && p[i] != 'e' && p[i] != 'E'; i++) {
		if (p[i] == '.') {
			point = seen;
		} else if (p[i] < '0' || p[i] > '9' || d->n >= 39) {
			return false;
		} else {
			seen++;
			if (d->n > 0 || p[i] != '0')
				d->dig[d->n++] = p[i];
			else
				d->exp--;       /* a leading zero */
		}
	}
	d->exp += point < 0 ? seen : point;
	if (i < k)
		d->exp += atoi(p + i + 1);
	return d->n > 0;
}

/* Round d to prec digits: half up, or down when up is false.  (The token
 * is itself rounded, so a tail of "5" may really be below the half: the
 * caller tries both, and reads every candidate back.) */
static void
dec_round(struct dec *d, int prec, bool up)
{
	int i = prec;

	if (d->n <= prec)
		return;
	d->n = prec;
	if (up && d->dig[prec] >= '5') {
		while (--i >= 0 && d->dig[i] == '9')
			d->dig[i] = '0';
		if (i < 0) {
			d->dig[0] = '1';
			d->n = 1;
			d->exp++;
		} else
			d->dig[i]++;
	}
	while (d->n > 1 && d->dig[d->n - 1] == '0')
		d->n--;
}

/* d as %.{prec}g would print it, then as jansson spells reals. */
static void
dec_text(const struct dec *d, int prec, char *b, size_t len)
{
	int x = d->exp - 1, o = 0, i;

	if (d->neg)
		b[o++] = '-';
	if (x < -4 || x >= prec) {
		b[o++] = d->dig[0];
		if (d->n > 1)
			b[o++] = '.';
		for (i = 1; i < d->n; i++)
			b[o++] = d->dig[i];
		snprintf(b + o, len - (size_t)o, "e%d", x);
		return;
	}
	if (x < 0) {
		b[o++] = '0';
		b[o++] = '.';
		for (i = x + 1; i < 0; i++)
			b[o++] = '0';
	}
	for (i = 0; i < d->n || i <= x; i++) {
		if (i == x + 1 && x >= 0)
			b[o++] = '.';
		b[o++] = i < d->n ? d->dig[i] : '0';
	}
	b[o] = '\0';
	real_tidy(b, len);
}

/* A shorter spelling of the real token p (k bytes, jansson's %.17g) into
 * num: its length, or 0 to keep the token.  A token of 15 significant
 * digits or fewer is already the shortest (two spellings of at most 15
 * digits cannot both read back as one double).  Otherwise the token is
 * rounded to 15, then 16 digits as text (snprintf would cost four times
 * a strtod), and the first that reads back as the same double wins. */
static size_t
real_shorter(const char *p, size_t k, char *num, size_t len)
{
	struct dec d, r;
	char tok[48];
	double v;

	if (k >= sizeof(tok) || sig_digits(p, k) <= 15 || !dec_parse(p, k, &d))
		return 0;
	memcpy(tok, p, k);
	tok[k] = '\0';
	v = strtod(tok, NULL);
	for (int prec = 15; prec <= 16; prec++) {
		for (int up = 1; up >= 0; up--) {
			if (!up && (d.n <= prec || d.dig[prec] != '5'))
				break;  /* down is no tie candidate */
			r = d;
			dec_round(&r, prec, up);
			dec_text(&r, prec, num, len);
			if (strtod(num, NULL) == v)
				return strlen(num);
		}
	}
	return 0;
}

/* The shortest spelling of d by exact integer arithmetic, for 1 <= |d| <
 * 1e15 (times, durations: what %g writes without an exponent): d is
 * M / 2^s, and the fewest decimals k whose nearest m = d * 10^k reads
 * back as d win; m / 10^k reads back as d when it is less than half a
 * unit of the last place away, |m 2^s - M 10^k| * 2 < 10^k.  0 when d is
 * out of that range or a power of two (its lower gap is half as wide), or
 * for a tie; the caller then takes the printf way. */
static int
real_exact(double d, char *buf, size_t len)
{
	unsigned __int128 M, p = 1, m = 0, a, b;
	uint64_t v;
	double x = fabs(d);
	int e, s, k, kmax, o = 0, n;
	bool found = false;
	char digits[40];

	if (!(x >= 1 && x < 1e15))
		return 0;
	M = (unsigned __int128)(uint64_t)ldexp(frexp(x, &e), 53);
	s = 53 - e;             /* x = M / 2^s, 0 <= s <= 52 */
	if (M == (unsigned __int128)1 << 52)
		return 0;
	for (kmax = 16, a = 10; a <= (unsigned __int128)x; a *= 10)
		kmax--;                 /* 17 digits in all */
	for (k = 0; k <= kmax && !found; k++, p *= 10) {
		m = s == 0 ? M * p : (M * p + ((unsigned __int128)1 << (s - 1)))
		    >> s;
		a = m << s;
		b = M * p;
		found = (a > b ? a - b : b - a) * 2 < p;
	}
	if (!found)
		return 0;
	k--;
	v = (uint64_t)m;        /* < 10^17 */
	for (n = 0; v > 0 || n <= k; v /= 10)
		digits[n++] = (char)('0' + (int)(v % 10));
	if (n + 4 > (int)len)
		return -ENOSPC;
	if (d < 0)
		buf[o++] = '-';
	while (n > k)
		buf[o++] = digits[--n];
	buf[o++] = '.';
	if (k == 0)
		buf[o++] = '0';
	while (n > 0)
		buf[o++] = digits[--n];
	buf[o] = '\0';
	return o;
}

int
proto_real_spell(double d, char *buf, size_t len)
{
	char tok[48], num[48];
	const char *src = tok;
	size_t k;
	int n;

	if ((n = real_exact(d, buf, len)) != 0)
		return n;
	n = snprintf(tok, sizeof(tok), "%.17g", d);
	if (n < 0 || (size_t)n + 3 > sizeof(tok))
		return -ENOSPC;
	real_tidy(tok, sizeof(tok));
	if ((k = real_shorter(tok, strlen(tok), num, sizeof(num))) > 0)
		src = num;
	if ((k = strlen(src)) >= len)
		return -ENOSPC;
	memcpy(buf, src, k + 1);
	return (int)k;
}

/* Copy in to out, respelling each real (see the top of the file): the
 * bytes between respelt reals go in one copy each. */
static int
respell(const char *in, size_t n, struct dumpbuf *out)
{
	size_t i = 0, j, from = 0, k;
	char num[40];

	while (i < n) {
		if (in[i] == '"') {
			i = span_string(in, n, i + 1);
			continue;
		}
		if (!starts_number(in[i])) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && number_char(in[j]); j++)
			;
		/* An integer token is never respelt: 16 digits and more of
		 * one would turn into a real (another value). */
		if (real_token(in + i, j - i) &&
		    (k = real_shorter(in + i, j - i, num, sizeof(num))) > 0) {
			if (dump_cb(in + from, i - from, out) < 0 ||
			    dump_cb(num, k, out) < 0)
				return -1;
			from = j;
		}
		i = j;
	}
	return dump_cb(in + from, n - from, out);
}

/* ---- jobd's own writer, for compact text ------------------------------------ */

/* Nesting the own writer follows; deeper values go to jansson's. */
#define OWN_DEPTH 64

/* n bytes of s, known to fit. */
static void
own_put(struct dumpbuf *b, const char *s, size_t n)
{
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* A string as jansson writes it: '"', '\\' and controls escaped, UTF-8
 * as it is.  1, 0 for ill-formed UTF-8 (jansson refuses those), -1. */
static int
own_string(const char *s, size_t n, struct dumpbuf *b)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, from = 0;
	bool partial;
	int k;

	/* Six bytes at most for one (\\u00XX), the quotes, and one byte
	 * more for whatever follows (':' or ','). */
	if (dumpbuf_reserve(b, n * 6 + 3) < 0)
		return -1;
	b->p[b->len++] = '"';
	while (i < n) {
		if (u[i] >= 0x80) {
			if ((k = utf8_char(u + i, n - i, &partial)) <= 0)
				return 0;
			i += (size_t)k;
			continue;
		}
		if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\') {
			i++;
			continue;
		}
		own_put(b, s + from, i - from);
		b->p[b->len++] = '\\';
		switch (u[i]) {
		case '"': case '\\': b->p[b->len++] = (char)u[i]; break;
		case '\b': b->p[b->len++] = 'b'; break;
		case '\f': b->p[b->len++] = 'f'; break;
		case '\n': b->p[b->len++] = 'n'; break;
		case '\r': b->p[b->len++] = 'r'; break;
		case '\t': b->p[b->len++] = 't'; break;
		default:
			own_put(b, "u00", 3);
			b->p[b->len++] = hex[u[i] >> 4];
			b->p[b->len++] = hex[u[i] & 15];
		}
		from = ++i;
	}
	own_put(b, s + from, n - from);
	b->p[b->len++] = '"';
	return 1;
}

/* A real as jansson writes it with JSON_REAL_PRECISION(17), respelt as
 * respell() would.  A whole number below 1e15 is its digits and ".0"
 * (what %.17g and the tidying make of it) without printf. */
static int
own_real(double d, struct dumpbuf *b)
{
	char tok[48], num[48];
	size_t k;
	int n;

	if (dumpbuf_reserve(b, sizeof(tok)) < 0)
		return -1;
	if (!isfinite(d))
		return 0;
	if (fabs(d) < 1e15 && d == (double)(int64_t)d) {
		n = snprintf(tok, sizeof(tok), "%s%lld.0", d == 0 &&
		    signbit(d) ? "-" : "", (long long)d);
		own_put(b, tok, (size_t)n);
		return 1;
	}
	n = snprintf(tok, sizeof(tok), "%.17g", d);
	if (n < 0 || (size_t)n + 3 > sizeof(tok))
		return 0;
	real_tidy(tok, sizeof(tok));
	if ((k = real_shorter(tok, strlen(tok), num, sizeof(num))) > 0)
		own_put(b, num, k);
	else
		own_put(b, tok, strlen(tok));
	return 1;
}

static int own_value(const json_t *v, struct dumpbuf *b, int depth);

static int
own_object(const json_t *v, struct dumpbuf *b, int depth)
{
	const char *key;
	json_t *m;
	size_t i = 0, klen;
	int rc;

	if (dumpbuf_reserve(b, 2) < 0)
		return -1;
	b->p[b->len++] = '{';
	json_object_keylen_foreach((json_t *)v, key, klen, m) {
		if (i++ > 0)
			b->p[b->len++] = ',';   /* reserved by the last value */
		if ((rc = own_string(key, klen, b)) <= 0)
			return rc;
		b->p[b->len++] = ':';           /* own_string reserved it */
		if ((rc = own_value(m, b, depth + 1)) <= 0)
			return rc;
	}
	if (dumpbuf_reserve(b, 2) < 0)
		return -1;
	b->p[b->len++] = '}';
	return 1;
}

static int
own_array(const json_t *v, struct dumpbuf *b, int depth)
{
	size_t i;
	int rc;

	if (dumpbuf_reserve(b, 2) < 0)
		return -1;
	b->p[b->len++] = '[';
	for (i = 0; i < json_array_size(v); i++) {
		if (i > 0)
			b->p[b->len++] = ',';
		if ((rc = own_value(json_array_get(v, i), b, depth + 1)) <= 0)
			return rc;
	}
	if (dumpbuf_reserve(b, 2) < 0)
		return -1;
	b->p[b->len++] = ']';
	return 1;
}

/*
 * v as dump_jansson writes it (JSON_COMPACT, insertion order), into b,
 * with room for one more byte after it: 1, 0 when v is not for this
 * writer (nested deeper than OWN_DEPTH, ill-formed UTF-8, a real jansson
 * cannot write; b is then to be thrown away), -1 out of memory.
 * fuzz_answer checks both writers give the same bytes.
 */
static int
own_value(const json_t *v, struct dumpbuf *b, int depth)
{
	char num[24];
	int n;

	if (depth > OWN_DEPTH)
		return 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return own_object(v, b, depth);
	case JSON_ARRAY:
		return own_array(v, b, depth);
	case JSON_STRING:
		return own_string(json_string_value(v), json_string_length(v),
		    b);
	case JSON_REAL:
		return own_real(json_real_value(v), b);
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		if (dumpbuf_reserve(b, (size_t)n + 2) < 0)
			return -1;
		own_put(b, num, (size_t)n);
		return 1;
	default:
		if (dumpbuf_reserve(b, 7) < 0)
			return -1;
		own_put(b, json_is_true(v) ? "true" : json_is_false(v) ?
		    "false" : "null", json_is_true(v) ? 4 : json_is_false(v) ?
		    5 : 4);
		return 1;
	}
}

/* v as text in out (not terminated) by jansson and respell: 0 or -1 (out
 * of memory, or a value jansson cannot write: a non-finite real). */
static int
dump_jansson(const json_t *v, size_t flags, struct dumpbuf *out)
{
	struct dumpbuf raw = { NULL, 0, 0, NULL };
	int rc = -1;

	if (json_dump_callback(v, dump_cb, &raw, flags |
	    JSON_REAL_PRECISION(17)) == 0 && dumpbuf_reserve(out, raw.len) ==
	    0)
		rc = respell(raw.p, raw.len, out);
	free(raw.p);
	return rc;
}

/* v as text in out (not terminated): 0 or -1.  Compact text comes from
 * jobd's own writer, anything else (or what that writer leaves) from
 * jansson's. */
static int
dump_into(const json_t *v, size_t flags, struct dumpbuf *out)
{
	size_t len = out->len;
	int rc;

	if ((flags & ~(size_t)JSON_ENCODE_ANY) == JSON_COMPACT && v != NULL &&
	    ((flags & JSON_ENCODE_ANY) || json_is_object(v) ||
	    json_is_array(v))) {
		if ((rc = own_value(v, out, 0)) != 0)
			return rc > 0 ? 0 : -1;
		out->len = len;
	}
	return dump_jansson(v, flags, out);
}

int
proto_dumps_jansson(const json_t *v, size_t flags, char **out)
{
	struct dumpbuf b = { NULL, 0, 0, NULL };

	*out = NULL;
	if (v == NULL || dump_jansson(v, flags, &b) < 0 ||
	    dumpbuf_reserve(&b, 1) < 0) {
		free(b.p);
		return -1;
	}
	b.p[b.len] = '\0';
	*out = b.p;
	return 0;
}

char *
proto_dumps(const json_t *v, size_t flags)
{
	char small[DUMPS_STACK], *p;
	struct dumpbuf b = { small, 0, sizeof(small), small };

	if (v == NULL || dump_into(v, flags, &b) < 0 ||
	    dumpbuf_reserve(&b, 1) < 0) {
		if (b.p != small)
			free(b.p);
		return NULL;
	}
	b.p[b.len] = '\0';
	if (b.p == small) {
		if ((p = malloc(b.len + 1)) != NULL)
			memcpy(p, small, b.len + 1);
		return p;
	}
	/* The writers reserve for the worst case (a string's escapes): a
	 * short text may have moved to a big buffer. */
	if (b.cap - b.len > b.len / 8 + 16 &&
	    (p = realloc(b.p, b.len + 1)) != NULL)
		b.p = p;
	return b.p;
}

int
proto_dump(const json_t *resp, char **out, size_t *len)
{
	struct dumpbuf b = { NULL, 0, 0, NULL };
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

/* A tag as proto_dump writes it, when it is a plain one: an integer, or
 * a string of printable ASCII without '"' and '\\'.  Its length, or 0. */
static size_t
tag_text(const json_t *tag, char *buf, size_t cap)
{
	const char *s;
	size_t n;
	int k;

	if (json_is_integer(tag)) {
		k = snprintf(buf, cap, "%lld", (long long)json_integer_value(tag));
		return k > 0 && (size_t)k < cap ? (size_t)k : 0;
	}
	if (!json_is_string(tag) || (n = json_string_length(tag)) + 2 > cap)
		return 0;
	s = json_string_value(tag);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	buf[0] = '"';
	memcpy(buf + 1, s, n);
	buf[n + 1] = '"';
	return n + 2;
}

size_t
proto_line(char *buf, size_t cap, const char *head, const json_t *tag,
    const char *tail)
{
	char t[80];
	size_t h = strlen(head), n = 0, k = strlen(tail);

	if (tag != NULL && (n = tag_text(tag, t, sizeof(t))) == 0)
		return 0;
	if (h + (tag != NULL ? 7 + n : 0) + k + 1 > cap)
		return 0;
	memcpy(buf, head, h);
	if (tag != NULL) {
		memcpy(buf + h, ",\"tag\":", 7);
		memcpy(buf + h + 7, t, n);
		h += 7 + n;
	}
	memcpy(buf + h, tail, k);
	buf[h + k] = '\n';
	return h + k + 1;
}
