/*
 * jc_int.h — the client library's insides, shared by its files (not a
 * public header: callers see struct jc_conn only as a pointer).
 */
#ifndef JOBD_JC_INT_H
#define JOBD_JC_INT_H

#include <sys/un.h>

#include "jc.h"

struct jc_conn {
	int fd;
	char *buf;
	size_t cap;  /* bytes allocated */
	size_t off;  /* first unread byte */
	size_t fill; /* end of the bytes read */
	size_t scan; /* [off, scan) holds no '\n' */
	size_t max;  /* longest line accepted */
	int end;     /* 0 while readable; 1 at end of file; else -errno */
	int err;     /* a framing error jc_recv keeps returning, or 0 */
	jc_wait_fn wait; /* NULL: poll(2) */
	void *wait_arg;
	/* The calls' state (jc_call.c). */
	double timeout;      /* for a call's send and answer */
	jc_line_fn on_answer;
	void *on_answer_arg;
	struct jc_error error; /* of the last call */
};

/* The address of the Unix socket at path: 0, or -ENAMETOOLONG when path
 * is empty or does not fit. */
int jc_addr(const char *path, struct sockaddr_un *sun);

#endif /* JOBD_JC_INT_H */
