/*
 * Closing the descriptors clients pass, off the event loop. close() of a
 * file on FUSE waits for the file system's answer to FLUSH, and a user may
 * serve that file system: jobd's loop must not wait on it. One thread takes
 * the descriptor numbers from a pipe and closes them; until it has, the
 * number stays ours (open), so the kernel cannot hand it out again. Our own
 * descriptors (pipes, files) are still closed in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"

static int		closer_fd[2] = { -1, -1 };

static void *
closer_main(void *arg)
{
	ssize_t	n;
	int	fd;

	for (;;) {
		n = read(closer_fd[0], &fd, sizeof(fd));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(fd))
			break;
		/* EINTR from close: the descriptor is gone anyway. */
		if (close(fd) == -1 && errno != EINTR)
			log_warn("closer: close %d", fd);
	}
	return (NULL);
}

static void
closer_init(void)
{
	pthread_t	t;
	sigset_t	all, old;
	int		rc;

	if (pipe2(closer_fd, O_CLOEXEC) == -1)
		fatal("closer: pipe2");
	/* Never block the loop: a full pipe means close in place. */
	if (fcntl(closer_fd[1], F_SETFL, O_NONBLOCK) == -1)
		fatal("closer: fcntl");
	sigfillset(&all);
	if ((rc = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0)
		fatalx("closer: pthread_sigmask: %s", strerror(rc));
	rc = pthread_create(&t, NULL, closer_main, NULL);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 || rc != 0)
		fatalx("closer: pthread_create: %s", strerror(rc));
	if ((rc = pthread_detach(t)) != 0)
		fatalx("closer: pthread_detach: %s", strerror(rc));
}

/* A descriptor a client passed: closed by the closer thread. */
void
fd_close_passed(int fd)
{
	if (fd < 0)
		return;
	if (closer_fd[1] == -1)
		closer_init();
	if (write(closer_fd[1], &fd, sizeof(fd)) == (ssize_t)sizeof(fd))
		return;
	log_warnx("closer: %s: closing descriptor %d in place",
	    strerror(errno), fd);
	if (close(fd) == -1)
		log_warn("%s: close", __func__);
}
