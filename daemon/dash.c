/*
 * dash.c — embeds daemon/dash.html (see dash.h).  The build passes the
 * file's path as DASH_HTML_PATH and makes this object depend on it.
 */
#include <assert.h>

#include "dash.h"

#ifndef DASH_HTML_PATH
#error "DASH_HTML_PATH: the build must say where dash.html is"
#endif

/* The length is computed by the assembler (.quad below). */
static_assert(sizeof(size_t) == 8, "dash_html_len is a .quad");

__asm__(".section .rodata\n"
    ".global dash_html\n"
    ".type dash_html, @object\n"
    "dash_html:\n"
    ".incbin \"" DASH_HTML_PATH "\"\n"
    ".byte 0\n"
    "dash_html_end:\n"
    ".size dash_html, dash_html_end - dash_html\n"
    ".balign 8\n"
    ".global dash_html_len\n"
    ".type dash_html_len, @object\n"
    "dash_html_len:\n"
    ".quad dash_html_end - dash_html - 1\n"
    ".size dash_html_len, 8\n"
    ".previous\n");
