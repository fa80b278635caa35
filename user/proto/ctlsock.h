/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ctlsock.h - the control socket's transport: one message each way per
 * connection, and optionally one file descriptor with a request (a rack
 * document).  What the messages say is request.h's business.
 */
#ifndef __WS_CTLSOCK_H
#define __WS_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>

#define WS_CTL_SOCK		"/run/wattsched/control.sock"
#define WS_CTL_MSG_MAX		6144	/* a request: room for a 4095-byte cgroup path */
#define WS_CTL_ANSWER_MAX	32768	/* an answer: the daemon's whole state */
#define WS_CTL_WAIT_MS		200	/* the daemon waits this long for a connection's request */
#define WS_CTL_TRIES		3	/* a client sends a request this often when it is not read */

/* The socket path: $WATTSCHED_SOCKET, or WS_CTL_SOCK. */
const char *ws_ctl_sock_path(void);

/* Daemon: listen at @path (created 0600 in a 0700 directory); the fd, or -errno after printing why. */
int ws_ctl_listen(const char *path);
void ws_ctl_close(int fd, const char *path);

/*
 * Handle one request @msg of @len bytes (not NUL-terminated) from a peer
 * that is root (@privileged) or not, with the file descriptor it passed
 * (@fd, -1 for none; the handler owns it).  Returns the reply's length, or
 * -errno for none, which the peer is told as an error.
 */
typedef int (*ws_ctl_handler_t)(void *data, const char *msg, size_t len, bool privileged,
				int fd, char *reply, size_t replylen);

/* Serve requests on @lfd for up to @timeout_ms; returns early on a signal. */
void ws_ctl_serve(int lfd, int timeout_ms, ws_ctl_handler_t handler, void *data);

/*
 * Client: send @req with @fd (-1 for none), put the answer, NUL-terminated,
 * in @resp; again, up to WS_CTL_TRIES times, while the daemon closes the
 * connection without reading it.  0, or -errno with err set.
 */
int ws_ctl_exchange(const char *req, int fd, char *resp, size_t len, char *err, size_t errlen);

#endif /* __WS_CTLSOCK_H */
