/*
 * kind_sleep.h — the `sleep` kind: simulated I/O.
 *
 * args {"seconds": F} (0 ≤ F ≤ KIND_SLEEP_MAX), optional "fail": "message"
 * (fail with that error after sleeping).  result {"slept": F}, on success
 * and on the requested failure.
 */
#ifndef JOBD_KIND_SLEEP_H
#define JOBD_KIND_SLEEP_H

#include "kind.h"

/* A year: longer is surely a mistake in the submit. */
#define KIND_SLEEP_MAX 31536000.0

extern const struct kind kind_sleep;

#endif /* JOBD_KIND_SLEEP_H */
