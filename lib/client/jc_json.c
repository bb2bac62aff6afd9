/*
 * jc_json.c — compact JSON text with shortest reals (see jc.h).
 *
 * jansson writes a real with 17 significant digits, so 0.3 comes out as
 * 0.29999999999999999: the same double, but not what anyone typed.  The
 * client writes each real with the fewest digits that read back exactly,
 * in the requests it sends and in what jobctl shows.
 *
 * A small recursive writer onto a memory stream.  Recursion depth is the
 * nesting of the value, which jansson's parser has already bounded (2048)
 * for anything read from outside.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <stdint.h>

#include "jc.h"

/* The shortest "%.Ng" of d, N from 15 to 17, that strtod reads back as d;
 * with ".0" added when it would otherwise read as an integer. */
static void
put_real(FILE *f, double d)
{
	char buf[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	fputs(buf, f);
	if (strpbrk(buf, ".eEn") == NULL)  /* n: nan/inf, never in JSON */
		fputs(".0", f);
}

static void
put_string(FILE *f, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" :
		    c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" :
		    c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
		if (esc != NULL)
			fputs(esc, f);
		else if (c < 0x20)
			fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
put_value(FILE *f, const json_t *v)
{
	const char *key;
	json_t *e;
	size_t i, n = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		fputc('{', f);
		json_object_foreach((json_t *)v, key, e) {
			if (n++ > 0)
				fputc(',', f);
			put_string(f, key, strlen(key));
			fputc(':', f);
			put_value(f, e);
		}
		fputc('}', f);
		break;
	case JSON_ARRAY:
		fputc('[', f);
		json_array_foreach(v, i, e) {
			if (i > 0)
				fputc(',', f);
			put_value(f, e);
		}
		fputc(']', f);
		break;
	case JSON_STRING:
		put_string(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		put_real(f, json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	default:
		fputs("null", f);
	}
}

char *
jc_json_text(const json_t *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	put_value(f, v);
	if (ferror(f)) {
		fclose(f);
		free(text);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

json_t *
jc_json_num(double t)
{
	/* Whole and well inside int64: an integer; 2^53 keeps it exact. */
	if (isfinite(t) && t == floor(t) && fabs(t) < 9007199254740992.0)
		return json_integer((json_int_t)t);
	return json_real(t);
}
