/*
 * Spawn a job vfork-style: clone(CLONE_VM|CLONE_VFORK) runs the child on a
 * small stack of ours, sharing jobd's memory until it execs, so the cost of a
 * spawn does not grow with jobd's size (fork copies the page tables: about
 * 40 ms a spawn from a 1 GiB process on our machines, against about 1 ms
 * vfork-style). The child only makes system calls: no
 * malloc, no stdio, no locks. Everything that needs memory (the PATH search
 * list) is prepared by the parent. The child reports a failure by writing
 * into the shared struct before _exit: the parent is suspended until the
 * child execs or exits, so the report is complete when clone() returns.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC	(1U << 2)
#endif

#define SPAWN_STACK	(64 * 1024)

struct child_args {
	const struct spawn_req	 *req;
	char *const		 *paths;	/* candidates for argv[0] */
	volatile int		  err;
	const char *volatile	  step;
};

static char	spawn_stack[SPAWN_STACK] __attribute__((aligned(64)));

/*
 * The signals whose disposition is not the default in jobd: set up by jobd
 * (SIGPIPE ignored, libevent's handlers) or inherited (a shell that started
 * jobd in the background ignores SIGINT). spawn_init() finds them once all
 * of jobd's signal set-up is done (jobd changes none later); the child then
 * resets just these, instead of making 64 sigaction calls while jobd waits.
 */
static int	touched[NSIG];
static int	ntouched = -1;

void
spawn_init(void)
{
	struct sigaction	sa;
	int			sig;

	ntouched = 0;
	for (sig = 1; sig < NSIG; sig++) {
		if (sigaction(sig, NULL, &sa) == -1)
			continue;	/* KILL, STOP, glibc's own */
		if (sa.sa_handler != SIG_DFL)
			touched[ntouched++] = sig;
	}
}

/* Runs on the clone stack too: no sanitizer hooks (ASan would warn, on the
 * job's stderr, about the stack switch at _exit). */
__attribute__((no_sanitize("address", "undefined")))
static void
child_fail(struct child_args *a, const char *step, int err)
{
	a->step = step;
	a->err = err;
	_exit(127);
}

/* dup2 that also works when the fd is already in place (clears CLOEXEC). */
static int
child_dup(int from, int to)
{
	if (from == to)
		return (fcntl(to, F_SETFD, 0));
	return (dup2(from, to));
}

/*
 * The child. Order matters: dispositions back to default before the mask is
 * emptied, so no handler of jobd's can run here on jobd's memory.
 */
__attribute__((no_sanitize("address", "undefined")))
static int
child_main(void *arg)
{
	struct child_args	*a = arg;
	const struct spawn_req	*r = a->req;
	struct sigaction	 sa;
	sigset_t		 none;
	size_t			 i;
	int			 n, eacces = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (n = 0; n < ntouched; n++)
		if (sigaction(touched[n], &sa, NULL) == -1)
			child_fail(a, "sigaction", errno);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		child_fail(a, "sigprocmask", errno);
	/* Into the job's cgroup before anything of the job can run. */
	if (r->cgroup_fd != -1 && write(r->cgroup_fd, "0", 1) != 1)
		child_fail(a, "cgroup", errno);
	if (setsid() == -1)
		child_fail(a, "setsid", errno);
	if (child_dup(r->fd_in, 0) == -1 || child_dup(r->fd_out, 1) == -1 ||
	    child_dup(r->fd_err, 2) == -1)
		child_fail(a, "dup2", errno);
	/* Belt and braces: every fd of jobd is CLOEXEC already. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		child_fail(a, "close_range", errno);
	umask(r->umask);
	if (chdir(r->cwd) == -1)
		child_fail(a, "chdir", errno);
	/* execvp's rules: skip ENOENT/ENOTDIR, remember EACCES. */
	for (i = 0; a->paths[i] != NULL; i++) {
		execve(a->paths[i], r->argv, r->envp);
		switch (errno) {
		case EACCES:
			eacces = 1;
			/* FALLTHROUGH */
		case ENOENT:
		case ENOTDIR:
		case ELOOP:
		case ENAMETOOLONG:
			continue;
		default:
			child_fail(a, "execve", errno);
		}
	}
	child_fail(a, "execve", eacces ? EACCES : ENOENT);
	return (127);
}

/* Where to look for argv[0], in the job's PATH (not jobd's). */
static char **
spawn_paths(const struct spawn_req *r)
{
	const char	*name = r->argv[0], *path = JOBD_DEFAULT_PATH, *p, *e;
	char		**v;
	size_t		 n = 1, i = 0, len;

	if (strchr(name, '/') != NULL) {
		v = xcalloc(2, sizeof(char *));
		v[0] = xstrdup(name);
		return (v);
	}
	for (i = 0; r->envp[i] != NULL; i++)
		if (strncmp(r->envp[i], "PATH=", 5) == 0)
			path = r->envp[i] + 5;
	for (p = path; *p != '\0'; p++)
		if (*p == ':')
			n++;
	v = xcalloc(n + 1, sizeof(char *));
	i = 0;
	for (p = path;; p = e + 1) {
		e = strchr(p, ':');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		/* An empty element means the current directory. */
		if (len == 0)
			xasprintf(&v[i++], "%s", name);
		else
			xasprintf(&v[i++], "%.*s/%s", (int)len, p, name);
		if (e == NULL)
			break;
	}
	return (v);
}

pid_t
spawn_job(const struct spawn_req *r, struct spawn_err *se)
{
	struct child_args	 a;
	sigset_t		 all, old;
	pid_t			 pid;
	char			**paths;
	size_t			 i;
	int			 status, saved;

	memset(se, 0, sizeof(*se));
	if (ntouched == -1)
		spawn_init();
	paths = spawn_paths(r);
	memset(&a, 0, sizeof(a));
	a.req = r;
	a.paths = paths;

	/* No handler of jobd's may run in the child on shared memory. */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) == -1)
		fatal("%s: sigprocmask", __func__);
	pid = clone(child_main, spawn_stack + sizeof(spawn_stack),
	    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	saved = errno;
	if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
		fatal("%s: sigprocmask", __func__);

	if (pid == -1) {
		se->err = saved;
		se->step = "clone";
	} else if (a.step != NULL) {
		se->err = a.err;
		se->step = a.step;
		/* It has _exited already; reap it here so no one else sees it. */
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		pid = -1;
	}
	if (pid == -1) {
		if (strcmp(se->step, "execve") == 0)
			snprintf(se->msg, sizeof(se->msg), "%s: %s", r->argv[0],
			    strerror(se->err));
		else if (strcmp(se->step, "chdir") == 0)
			snprintf(se->msg, sizeof(se->msg), "chdir %s: %s",
			    r->cwd, strerror(se->err));
		else
			snprintf(se->msg, sizeof(se->msg), "%s: %s", se->step,
			    strerror(se->err));
	}
	for (i = 0; paths[i] != NULL; i++)
		free(paths[i]);
	free(paths);
	return (pid);
}
