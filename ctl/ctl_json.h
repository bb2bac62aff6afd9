/*
 * ctl_json.h — compact JSON text for jobctl, with numbers as people write
 * them.
 *
 * jansson writes a real with 17 significant digits, so 0.3 comes out as
 * 0.29999999999999999: the same double, but not what anyone typed.  jobctl
 * writes each real with the fewest digits (15, 16 or 17) that read back as
 * exactly the same double, both in the requests it sends and in what it
 * shows; nothing is lost and 0.3 stays 0.3.
 */
#ifndef JOBD_CTL_JSON_H
#define JOBD_CTL_JSON_H

#include <jansson.h>

/* v (any JSON value) as compact JSON: no spaces, object keys in their
 * order, strings escaped as jansson escapes them (", \, control
 * characters), reals in the shortest form that reads back exactly and
 * always with a '.' or an exponent (so 2.0 stays a real).  A new string
 * owned by the caller, or NULL when out of memory. */
char *ctl_json_text(const json_t *v);

#endif /* JOBD_CTL_JSON_H */
