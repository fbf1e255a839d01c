/*
 * The shim: jobd's stand-in above a job when no cgroup can be had. jobd
 * execs itself as "jobd --shim MODE LEADER PPID" between the job and itself:
 *
 * pidns	the shim is pid 1 of a PID namespace made for the job (with a
 *		user namespace when jobd is not root). Nothing can leave a PID
 *		namespace; when its init dies, the kernel kills everything in
 *		it. jobd's SIGKILL to the shim is the whole job's end, and so is
 *		jobd's own death (PR_SET_PDEATHSIG).
 * subreaper	the shim is a child subreaper: whatever the job orphans comes
 *		back to it, setsid() or not, so every process of the job is a
 *		descendant of the shim, found through /proc/PID/task/TID/children.
 *		Signalling them is a loop, not an atomic operation, and a
 *		process of the same uid can kill the shim: a weaker tier.
 *
 * The job (LEADER, forked before the shim's exec: the shim inherits it as
 * a child) waits until the shim writes a byte to fd 4, then execs; it does
 * not know about the shim. The shim reaps everything; when the leader ends,
 * it writes a struct shim_report to fd 3 (a pipe jobd reads), then waits for
 * jobd to tell it what to do with the rest: jobd sends SHIM_SIGNAL with
 * sigqueue data of SHIM_MAGIC, flags and the signal to relay (a signal the
 * shim cannot catch, such as SIGSTOP, would otherwise stop the shim).
 * Signals without the magic are from the job's own processes and ignored,
 * except jobd's death (PPID gone).
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobd.h"

#define SHIM_MAX_PROCS	65536	/* a bound on one walk of the tree */

static int	 mode_pidns;
static pid_t	 leader;
static pid_t	 jobd_pid;
static ino_t	 own_ns;	/* our PID namespace's inode, for /proc */
static int	 leader_done;

static void __attribute__((noreturn))
shim_die(const char *what)
{
	fprintf(stderr, "jobd shim: %s: %s\n", what, strerror(errno));
	_exit(127);
}

/* A number from a /proc line "Name:\t1\t2": the last (innermost) value. */
static long
proc_status_last(pid_t pid, const char *name)
{
	char	path[64], buf[2048], *p, *e;
	ssize_t	n;
	int	fd;
	long	v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	/* At the start of a line: "Name:" comes first, and the job names
	 * its processes. */
	for (p = buf; p != NULL; p = (e = strchr(p, '\n')) ? e + 1 : NULL)
		if (strncmp(p, name, strlen(name)) == 0)
			break;
	if (p == NULL)
		return (-1);
	if ((e = strchr(p, '\n')) != NULL)
		*e = '\0';
	for (p += strlen(name); *p != '\0'; p++)
		if (isdigit((unsigned char)*p) && !isdigit((unsigned char)p[-1]))
			v = strtol(p, NULL, 10);
	return (v);
}

static int
proc_is_zombie(pid_t pid)
{
	char	path[64], buf[512], *p;
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (1);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return (1);
	return (p[2] == 'Z' || p[2] == 'X');
}

/*
 * The job's processes, as seen in /proc (jobd's numbering: the shim never
 * mounts a /proc of its own). pidns: every process whose PID namespace is
 * ours. subreaper: the tree below the shim, read from the children files.
 */
struct procs {
	pid_t	*v;
	size_t	 n, cap;
};

static void
procs_add(struct procs *p, pid_t pid)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		if (p->v[i] == pid)
			return;
	if (p->n == SHIM_MAX_PROCS)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap == 0 ? 64 : p->cap * 2;
		if ((p->v = reallocarray(p->v, p->cap, sizeof(pid_t))) == NULL)
			shim_die("reallocarray");
	}
	p->v[p->n++] = pid;
}

static void
walk_children(struct procs *p, pid_t pid)
{
	char		 path[320], buf[4096];
	DIR		*d;
	struct dirent	*de;
	ssize_t		 n, i;
	long		 c;
	int		 fd;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/children",
		    (long)pid, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			for (i = 0; i < n; i++) {
				if (!isdigit((unsigned char)buf[i]) ||
				    (i > 0 && isdigit((unsigned char)buf[i - 1])))
					continue;
				c = strtol(buf + i, NULL, 10);
				procs_add(p, (pid_t)c);
			}
		}
		close(fd);
	}
	closedir(d);
}

/* Is pid (pinned by a pidfd) still below the shim? Walk up its parents. */
static int
is_descendant(pid_t pid)
{
	pid_t	self = getpid();
	long	pp;
	int	depth;

	for (depth = 0; depth < 4096; depth++) {
		if ((pp = proc_status_last(pid, "PPid:")) <= 0)
			return (0);
		if ((pid_t)pp == self)
			return (1);
		pid = (pid_t)pp;
	}
	return (0);
}

static void
find_procs(struct procs *p)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 path[300];
	size_t		 i;

	p->n = 0;
	if (!mode_pidns) {
		walk_children(p, getpid());	/* our own ns: no /proc remount */
		for (i = 0; i < p->n; i++)	/* p->n grows as we go */
			walk_children(p, p->v[i]);
		return;
	}
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/pid", de->d_name);
		if (stat(path, &sb) == -1 || sb.st_ino != own_ns)
			continue;
		if (proc_status_last(atoi(de->d_name), "NSpid:") == 1)
			continue;	/* ourselves */
		procs_add(p, (pid_t)atoi(de->d_name));
	}
	closedir(d);
}

/* Signal one process found by number: through a pidfd, after checking that
 * the process it pins is still one of ours. */
static int
signal_found(pid_t pid, int sig)
{
	struct stat	sb;
	char		path[64];
	int		pfd, r = 0;

	if ((pfd = pidfd_open(pid, 0)) == -1)
		return (0);
	snprintf(path, sizeof(path), "/proc/%ld/ns/pid", (long)pid);
	if (mode_pidns ? stat(path, &sb) == 0 && sb.st_ino == own_ns :
	    is_descendant(pid))
		r = pidfd_send_signal(pfd, sig, NULL, 0) == 0;
	close(pfd);
	return (r);
}

/* Everyone but us gets sig (and SIGCONT after it, if cont). */
static void
relay(int sig, int cont)
{
	struct procs	p = { 0 };
	size_t		i;

	if (mode_pidns) {
		/* From pid 1 of the namespace, -1 is everyone else in it. */
		if (kill(-1, sig) == -1 && errno != ESRCH)
			fprintf(stderr, "jobd shim: kill -1: %s\n",
			    strerror(errno));
		if (cont)
			(void)kill(-1, SIGCONT);
		return;
	}
	find_procs(&p);
	for (i = 0; i < p.n; i++) {
		(void)signal_found(p.v[i], sig);
		if (cont)
			(void)signal_found(p.v[i], SIGCONT);
	}
	free(p.v);
}

/* What is left of the job besides us, and how many left the leader's
 * process group. */
static void
count_leftovers(struct shim_report *rep)
{
	struct procs	p = { 0 };
	size_t		i;
	long		pgid;

	find_procs(&p);
	for (i = 0; i < p.n; i++) {
		if (proc_is_zombie(p.v[i]))
			continue;
		rep->leftovers++;
		pgid = proc_status_last(p.v[i], "NSpgid:");
		if (pgid != -1 && pgid != (long)leader)
			rep->escaped++;
	}
	free(p.v);
}

static void
report(struct shim_report *rep)
{
	ssize_t	n;

	while ((n = write(SHIM_REPORT_FD, rep, sizeof(*rep))) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*rep))
		fprintf(stderr, "jobd shim: report: %s\n",
		    n == -1 ? strerror(errno) : "short write");
	close(3);
}

/*
 * Reap everything. Once the leader is gone: report, and exit when we have
 * no child left. Only wait4's ECHILD says that atomically: a walk of /proc
 * can miss a process that is re-parented to us while it walks.
 */
static void
reap(void)
{
	static struct shim_report	 rep;
	static int			 reported;
	struct rusage			 ru;
	pid_t				 pid;
	int				 status;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
		if (pid != leader || leader_done)
			continue;
		leader_done = 1;
		rep.magic = SHIM_REPORT_MAGIC;
		rep.status = status;
		rep.ru = ru;
	}
	if (!leader_done)
		return;
	if (pid == -1 && errno == ECHILD) {
		if (!reported)
			report(&rep);
		_exit(0);
	}
	if (reported)
		return;
	reported = 1;
	/* A child of ours is alive: if the walk saw none, it raced one. */
	count_leftovers(&rep);
	if (rep.leftovers == 0)
		rep.leftovers = 1;
	report(&rep);
}

/*
 * SIGKILL until nothing is left, and only then exit: jobd takes the shim's
 * end for the job's, so a process still dying (freeing a big memory, say)
 * must be gone first. One that never dies keeps the shim here, and jobd
 * reports the job unkillable. In the pidns tier jobd SIGKILLs the shim
 * instead, and the kernel does the same for the whole namespace.
 */
static void __attribute__((noreturn))
kill_all(void)
{
	struct procs	p = { 0 };
	struct timespec	ts;
	size_t		i;
	long		delay_ms = 1;

	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		find_procs(&p);
		if (p.n == 0)
			break;
		for (i = 0; i < p.n; i++)
			(void)signal_found(p.v[i], SIGKILL);
		ts.tv_sec = delay_ms / 1000;
		ts.tv_nsec = (delay_ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
		if (delay_ms < 100)
			delay_ms *= 2;
	}
	free(p.v);
	_exit(0);
}

int
shim_main(int argc, char **argv)
{
	struct signalfd_siginfo	 si;
	struct stat		 sb;
	sigset_t		 all;
	ssize_t			 n;
	int			 sfd, flags;

	if (argc != 5)
		return (127);
	mode_pidns = strcmp(argv[2], "pidns") == 0;
	leader = (pid_t)atol(argv[3]);
	jobd_pid = (pid_t)atol(argv[4]);
	if (stat("/proc/self/ns/pid", &sb) == -1)
		shim_die("/proc/self/ns/pid");
	own_ns = sb.st_ino;

	/* Signals as data: block them all, read them from a signalfd. */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) == -1)
		shim_die("sigprocmask");
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC)) == -1)
		shim_die("signalfd");
	/* Now the job may run: it waits for this byte (see spawn.c). */
	if (write(SHIM_GATE_FD, "g", 1) != 1)
		shim_die("gate");
	if (close(SHIM_GATE_FD) == -1)
		shim_die("close gate");
	reap();		/* the leader may be gone already */
	for (;;) {
		n = read(sfd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			shim_die("read signalfd");
		if (si.ssi_signo == SIGCHLD) {
			reap();
			continue;
		}
		if (si.ssi_signo == (uint32_t)SHIM_SIGNAL &&
		    si.ssi_code == SI_QUEUE &&
		    /* From jobd: outside our namespace, pid 0 here. */
		    si.ssi_pid == (uint32_t)(mode_pidns ? 0 : jobd_pid) &&
		    ((unsigned int)si.ssi_int & SHIM_MAGIC_MASK) == SHIM_MAGIC) {
			flags = si.ssi_int & SHIM_FLAGS_MASK;
			if (flags & SHIM_KILL_ALL)
				kill_all();
			relay(si.ssi_int & SHIM_SIG_MASK, flags & SHIM_CONT);
			continue;
		}
		/* jobd is gone (PR_SET_PDEATHSIG): so is the job. */
		if (!mode_pidns && getppid() != jobd_pid)
			kill_all();
	}
}
