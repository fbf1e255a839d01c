/*
 * The control socket, and nothing else: create it safely, refuse a second
 * jobd, accept with a pause on descriptor exhaustion, and let in whom
 * auth.c admits (SO_PEERCRED, taken at connect time).
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "jobd.h"
#include "jobd/client.h"
#include "log.h"
#include "xmalloc.h"

static struct evconnlistener	*listener;
static struct event		*resume_ev;
static char			*sock_path;
static int			 lock_fd = -1;

static void	control_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	control_error_cb(struct evconnlistener *, void *);
static void	control_resume_cb(evutil_socket_t, short, void *);

const char *
control_path(void)
{
	return (sock_path);
}

/*
 * The socket's directory: create it private, or check that an existing one
 * is a real directory that nobody else can replace our socket in.
 */
static int
control_dir(const char *path)
{
	struct stat	 sb;
	char		*copy = xstrdup(path), *dir = dirname(copy);
	mode_t		 mode = geteuid() == 0 ? 0755 : 0700;
	int		 rc = -1;

	if (mkdir(dir, mode) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		goto out;
	}
	if (lstat(dir, &sb) == -1) {
		log_warn("lstat %s", dir);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_warnx("%s: not a directory (or a symbolic link)", dir);
		goto out;
	}
	if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		log_warnx("%s: owned by uid %lu, not by us", dir,
		    (unsigned long)sb.st_uid);
		goto out;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX)) {
		log_warnx("%s: writable by others and not sticky", dir);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return (rc);
}

/* One jobd per socket: a lock held for jobd's lifetime. */
static int
control_lock(const char *path)
{
	char	*lock;

	xasprintf(&lock, "%s.lock", path);
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd == -1) {
		log_warn("open %s", lock);
		free(lock);
		return (-1);
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			log_warnx("another jobd is already running on %s",
			    path);
		else
			log_warn("flock %s", lock);
		free(lock);
		return (-1);
	}
	free(lock);
	return (0);
}

/* A socket file left by a jobd that died: replace it, unless one answers. */
static int
control_stale(const char *path, struct sockaddr_un *sun)
{
	struct stat	sb;
	int		fd;

	if (lstat(path, &sb) == -1)
		return (errno == ENOENT ? 0 : (log_warn("lstat %s", path), -1));
	if (!S_ISSOCK(sb.st_mode)) {
		log_warnx("%s exists and is not a socket", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(fd);
		log_warnx("a jobd is already listening on %s", path);
		return (-1);
	}
	close(fd);
	log_info("removing stale socket %s", path);
	if (unlink(path) == -1) {
		log_warn("unlink %s", path);
		return (-1);
	}
	return (0);
}

int
control_listen(const char *path)
{
	struct sockaddr_un	 sun;
	char			 buf[sizeof(sun.sun_path)];
	mode_t			 old;
	int			 fd;

	if (path == NULL && (path = jobd_socket_path(buf, sizeof(buf))) == NULL) {
		log_warnx("default socket path too long");
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("socket path too long: %s", path);
		return (-1);
	}
	if (control_dir(path) == -1 || control_lock(path) == -1 ||
	    control_stale(path, &sun) == -1)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("socket");
		return (-1);
	}
	/*
	 * The mode is right from the start: no chmod by path afterwards. As
	 * root every local user may connect, and auth.c decides who is served
	 * (SO_PEERCRED); else only jobd's own user.
	 */
	old = umask(geteuid() == 0 ? 0111 : 0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("bind %s", path);
		close(fd);
		return (-1);
	}
	umask(old);
	if (listen(fd, 128) == -1) {
		log_warn("listen %s", path);
		close(fd);
		unlink(path);
		return (-1);
	}
	listener = evconnlistener_new(base, control_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (listener == NULL)
		fatalx("%s: evconnlistener_new", __func__);
	evconnlistener_set_error_cb(listener, control_error_cb);
	if ((resume_ev = evtimer_new(base, control_resume_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	sock_path = xstrdup(path);
	return (0);
}

void
control_close(void)
{
	if (listener == NULL)
		return;
	evconnlistener_free(listener);
	listener = NULL;
	event_free(resume_ev);
	resume_ev = NULL;
	if (unlink(sock_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", sock_path);
	free(sock_path);
	sock_path = NULL;
	/* The lock file stays: removing it would race a starting jobd. */
	if (lock_fd != -1)
		close(lock_fd);
	lock_fd = -1;
}

/* One error line, and the connection is closed. */
static void
control_refuse(int fd, const char *code, const char *why)
{
	json_object	*resp = proto_error(NULL, code, why);
	char		*frame;
	size_t		 len;

	if ((frame = proto_frame(resp, &len)) == NULL)
		fatalx("%s: json serialization failed", __func__);
	/* Best effort: the socket is non-blocking and the line is short. */
	if (send(fd, frame, len, MSG_NOSIGNAL) == -1)
		log_debug("%s: send: %s", __func__, strerror(errno));
	free(frame);
	json_object_put(resp);
	close(fd);
}

static void
control_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ucred	cred;
	socklen_t	len = sizeof(cred);
	char		why[256];
	int		sees_all;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	if (auth_admit(cred.uid, &sees_all, why, sizeof(why)) == -1) {
		log_warnx("refused connection from pid %ld: %s",
		    (long)cred.pid, why);
		control_refuse(fd, JOBD_E_FORBIDDEN, why);
		return;
	}
	conn_accept(fd, cred.uid, cred.pid, sees_all);
}

/*
 * accept() failing with EMFILE leaves the connection in the backlog, so the
 * listener would spin (libevent #71): pause accepting for a moment instead.
 */
static void
control_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 0, 100000 };
	int		e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		log_warnx("accept: %s: pausing for 100 ms", strerror(e));
		evconnlistener_disable(l);
		evtimer_add(resume_ev, &tv);
		return;
	}
	log_warnx("accept: %s", strerror(e));
}

static void
control_resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	if (listener != NULL)
		evconnlistener_enable(listener);
}
