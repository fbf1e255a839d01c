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
#include <sys/pidfd.h>
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
	volatile pid_t		  leader;	/* as jobd sees it */
	char			  leader_arg[24];	/* for the shim */
	char			 *shim_argv[6];
	const char		 *uid_map, *gid_map;	/* userns */
};

/* The child's stack; the job's, when a shim's child starts it. */
static char	spawn_stack[SPAWN_STACK] __attribute__((aligned(64)));
static char	job_stack[SPAWN_STACK] __attribute__((aligned(64)));

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

/* The pid of the calling process in jobd's /proc (in a PID namespace of
 * its own, getpid() says 2). */
__attribute__((no_sanitize("address", "undefined")))
static pid_t
child_outer_pid(void)
{
	char	buf[24];
	ssize_t	n, i;
	pid_t	pid = 0;

	if ((n = readlink("/proc/self", buf, sizeof(buf))) <= 0)
		return (0);
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	return (pid);
}

__attribute__((no_sanitize("address", "undefined")))
static void
child_write(struct child_args *a, const char *path, const char *text)
{
	size_t	len = strlen(text);
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		child_fail(a, path, errno);
	if (write(fd, text, len) != (ssize_t)len)
		child_fail(a, path, errno);
	close(fd);
}

/*
 * The job, from a clean process. Order matters: dispositions back to default
 * before the mask is emptied, so no handler of jobd's can run here on jobd's
 * memory.
 */
__attribute__((no_sanitize("address", "undefined")))
static int
child_job(void *arg)
{
	struct child_args	*a = arg;
	const struct spawn_req	*r = a->req;
	size_t			 i;
	int			 eacces = 0;

	if (r->tier == TIER_PIDNS || r->tier == TIER_SUBREAPER)
		a->leader = child_outer_pid();
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

/* A number into a buffer, without stdio. */
__attribute__((no_sanitize("address", "undefined")))
static void
child_itoa(char *buf, long v)
{
	char	tmp[24];
	int	n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < 23);
	while (n > 0)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
}

/*
 * The shim's process: pid 1 of a new PID namespace, or a subreaper. It starts
 * the job as its own child (vfork-style again, so errors still come back
 * through the shared struct), then becomes the shim by exec'ing jobd.
 */
__attribute__((no_sanitize("address", "undefined")))
static void
child_shim(struct child_args *a)
{
	const struct spawn_req	*r = a->req;
	sigset_t		 all;
	pid_t			 pid;

	/* jobd's death is the job's: the shim (or its namespace) dies. */
	if (prctl(PR_SET_PDEATHSIG, r->tier == TIER_PIDNS ? SIGKILL :
	    SIGTERM) == -1)
		child_fail(a, "prctl", errno);
	if (r->tier == TIER_SUBREAPER &&
	    prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		child_fail(a, "prctl", errno);
	/* jobd SIGKILLed before the prctl: no death signal will come. */
	if (pidfd_send_signal(r->jobd_fd, 0, NULL, 0) == -1 && errno == ESRCH)
		_exit(127);
	if (a->uid_map != NULL) {
		/* Our own ids, unchanged, inside the new user namespace. */
		child_write(a, "/proc/self/setgroups", "deny");
		child_write(a, "/proc/self/gid_map", a->gid_map);
		child_write(a, "/proc/self/uid_map", a->uid_map);
	}
	pid = clone(child_job, job_stack + sizeof(job_stack),
	    CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	if (pid == -1)
		child_fail(a, "clone", errno);
	if (a->step != NULL)
		_exit(127);	/* the job's failure is in *a already */
	child_itoa(a->leader_arg, pid);
	/*
	 * jobd may signal the shim as soon as spawn_job() returns, before the
	 * shim has its signalfd: blocked signals stay pending across execve.
	 */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) == -1 ||
	    child_dup(r->report_fd, 3) == -1 ||
	    close_range(4, ~0U, CLOSE_RANGE_CLOEXEC) == -1) {
		kill(pid, SIGKILL);	/* our unreaped child: its pid is safe */
		child_fail(a, "shim", errno);
	}
	execveat(r->exe_fd, "", a->shim_argv, (char *const[]){ NULL },
	    AT_EMPTY_PATH);
	kill(pid, SIGKILL);
	child_fail(a, "shim", errno);
}

__attribute__((no_sanitize("address", "undefined")))
static int
child_main(void *arg)
{
	struct child_args	*a = arg;
	const struct spawn_req	*r = a->req;
	struct sigaction	 sa;
	sigset_t		 none;
	int			 n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (n = 0; n < ntouched; n++)
		if (sigaction(touched[n], &sa, NULL) == -1)
			child_fail(a, "sigaction", errno);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		child_fail(a, "sigprocmask", errno);
	if (r->tier == TIER_PIDNS || r->tier == TIER_SUBREAPER)
		child_shim(a);
	return (child_job(a));
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
spawn_job(struct spawn_req *r, struct spawn_err *se)
{
	struct child_args	 a;
	sigset_t		 all, old;
	pid_t			 pid;
	char			**paths, jobd_arg[24], uid_map[64], gid_map[64];
	size_t			 i;
	int			 status, saved, flags = CLONE_VM | CLONE_VFORK;

	memset(se, 0, sizeof(*se));
	if (ntouched == -1)
		spawn_init();
	paths = spawn_paths(r);
	memset(&a, 0, sizeof(a));
	a.req = r;
	a.paths = paths;
	if (r->tier == TIER_PIDNS || r->tier == TIER_SUBREAPER) {
		snprintf(jobd_arg, sizeof(jobd_arg), "%ld", (long)getpid());
		a.shim_argv[0] = (char *)"jobd-shim";
		a.shim_argv[1] = (char *)"--shim";
		a.shim_argv[2] = (char *)(r->tier == TIER_PIDNS ? "pidns" :
		    "subreaper");
		a.shim_argv[3] = a.leader_arg;
		a.shim_argv[4] = jobd_arg;
		a.shim_argv[5] = NULL;
	}
	if (r->tier == TIER_PIDNS) {
		flags |= CLONE_NEWPID;
		/* Not root: a user namespace lets us make the PID one. */
		if (geteuid() != 0) {
			flags |= CLONE_NEWUSER;
			snprintf(uid_map, sizeof(uid_map), "%lu %lu 1\n",
			    (unsigned long)geteuid(), (unsigned long)geteuid());
			snprintf(gid_map, sizeof(gid_map), "%lu %lu 1\n",
			    (unsigned long)getegid(), (unsigned long)getegid());
			a.uid_map = uid_map;
			a.gid_map = gid_map;
		}
	}

	/* No handler of jobd's may run in the child on shared memory. */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) == -1)
		fatal("%s: sigprocmask", __func__);
	pid = clone(child_main, spawn_stack + sizeof(spawn_stack),
	    flags | SIGCHLD, &a);
	saved = errno;
	if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
		fatal("%s: sigprocmask", __func__);

	r->leader = a.leader != 0 ? a.leader : pid;
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
