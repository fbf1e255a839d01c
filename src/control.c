/*
 * The control socket, and nothing else: create it safely (or take the one
 * systemd passes, socket activation), refuse a second jobd, accept with a
 * pause on descriptor exhaustion, let in whom auth.c admits (SO_PEERCRED,
 * taken at connect time), and hold at most max_conns connections,
 * max_conns_per_user of one uid.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "jobd.h"
#include "jobd/client.h"
#include "log.h"
#include "xmalloc.h"

static struct evconnlistener	*listener;
static struct event		*resume_ev;
static int			 paused;	/* accept hit EMFILE */
static char			*sock_path;
static int			 lock_fd = -1;
static int			 activated;	/* systemd's socket */

static void	control_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	control_error_cb(struct evconnlistener *, void *);
static void	control_resume_cb(evutil_socket_t, short, void *);
static int	control_serve(int, const char *);

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

/*
 * Socket activation: the one socket systemd (or systemd-socket-activate)
 * passed, its path in sun. Returns the fd, -1 if none was passed, -2 if what
 * was passed is not a socket jobd can serve.
 */
static int
control_passed(struct sockaddr_un *sun)
{
#ifdef HAVE_LIBSYSTEMD
	socklen_t	len = sizeof(*sun);
	int		n, fd = SD_LISTEN_FDS_START;

	/* 1: unset LISTEN_*, which no job should see. */
	if ((n = sd_listen_fds(1)) < 0) {
		log_warnx("socket activation: sd_listen_fds: %s",
		    strerror(-n));
		return (-2);
	}
	if (n == 0)
		return (-1);
	if (n > 1) {
		log_warnx("socket activation: %d sockets passed; jobd serves "
		    "exactly one (a single ListenStream= in jobd.socket)", n);
		return (-2);
	}
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_warnx("socket activation: fd %d is not a listening "
		    "AF_UNIX stream socket", fd);
		return (-2);
	}
	memset(sun, 0, sizeof(*sun));
	if (getsockname(fd, (struct sockaddr *)sun, &len) == -1) {
		log_warn("socket activation: getsockname");
		return (-2);
	}
	/* The lock file and the containers' names go by the path. */
	if (len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun->sun_path[0] == '\0' || len > sizeof(*sun) ||
	    memchr(sun->sun_path, '\0', sizeof(sun->sun_path)) == NULL) {
		log_warnx("socket activation: the socket is not bound to a "
		    "path");
		return (-2);
	}
	if (fd_set_nonblock(fd) == -1 || fd_set_cloexec(fd) == -1) {
		log_warn("socket activation: fcntl");
		return (-2);
	}
	return (fd);
#else
	if (getenv("LISTEN_FDS") != NULL)
		log_warnx("LISTEN_FDS is set, but this jobd was built without "
		    "libsystemd: no socket activation");
	return (-1);
#endif
}

/* A listening socket of our own, bound with its final mode. */
static int
control_bind(const char *path, struct sockaddr_un *sun)
{
	mode_t	old;
	int	fd;

	if (control_stale(path, sun) == -1)
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
	if (bind(fd, (struct sockaddr *)sun, sizeof(*sun)) == -1) {
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
	return (fd);
}

/*
 * A socket passed by systemd is systemd's: jobd neither creates, chmods nor
 * unlinks it, and never probes it as stale (it would connect to itself).
 * The lock beside it is still taken: it keeps out a jobd started by hand on
 * the same path, and keeps this one out while such a jobd runs.
 */
int
control_listen(const char *path)
{
	struct sockaddr_un	 sun;
	char			 buf[sizeof(sun.sun_path)];
	int			 fd;

	if ((fd = control_passed(&sun)) == -2)
		return (-1);
	if (fd >= 0) {
		if (path != NULL && strcmp(path, sun.sun_path) != 0)
			log_warnx("socket activation: serving %s, not %s",
			    sun.sun_path, path);
		if (control_dir(sun.sun_path) == -1 ||
		    control_lock(sun.sun_path) == -1) {
			close(fd);
			return (-1);
		}
		activated = 1;
		log_info("socket activation: using the socket passed by the "
		    "service manager, %s", sun.sun_path);
		return (control_serve(fd, sun.sun_path));
	}

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
	    (fd = control_bind(path, &sun)) == -1)
		return (-1);
	log_info("created socket %s", path);
	return (control_serve(fd, path));
}

/* From here on, the same for a socket of our own and a passed one. */
static int
control_serve(int fd, const char *path)
{
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
	if (!activated && unlink(sock_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", sock_path);
	free(sock_path);
	sock_path = NULL;
	activated = 0;
	/* The lock file stays: removing it would race a starting jobd. */
	if (lock_fd != -1)
		close(lock_fd);
	lock_fd = -1;
}

/* One error line (limit: the option that refused, or NULL), then close. */
static void
control_refuse(int fd, uid_t uid, const char *code, const char *limit,
    const char *msg)
{
	json_object	*resp = proto_error_limit(NULL, code, limit, msg);
	char		*frame;
	size_t		 len;

	/* A refusal by auth.c is logged by the caller, which has the pid. */
	if (limit != NULL)
		log_warnx("uid %lu: limit %s: connection refused: %s",
		    (unsigned long)uid, limit, msg);
	stats_count(STAT_CONN_REFUSED, 1);
	/* Best effort: the socket is non-blocking and the line is short. */
	if ((frame = proto_frame(resp, &len)) != NULL &&
	    send(fd, frame, len, MSG_NOSIGNAL) == -1)
		log_debug("%s: send: %s", __func__, strerror(errno));
	free(frame);
	json_object_put(resp);
	close(fd);
}

/* The connection caps: 0 if uid may have one more connection. */
static int
control_admit(int fd, uid_t uid)
{
	char	msg[128];

	if (cfg.max_conns > 0 && conn_count() >= cfg.max_conns) {
		snprintf(msg, sizeof(msg), "too many connections to jobd "
		    "(max_conns = %u)", cfg.max_conns);
		control_refuse(fd, uid, JOBD_E_LIMIT, "max_conns", msg);
		return (-1);
	}
	if (cfg.max_conns_per_user > 0 &&
	    user_conns(uid) >= cfg.max_conns_per_user) {
		snprintf(msg, sizeof(msg), "too many connections of uid %lu "
		    "(max_conns_per_user = %u)", (unsigned long)uid,
		    cfg.max_conns_per_user);
		control_refuse(fd, uid, JOBD_E_LIMIT, "max_conns_per_user", msg);
		return (-1);
	}
	return (0);
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
	if (paused) {
		paused = 0;
		log_info("accept: descriptors available again: accepting");
	}
	if (auth_admit(cred.uid, &sees_all, why, sizeof(why)) == -1) {
		log_warnx("refused connection from pid %ld: %s",
		    (long)cred.pid, why);
		control_refuse(fd, cred.uid, JOBD_E_FORBIDDEN, NULL, why);
		return;
	}
	if (control_admit(fd, cred.uid) == -1)
		return;
	conn_accept(fd, cred.uid, cred.pid, sees_all);
}

/*
 * accept() failing with EMFILE leaves the connection in the backlog, so the
 * listener would spin (libevent #71): pause accepting, and try again after
 * 100 ms, or at once when a connection closes (control_conn_gone). Logged
 * once per episode, not per retry.
 */
static void
control_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 0, 100000 };
	int		e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!paused)
			log_warnx("accept: %s: pausing (%u connections); "
			    "retrying every 100 ms and whenever one closes",
			    strerror(e), conn_count());
		paused = 1;
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

void
control_conn_gone(void)
{
	if (paused && listener != NULL) {
		evtimer_del(resume_ev);
		evconnlistener_enable(listener);
	}
}
