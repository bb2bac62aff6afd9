/*
 * jc_co.h — the client library on libjobd's coroutine runtime.
 *
 * A connection attached here waits for its socket with co_io_wait, so a
 * call parks the calling task (co.h) and the event loop runs the others
 * meanwhile: a task may jc_wait for a job for minutes without holding
 * anything up.  Everything else is jc.h as usual.  What a wait returns
 * then follows the task: -ECANCELED once it is cancelled (co_cancel),
 * -ETIMEDOUT when a deadline scope (co_scope_enter) or the connection's
 * own timeout passes; after either the answer may still come, so close
 * the connection.  One task at a time may use a connection.
 *
 * Built into libjobd (it needs the runtime); the wire part and the calls
 * (libjobdclient) do not.
 */
#ifndef JOBD_JC_CO_H
#define JOBD_JC_CO_H

#include "jc.h"

/* Connect to the Unix socket at path (NULL: jc_default_path()) without
 * blocking the loop, and attach the connection (jc_co_attach).  jc_open's
 * returns, plus
 * -ECANCELED and -ETIMEDOUT (jobd's listen backlog stayed full for
 * timeout seconds; JC_FOREVER: no limit).  Call from a task. */
int jc_co_open(const char *path, double timeout, struct jc_conn **out)
    __attribute__((warn_unused_result));

/* Make c wait through the runtime from now on.  Outside a task (set-up
 * code, say) it still waits with poll(2). */
void jc_co_attach(struct jc_conn *c);

#endif /* JOBD_JC_CO_H */
