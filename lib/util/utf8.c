/*
 * utf8.c — bytes as JSON text (see utf8.h).
 */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* What an ill-formed piece becomes: U+FFFD. */
#define REPLACEMENT "\xEF\xBF\xBD"
#define REPLACEMENT_LEN (sizeof(REPLACEMENT) - 1)

int
utf8_char(const unsigned char *s, size_t n, bool *partial)
{
	unsigned char lo = 0x80, hi = 0xBF;
	int need, i;

	*partial = false;
	if (s[0] >= 0x01 && s[0] <= 0x7F)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 1;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 2;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 3;
	else
		return -1;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	for (i = 1; i <= need; i++, lo = 0x80, hi = 0xBF) {
		if ((size_t)i >= n) {
			*partial = true;
			return -i;
		}
		if (s[i] < lo || s[i] > hi)
			return -i;
	}
	return need + 1;
}

/* The well-formed bytes s[0..i) copied, clean the rest of s into t (of
 * tsize bytes).  Returns the bytes in t. */
static size_t
clean(const char *s, size_t i, size_t n, bool cut, char *t, size_t tsize,
    bool *truncated)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = i, plen;
	bool partial;
	int k;

	memcpy(t, s, i);
	while (i < n) {
		k = utf8_char(u + i, n - i, &partial);
		if (k < 0 && partial && cut)
			break;          /* a character that the cap split */
		plen = k > 0 ? (size_t)k : REPLACEMENT_LEN;
		if (o + plen > tsize) {
			*truncated = true;
			break;
		}
		memcpy(t + o, k > 0 ? s + i : REPLACEMENT, plen);
		o += plen;
		i += k > 0 ? (size_t)k : (size_t)-k;
	}
	return o;
}

json_t *
utf8_json(const char *s, size_t n, bool cut, size_t cap, bool *truncated)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, size;
	bool partial = false;
	json_t *v;
	char *t;
	int k = 0;

	if (n > cap) {
		n = cap;
		cut = *truncated = true;
	}
	while (i < n && (k = utf8_char(u + i, n - i, &partial)) > 0)
		i += (size_t)k;
	if (i == n)                             /* the usual case: clean */
		return json_stringn_nocheck(n > 0 ? s : "", n);
	if (partial && cut && i + (size_t)-k == n)
		return json_stringn_nocheck(s, i);
	size = n < cap / REPLACEMENT_LEN ? n * REPLACEMENT_LEN : cap;
	if ((t = malloc(size + 1)) == NULL)
		return NULL;
	v = json_stringn_nocheck(t, clean(s, i, n, cut, t, size, truncated));
	free(t);
	return v;
}

size_t
utf8_prefix(const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n = strlen(s);
	bool partial;
	int k;

	while (i < n && (k = utf8_char(u + i, n - i, &partial)) > 0 &&
	    i + (size_t)k <= max)
		i += (size_t)k;
	return i;
}
