/*
 * utf8.h — bytes from the outside world as JSON text.
 *
 * What a program prints or a server sends is bytes; a JSON string (and
 * jansson) wants UTF-8 without NUL.  These helpers make any bytes into
 * such a string the way Python's errors="replace" and browsers decode:
 * each ill-formed piece ("maximal subpart": the longest start of a valid
 * sequence, at least one byte) and each NUL becomes one U+FFFD.  Overlong
 * forms, surrogates and code points past U+10FFFF are ill-formed.
 */
#ifndef JOBD_UTF8_H
#define JOBD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The character at s (n > 0 bytes left): its length (1 to 4) if it is
 * well-formed and not NUL; else -k, the k >= 1 bytes that make one
 * ill-formed piece, with *partial set when those k bytes are a valid start
 * that the end of s cut short. */
int utf8_char(const unsigned char *s, size_t n, bool *partial);

/* The n bytes at s as a new JSON string of at most cap bytes.  cut: s was
 * cut short (a cap), so a character split at its end is dropped rather
 * than replaced.  Replacements may make the text longer than s (3 bytes
 * for one); past cap it is cut at a character boundary and *truncated is
 * set (it is never cleared).  Clean input is copied once.  NULL when out
 * of memory. */
json_t *utf8_json(const char *s, size_t n, bool cut, size_t cap,
    bool *truncated);

/* How many bytes of the string s, at most max, end on a character
 * boundary (stopping at the first ill-formed byte): for quoting a name in
 * a message without splitting a character. */
size_t utf8_prefix(const char *s, size_t max);

#endif /* JOBD_UTF8_H */
