// SPDX-License-Identifier: GPL-2.0
/*
 * ctlsock.c - the control socket's transport (ctlsock.h).
 *
 * A Unix SOCK_SEQPACKET socket, by default /run/wattsched/control.sock
 * (directory 0700, socket 0600, so only root can connect): message
 * boundaries come with the socket type, so a message is a request and
 * needs no framing of its own.  A request may carry one file descriptor
 * (SCM_RIGHTS); the peer's credentials (SO_PEERCRED) say whether it may
 * change anything.  A client that connects and says nothing, or stops
 * reading its answer, cannot stall the daemon: it waits WS_CTL_WAIT_MS for
 * the request, then closes the connection unread.  Every request it reads
 * gets an answer, so a connection closed without one was not read, and
 * the client sends it again (a client preempted between its connect and
 * its send, on a loaded host, is not refused for it).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"
#include "proto/ctlsock.h"

const char *ws_ctl_sock_path(void)
{
	const char *p = getenv("WATTSCHED_SOCKET");

	return p && *p ? p : WS_CTL_SOCK;
}

static int sock_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return ws_fail(err, errlen, -ENAMETOOLONG, "control socket path too long: %s", path);
	strcpy(sa->sun_path, path);
	return 0;
}

int ws_ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)], err[256], *slash;
	int fd, ret;

	ret = sock_addr(path, &sa, err, sizeof(err));
	if (ret) {
		ws_err("%s", err);
		return ret;
	}
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			ws_err("cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ws_err("control socket: %s", strerror(errno));
		return -errno;
	}
	unlink(path);	/* left over by a loader that was killed */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		ret = -errno;
		ws_err("control socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return ret;
	}
	return fd;
}

void ws_ctl_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	unlink(path);
}

/* One message and at most one descriptor (-1 in *fd for none); its length or -errno. */
static ssize_t recv_msg(int cfd, char *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	n = recvmsg(cfd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	/* A message longer than the buffer is refused whole by the handler, not cut. */
	return (mh.msg_flags & MSG_TRUNC) ? (ssize_t)len + 1 : n;
}

/* Send the handler's answer (@ret bytes of @reply), or an error for none. */
static void answer(int cfd, const char *reply, int ret)
{
	char e[128];

	if (ret <= 0) {
		ret = snprintf(e, sizeof(e), "{\"ok\":false,\"error\":\"no answer: %s\"}",
			       strerror(ret < 0 ? -ret : EPROTO));
		reply = e;
	}
	send(cfd, reply, ret, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void serve_one(int lfd, ws_ctl_handler_t handler, void *data)
{
	static char msg[WS_CTL_MSG_MAX + 1], reply[WS_CTL_ANSWER_MAX];
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int cfd, fd, ret;
	ssize_t n;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO,
		   &(struct timeval){ .tv_usec = WS_CTL_WAIT_MS * 1000 }, sizeof(struct timeval));
	n = recv_msg(cfd, msg, WS_CTL_MSG_MAX, &fd);
	if (n >= 0 && !getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
		ret = handler(data, msg, n, cred.uid == 0, fd, reply, sizeof(reply));
		answer(cfd, reply, ret);
	} else if (fd >= 0) {
		close(fd);
	}
	close(cfd);
}

void ws_ctl_serve(int lfd, int timeout_ms, ws_ctl_handler_t handler, void *data)
{
	long long end = ws_mono_now() * 1000 + timeout_ms;
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	long long left;

	while ((left = end - (long long)(ws_mono_now() * 1000)) > 0) {
		if (lfd < 0) {
			usleep(left * 1000);
			return;
		}
		/* Timeout, or a signal: back to the caller, which checks for exit. */
		if (poll(&pfd, 1, left) <= 0)
			return;
		serve_one(lfd, handler, data);
	}
}

static int send_msg(int sfd, const char *req, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = strlen(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sfd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/*
 * One connection: connect, send @req, read the answer.  -ECONNRESET (err
 * set) when the loader closed the connection without one: it had not read
 * the request (serve_one()).
 */
static int exchange_once(const char *path, const struct sockaddr_un *sa, const char *req, int fd,
			 char *resp, size_t len, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = 5 };
	ssize_t n = 1;
	int sfd, ret;

	sfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sfd < 0)
		return ws_fail(err, errlen, -errno, "control socket: %s", strerror(errno));
	setsockopt(sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(sfd, (const struct sockaddr *)sa, sizeof(*sa))) {
		if (errno == EACCES || errno == EPERM)
			ret = ws_fail(err, errlen, -errno, "%s: permission denied: controlling "
				      "wattsched needs root", path);
		else
			ret = ws_fail(err, errlen, -errno, "cannot reach the loader at %s: %s (is "
				      "'wattsched run' running?)", path, strerror(errno));
		goto close_sock;
	}
	ret = send_msg(sfd, req, fd);
	if (!ret) {
		n = recv(sfd, resp, len - 1, 0);
		ret = n < 0 ? -errno : 0;
	}
	/* closed unread: before the send (EPIPE), with the request unread, or after */
	if (ret == -EPIPE || ret == -ECONNRESET || (!ret && !n)) {
		ret = ws_fail(err, errlen, -ECONNRESET, "control socket %s: the loader closed the "
			      "connection %d times without reading the request (it waits %d ms "
			      "for one)", path, WS_CTL_TRIES, WS_CTL_WAIT_MS);
		goto close_sock;
	}
	if (ret) {
		ws_fail(err, errlen, ret, "control socket %s: %s: %s", path,
			n < 0 ? "no answer from the loader" : "sending", strerror(-ret));
		goto close_sock;
	}
	resp[n] = '\0';
	ret = 0;
close_sock:
	close(sfd);
	return ret;
}

int ws_ctl_exchange(const char *req, int fd, char *resp, size_t len, char *err, size_t errlen)
{
	const char *path = ws_ctl_sock_path();
	struct sockaddr_un sa;
	int ret, tries = 0;

	ret = sock_addr(path, &sa, err, errlen);
	if (ret)
		return ret;
	do
		ret = exchange_once(path, &sa, req, fd, resp, len, err, errlen);
	while (ret == -ECONNRESET && ++tries < WS_CTL_TRIES);
	return ret;
}
