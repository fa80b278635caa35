// SPDX-License-Identifier: GPL-2.0
/*
 * test_ctlsock.c - the control socket's transport (user/proto/ctlsock.c)
 * between two processes: a request answered; a connection whose request
 * does not come within WS_CTL_WAIT_MS closed unread; a client sending
 * again when its connection was closed unread, and giving up after
 * WS_CTL_TRIES with the reason; a handler that has no answer still
 * answered, with an error.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "proto/ctlsock.h"
#include "tap.h"

#define PLAN	7

static char path[128];

/* Answers "ping" with its own count, and has no answer for "big". */
static int handler(void *data, const char *msg, size_t len, bool privileged, int fd,
		   char *reply, size_t replylen)
{
	int *count = data;

	if (fd >= 0)
		close(fd);
	if (len == 3 && !memcmp(msg, "big", 3))
		return -ENOSPC;
	return snprintf(reply, replylen, "{\"ok\":true,\"n\":%d,\"root\":%d}", ++*count,
			privileged);
}

/* A daemon in a child: it first closes @unread connections unread, then serves. */
static pid_t daemon_child(int unread)
{
	int lfd, cfd, count = 0;
	pid_t pid;

	lfd = ws_ctl_listen(path);
	if (lfd < 0)
		return -1;
	pid = fork();
	if (pid) {
		close(lfd);
		return pid;
	}
	while (unread > 0) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };

		poll(&pfd, 1, -1);
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd >= 0) {
			close(cfd);
			unread--;
		}
	}
	for (;;)
		ws_ctl_serve(lfd, 1000, handler, &count);
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
}

/* Connect, wait @ms, send "ping": what comes back, 0 bytes for a closed connection. */
static ssize_t slow_client(int ms, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ssize_t n = -1;
	int sfd;

	strcpy(sa.sun_path, path);
	sfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sfd < 0)
		return -1;
	if (!connect(sfd, (struct sockaddr *)&sa, sizeof(sa))) {
		usleep(ms * 1000);
		if (send(sfd, "ping", 4, MSG_NOSIGNAL) == 4 || errno == EPIPE)
			n = recv(sfd, buf, len - 1, 0);
	}
	close(sfd);
	return n;
}

int main(void)
{
	char dir[] = "/tmp/ws-ctlsock-XXXXXX", resp[256], err[256], buf[256];
	pid_t pid;
	int ret;

	tap_plan(PLAN);
	if (!mkdtemp(dir)) {
		tap_skip("the control socket", "no scratch directory");
		return tap_done();
	}
	snprintf(path, sizeof(path), "%s/run/control.sock", dir);
	setenv("WATTSCHED_SOCKET", path, 1);

	pid = daemon_child(0);
	ret = ws_ctl_exchange("ping", -1, resp, sizeof(resp), err, sizeof(err));
	tap_ok(!ret && strstr(resp, "\"n\":1"), "a request is answered");
	tap_ok(slow_client(WS_CTL_WAIT_MS + 300, buf, sizeof(buf)) == 0,
	       "a request that comes after WS_CTL_WAIT_MS: the connection is closed unread");
	ret = ws_ctl_exchange("ping", -1, resp, sizeof(resp), err, sizeof(err));
	tap_ok(!ret && strstr(resp, "\"n\":2"),
	       "the daemon serves on after it (the slow request was not handled)");
	ret = ws_ctl_exchange("big", -1, resp, sizeof(resp), err, sizeof(err));
	tap_ok(!ret && strstr(resp, "\"ok\":false") && strstr(resp, "no answer: No space left"),
	       "a handler with no answer: the client is told why, not left with a closed socket");
	stop(pid);

	pid = daemon_child(WS_CTL_TRIES - 1);
	ret = ws_ctl_exchange("ping", -1, resp, sizeof(resp), err, sizeof(err));
	tap_ok(!ret && strstr(resp, "\"n\":1"),
	       "closed unread WS_CTL_TRIES - 1 times: the client sends again and is answered once");
	stop(pid);

	pid = daemon_child(WS_CTL_TRIES);
	ret = ws_ctl_exchange("ping", -1, resp, sizeof(resp), err, sizeof(err));
	tap_ok(ret == -ECONNRESET && strstr(err, "without reading the request"),
	       "closed unread WS_CTL_TRIES times: the client gives up and says why");
	if (ret != -ECONNRESET)
		printf("#   got %d: %s\n", ret, ret ? err : resp);
	stop(pid);

	ret = ws_ctl_exchange("ping", -1, resp, sizeof(resp), err, sizeof(err));
	tap_ok(ret && strstr(err, "cannot reach the loader"), "no daemon: cannot reach it");
	snprintf(buf, sizeof(buf), "%s/run", dir);
	rmdir(buf);
	rmdir(dir);
	return tap_done();
}
