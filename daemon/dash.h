/*
 * dash.h — the dashboard page, built into the binary.
 *
 * daemon/dash.html (HTML, CSS and script in one file; nothing fetched from
 * elsewhere) is embedded by the assembler (.incbin in dash.c): no
 * generator, no build step, and the page is edited as a page.
 */
#ifndef JOBD_DASH_H
#define JOBD_DASH_H

#include <stddef.h>

extern const char dash_html[];          /* NUL-terminated */
extern const size_t dash_html_len;

#endif /* JOBD_DASH_H */
