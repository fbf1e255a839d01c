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
 *
 * Behind a shim (pidns, subreaper tiers) the child execs the shim and the
 * job is the shim's child, forked (with memory of its own) and held at a
 * gate until the shim runs: were the job to run first, it could stop its
 * parent before that exec, and jobd, waiting for the exec, with it.
 *
 * The job becomes its user (spawn_req's setid) in its own set-up, in every
 * tier: the shim stays root, so that the job can never stop or kill it.
 */
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* The 32-bit id calls where the plain ones take 16-bit ids. */
#ifdef SYS_setresuid32
#define SYS_SETGROUPS	SYS_setgroups32
#define SYS_SETRESGID	SYS_setresgid32
#define SYS_SETRESUID	SYS_setresuid32
#define SYS_GETRESGID	SYS_getresgid32
#define SYS_GETRESUID	SYS_getresuid32
#else
#define SYS_SETGROUPS	SYS_setgroups
#define SYS_SETRESGID	SYS_setresgid
#define SYS_SETRESUID	SYS_setresuid
#define SYS_GETRESGID	SYS_getresgid
#define SYS_GETRESUID	SYS_getresuid
#endif

struct child_args {
	const struct spawn_req	 *req;
	char *const		 *paths;	/* candidates for argv[0] */
	volatile int		  err;
	const char *volatile	  step;
	volatile pid_t		  leader;	/* as jobd sees it */
	int			  fail_fd;	/* gated job: report here */
	char			  leader_arg[24];	/* for the shim */
	char			 *shim_argv[6];
	const char		 *uid_map, *gid_map;	/* userns */
	volatile pid_t		  guard_pid[2];	/* spawnguard.c kills them */
};

/* A gated job's word to the shim-to-be: step NULL once set up. */
struct gate_msg {
	const char	*step;
	int		 err;
	pid_t		 leader;
};

/* The child's stack (and, copied, a gated job's). */
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

/* A write whose failure nothing can be done about. */
__attribute__((no_sanitize("address", "undefined")))
static void
child_say(int fd, const void *buf, size_t len)
{
	ssize_t	n;

	n = write(fd, buf, len);
	(void)n;
}

/* Runs on the clone stack too: no sanitizer hooks (ASan would warn, on the
 * job's stderr, about the stack switch at _exit). */
__attribute__((no_sanitize("address", "undefined")))
static void
child_fail(struct child_args *a, const char *step, int err)
{
	struct gate_msg	m = { step, err, 0 };

	/* A gated job has memory of its own: *a is not jobd's. */
	if (a->fail_fd != -1)
		child_say(a->fail_fd, &m, sizeof(m));
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
 * The job's resource limits and niceness, set in the job itself (never in
 * a shim), while it is still jobd's uid: each limit soft and hard, never
 * above the hard limit jobd has. A job may be made nicer than jobd; made
 * less nice only by a root jobd.
 */
__attribute__((no_sanitize("address", "undefined")))
static void
child_limits(struct child_args *a)
{
	const struct spawn_limits *r = a->req->limits;
	struct rlimit		 rl;
	int			 i, cur;

	if (r == NULL)
		return;
	for (i = 0; i < JOBD_NRLIMITS; i++) {
		if (r->rlim[i] == RLIM_INFINITY)
			continue;
		if (getrlimit(jobd_rlimits[i].resource, &rl) == -1)
			child_fail(a, "getrlimit", errno);
		if (r->rlim[i] < rl.rlim_max)
			rl.rlim_max = r->rlim[i];
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(jobd_rlimits[i].resource, &rl) == -1)
			child_fail(a, "setrlimit", errno);
	}
	if (r->nofile_soft != RLIM_INFINITY) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			child_fail(a, "getrlimit", errno);
		if (r->nofile_soft < rl.rlim_cur) {
			rl.rlim_cur = r->nofile_soft;
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				child_fail(a, "setrlimit", errno);
		}
	}
	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (errno != 0)
		child_fail(a, "getpriority", errno);
	if (r->nice != cur && (r->nice > cur || geteuid() == 0) &&
	    setpriority(PRIO_PROCESS, 0, r->nice) == -1)
		child_fail(a, "setpriority", errno);
}

/*
 * Become the job's user: groups, then gid, then uid (once uid 0 is gone
 * the others can no longer change), then check that it stuck and that
 * there is no way back. Raw system calls: they change this process alone,
 * where glibc's would also set the ids of every thread of jobd, whose
 * memory a vfork-style child shares.
 */
__attribute__((no_sanitize("address", "undefined")))
static void
child_identity(struct child_args *a)
{
	const struct spawn_req	*r = a->req;
	uid_t			 u[3];
	gid_t			 g[3];

	if (!r->setid)
		return;
	if (syscall(SYS_SETGROUPS, (size_t)r->ngroups, r->groups) == -1)
		child_fail(a, "setgroups", errno);
	if (syscall(SYS_SETRESGID, r->gid, r->gid, r->gid) == -1)
		child_fail(a, "setgid", errno);
	if (syscall(SYS_SETRESUID, r->uid, r->uid, r->uid) == -1)
		child_fail(a, "setuid", errno);
	if (syscall(SYS_GETRESUID, &u[0], &u[1], &u[2]) == -1 ||
	    syscall(SYS_GETRESGID, &g[0], &g[1], &g[2]) == -1 ||
	    u[0] != r->uid || u[1] != r->uid || u[2] != r->uid ||
	    g[0] != r->gid || g[1] != r->gid || g[2] != r->gid)
		child_fail(a, "setuid", EPERM);
	if (r->uid != 0 && syscall(SYS_SETRESUID, 0, 0, 0) != -1)
		child_fail(a, "setuid", EPERM);
}

/* The job's process, up to its exec. */
__attribute__((no_sanitize("address", "undefined")))
static void
child_setup(struct child_args *a)
{
	const struct spawn_req	*r = a->req;

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
	child_limits(a);
	umask(r->umask);
	child_identity(a);
	/* As the job's user: a cwd it may not enter fails the spawn. */
	if (chdir(r->cwd) == -1)
		child_fail(a, "chdir", errno);
}

/*
 * The job, from a clean process (child_main reset dispositions and mask):
 * set up, then the program, by execvp's rules: skip ENOENT/ENOTDIR,
 * remember EACCES.
 */
__attribute__((no_sanitize("address", "undefined")))
static int
child_job(struct child_args *a)
{
	const struct spawn_req	*r = a->req;
	size_t			 i;
	int			 eacces = 0;

	child_setup(a);
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
 * Where execve will find argv[0], by execvp's rules, checked before the
 * gate: a program that is not there or not executable fails the spawn at
 * once, as it does without a shim.
 */
__attribute__((no_sanitize("address", "undefined")))
static const char *
child_resolve(struct child_args *a)
{
	struct stat	st;
	size_t		i;
	int		eacces = 0;

	for (i = 0; a->paths[i] != NULL; i++) {
		if (stat(a->paths[i], &st) == -1) {
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
		if (!S_ISREG(st.st_mode) || access(a->paths[i], X_OK) == -1) {
			eacces = 1;
			continue;
		}
		return (a->paths[i]);
	}
	child_fail(a, "execve", eacces ? EACCES : ENOENT);
	return (NULL);
}

/*
 * A gated job: set up, say so on msg, then wait until the shim, exec'd,
 * opens the gate. Before that no code of the job runs, so none can stop
 * the shim-to-be while jobd waits for its exec. If the shim is gone
 * instead, so is the job.
 */
__attribute__((no_sanitize("address", "undefined")))
static void __attribute__((noreturn))
child_gated(struct child_args *a, int msg, int gate)
{
	struct gate_msg	 m = { NULL, 0, 0 };
	const char	*path, *what = "jobd: execve failed: errno ";
	char		 num[24], c;
	ssize_t		 n;

	a->fail_fd = msg;
	child_setup(a);
	path = child_resolve(a);
	m.leader = a->leader;
	if (write(msg, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(127);
	close(msg);
	while ((n = read(gate, &c, 1)) == -1 && errno == EINTR)
		;
	if (n != 1)
		_exit(127);
	close(gate);
	execve(path, a->req->argv, a->req->envp);
	/* Found and executable, yet refused (ENOEXEC, E2BIG): too late to
	 * fail the spawn; the job's stderr says why. */
	child_itoa(num, errno);
	child_say(2, what, strlen(what));
	child_say(2, num, strlen(num));
	child_say(2, "\n", 1);
	_exit(127);
}

/*
 * Fork (not vfork: the job must outlive our exec, on memory of its own) the
 * gated job and wait for its word. Returns its pid; *gate is the end that
 * opens it, for the shim.
 */
__attribute__((no_sanitize("address", "undefined")))
static pid_t
child_fork_gated(struct child_args *a, int *gate)
{
	struct gate_msg	m;
	pid_t		pid;
	ssize_t		n;
	int		msg[2], g[2];

	if (pipe2(msg, O_CLOEXEC) == -1 || pipe2(g, O_CLOEXEC) == -1)
		child_fail(a, "pipe2", errno);
	/* The raw system call: glibc's fork() would run its handlers on
	 * jobd's memory, which we share. */
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid == -1)
		child_fail(a, "fork", errno);
	if (pid == 0) {
		close(msg[0]);
		close(g[1]);
		child_gated(a, msg[1], g[0]);
	}
	close(msg[1]);
	close(g[0]);
	/* In jobd's PID namespace: the guard may kill it by this pid. */
	if (a->req->tier == TIER_SUBREAPER)
		a->guard_pid[1] = pid;
	while ((n = read(msg[0], &m, sizeof(m))) == -1 && errno == EINTR)
		;
	close(msg[0]);
	if (n != (ssize_t)sizeof(m) || m.step != NULL) {
		kill(pid, SIGKILL);	/* our unreaped child: its pid is safe */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof(m))
			child_fail(a, "fork", EPIPE);
		child_fail(a, m.step, m.err);
	}
	a->leader = m.leader;
	*gate = g[1];
	return (pid);
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
	int			 gate;

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
	pid = child_fork_gated(a, &gate);
	child_itoa(a->leader_arg, pid);
	/*
	 * jobd may signal the shim as soon as spawn_job() returns, before the
	 * shim has its signalfd: blocked signals stay pending across execve.
	 * The shim opens the gate through fd 4.
	 */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) == -1 ||
	    /* Above 4 first, so that placing the report cannot clobber it. */
	    (gate = fcntl(gate, F_DUPFD_CLOEXEC, 5)) == -1 ||
	    child_dup(r->report_fd, SHIM_REPORT_FD) == -1 ||
	    dup2(gate, SHIM_GATE_FD) == -1 ||
	    close_range(5, ~0U, CLOSE_RANGE_CLOEXEC) == -1) {
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
	int			 status, saved, fired, flags = CLONE_VM |
				    CLONE_VFORK;

	memset(se, 0, sizeof(*se));
	if (ntouched == -1)
		spawn_init();
	paths = spawn_paths(r);
	memset(&a, 0, sizeof(a));
	a.fail_fd = -1;
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
	/*
	 * The kernel writes the child's pid before the child runs, so the
	 * guard can stop a spawn that a job's user holds up (stopped, or on
	 * a hung file system) before its exec.
	 */
	spawn_guard_arm(cfg.spawn_timeout, a.guard_pid, 2);
	pid = clone(child_main, spawn_stack + sizeof(spawn_stack),
	    flags | SIGCHLD | CLONE_PARENT_SETTID, &a,
	    (pid_t *)&a.guard_pid[0]);
	saved = errno;
	fired = spawn_guard_disarm();
	if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
		fatal("%s: sigprocmask", __func__);

	r->leader = a.leader != 0 ? a.leader : pid;
	if (pid == -1) {
		se->err = saved;
		se->step = "clone";
	} else if (fired) {
		/* Killed by the guard, exec'd or not: not started. */
		se->err = ETIMEDOUT;
		se->step = "spawn";
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		pid = -1;
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
		else if (strcmp(se->step, "spawn") == 0)
			snprintf(se->msg, sizeof(se->msg), "not started within "
			    "%gs (spawn_timeout): the job was stopped or hung "
			    "before its exec, and killed", cfg.spawn_timeout);
		else if (strcmp(se->step, "chdir") == 0)
			snprintf(se->msg, sizeof(se->msg), "cwd %s: %s",
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
