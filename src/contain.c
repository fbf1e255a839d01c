/*
 * Containment: where a job's processes are kept, so that every one of them
 * can be found, signalled and killed. Tiers, strongest first:
 *
 * cgroup2	one cgroup v2 per job. A process cannot leave it by setsid(),
 *		setpgid() or a double fork; only a process allowed to write
 *		another cgroup's cgroup.procs (root) can move out. Signals go to
 *		each member through a pidfd, never to a number; SIGKILL goes to
 *		all of them at once through cgroup.kill (Linux 5.14).
 * pidns	a PID namespace per job (with a user namespace when jobd is not
 *		root), under a shim as its pid 1 (shim.c). Nothing leaves a PID
 *		namespace; SIGKILL to its init kills all of it.
 * subreaper	a shim per job that is a child subreaper: every orphan of the
 *		job comes back to it, and it kills the tree below it in a loop.
 *		A process of the job's uid can kill the shim and escape.
 * pgid		the job's session and process group. A process that calls
 *		setsid() leaves it, and jobd cannot find it again. The group is
 *		signalled through the leader's pidfd (PIDFD_SIGNAL_PROCESS_GROUP,
 *		Linux 6.9): that reaches the members of the leader's own group,
 *		by identity, even after the leader is reaped and its number is
 *		reused; older kernels get killpg() and its pid-reuse race.
 *
 * The job cgroups of one jobd live in a directory below jobd's own cgroup,
 * named for the instance (a hash of its socket path), never for a pid: jobd
 * instances run side by side, and each may clean up only its own. Names are
 * made here, never taken from a client.
 */
#include <sys/types.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <sys/pidfd.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
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

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP	(1U << 2)	/* Linux 6.9 */
#endif

#define CG_MAX_DEPTH	16	/* nested cgroups a job may make */
#define CG_SIGNAL_ROUNDS 8	/* re-reads of cgroup.procs for new members */
#define STALE_WAIT_MS	2000	/* for a previous jobd's jobs to die */

struct container {
	struct job		*job;
	uint64_t		 id;
	pid_t			 pgid;		/* the leader's pid */
	int			 leader_fd;	/* pgid tier: its pidfd */
	int			 dfd;		/* the job's cgroup, or -1 */
	int			 join_fd;	/* its cgroup.procs, to spawn */
	int			 wd;		/* watch on cgroup.events */
	char			 name[32];	/* "job-<id>" */

	/* Shim tiers. */
	pid_t			 shim;
	int			 shim_fd;	/* pidfd of the shim */
	int			 rep_fd[2];	/* the report pipe */
	struct event		*rep_ev;
	int			 have_report;
	int			 gone;		/* shim reaped */
	struct shim_report	 rep;
};

static enum contain_tier	 tier = TIER_PGID;
static char			*cg_root;	/* absolute path */
static char			*cg_rel;	/* as /proc/PID/cgroup says */
static int			 cg_root_fd = -1;
static int			 in_fd = -1;	/* inotify, for all jobs */
static struct event		*in_ev;
static int			 exe_fd = -1;	/* jobd itself, for shims */
static int			 self_fd = -1;	/* jobd's pidfd, for shims */
static int			 pg_pidfd = 1;	/* group signals by pidfd */

static const char *tier_names[] = {
	[TIER_CGROUP2] = "cgroup2",
	[TIER_PIDNS] = "pidns",
	[TIER_SUBREAPER] = "subreaper",
	[TIER_PGID] = "pgid",
};

static int
tier_shim(void)
{
	return (tier == TIER_PIDNS || tier == TIER_SUBREAPER);
}

const char *
contain_tier_name(enum contain_tier t)
{
	return (tier_names[t]);
}

enum contain_tier
contain_tier(void)
{
	return (tier);
}

const char *
contain_cgroup_dir(void)
{
	return (tier == TIER_CGROUP2 ? cg_root : NULL);
}

int
contain_parse_tier(const char *s, int *t)
{
	if (strcmp(s, "auto") == 0)
		*t = -1;
	else if (strcmp(s, "cgroup2") == 0)
		*t = TIER_CGROUP2;
	else if (strcmp(s, "pidns") == 0)
		*t = TIER_PIDNS;
	else if (strcmp(s, "subreaper") == 0)
		*t = TIER_SUBREAPER;
	else if (strcmp(s, "pgid") == 0)
		*t = TIER_PGID;
	else
		return (-1);
	return (0);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/* The cgroup2 mount point whose root is the hierarchy's root. */
static char *
cg_find_mount(char *why, size_t len)
{
	FILE	*f;
	char	*line = NULL, *fields[10], *p, *sep, *mnt = NULL;
	size_t	 cap = 0;
	int	 n;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL) {
		snprintf(why, len, "/proc/self/mountinfo: %s", strerror(errno));
		return (NULL);
	}
	while (mnt == NULL && getline(&line, &cap, f) != -1) {
		/* "id parent maj:min root mountpoint opts... - type src" */
		if ((sep = strstr(line, " - ")) == NULL ||
		    strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		n = 0;
		for (p = strtok(line, " "); p != NULL && n < 10;
		    p = strtok(NULL, " "))
			fields[n++] = p;
		if (n < 5 || strcmp(fields[3], "/") != 0)
			continue;
		unescape_octal(fields[4]);
		mnt = xstrdup(fields[4]);
	}
	free(line);
	fclose(f);
	if (mnt == NULL)
		snprintf(why, len, "no cgroup2 hierarchy is mounted");
	return (mnt);
}

/* jobd's own cgroup, from the "0::" line: "/" or "/a/b". */
static char *
cg_own(char *why, size_t len)
{
	FILE	*f;
	char	*line = NULL, *own = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL) {
		snprintf(why, len, "/proc/self/cgroup: %s", strerror(errno));
		return (NULL);
	}
	while (own == NULL && (n = getline(&line, &cap, f)) != -1) {
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		own = xstrdup(line + 3);
	}
	free(line);
	fclose(f);
	if (own == NULL)
		snprintf(why, len, "jobd is in no cgroup v2 group");
	return (own);
}

/* FNV-1a: a stable name for this instance, from its socket path. */
static uint64_t
ident_hash(const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (h);
}

static int
cg_read(int dfd, const char *file, char *buf, size_t len)
{
	ssize_t	n;
	int	fd;

	if ((fd = openat(dfd, file, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while ((n = read(fd, buf, len - 1)) == -1 && errno == EINTR)
		;
	close(fd);
	if (n == -1)
		return (-1);
	buf[n] = '\0';
	return (0);
}

static int
cg_write(int dfd, const char *file, const char *val)
{
	size_t	len = strlen(val);
	int	fd, saved;

	if ((fd = openat(dfd, file, O_WRONLY | O_CLOEXEC)) == -1)
		return (-1);
	if (write(fd, val, len) != (ssize_t)len) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (close(fd));
}

/* 1 if no process is left in the cgroup or below it, 0 if some are, -1 if
 * it cannot be read (then it is not known to be empty). */
static int
cg_empty(int dfd)
{
	char	 buf[256], *p;

	if (cg_read(dfd, "cgroup.events", buf, sizeof(buf)) == -1)
		return (errno == ENOENT ? 1 : -1);	/* removed: empty */
	if ((p = strstr(buf, "populated ")) == NULL)
		return (-1);
	return (p[10] == '0');
}

/*
 * Every pid in cgroup.procs of dfd and of the cgroups below it, read in
 * pieces so that a fork storm needs no big buffer. fn returns -1 to stop.
 */
static int
cg_each_pid(int dfd, int depth, int (*fn)(pid_t, void *), void *arg)
{
	DIR		*d;
	struct dirent	*de;
	char		 buf[4096];
	ssize_t		 n, i;
	long		 pid = 0;
	int		 fd, sub, have = 0, r = 0;

	if ((fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC)) == -1)
		return (errno == ENOENT ? 0 : -1);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n && r == 0; i++) {
			if (isdigit((unsigned char)buf[i])) {
				pid = pid * 10 + (buf[i] - '0');
				have = 1;
			} else if (have) {
				r = fn((pid_t)pid, arg);
				pid = 0;
				have = 0;
			}
		}
	}
	close(fd);
	if (r == 0 && have)
		r = fn((pid_t)pid, arg);
	if (r != 0 || depth >= CG_MAX_DEPTH)
		return (r);

	/* Nested cgroups the job made (only a privileged job can). */
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((sub = openat(dfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			continue;
		r = cg_each_pid(sub, depth + 1, fn, arg);
		close(sub);
	}
	closedir(d);
	return (r);
}

/* Remove a cgroup and the ones the job made below it, deepest first. */
static int
cg_remove(int parent, const char *name, int depth)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return (0);
	if (errno != EBUSY || depth >= CG_MAX_DEPTH)
		return (-1);
	if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return (-1);
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR && de->d_name[0] != '.')
			(void)cg_remove(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	return (unlinkat(parent, name, AT_REMOVEDIR));
}

static int
count_one(pid_t pid, void *arg)
{
	(*(int *)arg)++;
	return (0);
}

/* Wait, bounded and blocking (only at start and exit), for a cgroup to
 * empty after cgroup.kill. */
static int
cg_wait_empty(int dfd, int ms)
{
	struct timespec	ts = { 0, 1000000 };
	int		i;

	for (i = 0; i < ms; i++) {
		if (cg_empty(dfd) == 1)
			return (0);
		nanosleep(&ts, NULL);
	}
	return (-1);
}

/* Kill everything in a job cgroup left by a previous jobd, and remove it. */
static void
cg_sweep_one(const char *name)
{
	int	dfd, n = 0;

	if ((dfd = openat(cg_root_fd, name, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_warn("%s: open %s/%s", __func__, cg_root, name);
		return;
	}
	(void)cg_each_pid(dfd, 0, count_one, &n);
	if (cg_write(dfd, "cgroup.kill", "1") == -1)
		log_warn("%s: %s/%s/cgroup.kill", __func__, cg_root, name);
	if (cg_wait_empty(dfd, STALE_WAIT_MS) == -1)
		log_warnx("%s/%s: processes left %d ms after cgroup.kill",
		    cg_root, name, STALE_WAIT_MS);
	close(dfd);
	if (cg_remove(cg_root_fd, name, 0) == -1)
		log_warn("%s: rmdir %s/%s", __func__, cg_root, name);
	log_warnx("%s: left by a previous jobd: %d process%s killed; that job "
	    "is lost", name, n, n == 1 ? "" : "es");
}

static void
cg_sweep(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	if ((fd = fcntl(cg_root_fd, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		log_warn("%s: %s", __func__, cg_root);
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR && de->d_name[0] != '.')
			cg_sweep_one(de->d_name);
	closedir(d);
}

static void
inotify_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t	n;

	/* Which job does not matter: the check looks at every waiting one. */
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n == -1 &&
	    errno == EINTR))
		;
	if (n == -1 && errno != EAGAIN)
		log_warn("%s: read inotify", __func__);
	job_check_groups();
}

static int			 cg_made_root;	/* we made the directory */

static int
cg_setup(const char *ident, char *why, size_t len)
{
	char	*mnt, *own, name[32];

	if ((mnt = cg_find_mount(why, len)) == NULL)
		return (-1);
	if ((own = cg_own(why, len)) == NULL) {
		free(mnt);
		return (-1);
	}
	snprintf(name, sizeof(name), "jobd-%016llx",
	    (unsigned long long)ident_hash(ident));
	if (strcmp(own, "/") == 0)
		own[0] = '\0';
	xasprintf(&cg_rel, "%s/%s", own, name);
	xasprintf(&cg_root, "%s%s", mnt, cg_rel);
	free(mnt);
	free(own);

	if (mkdir(cg_root, 0755) == 0)
		cg_made_root = 1;
	else if (errno != EEXIST) {
		snprintf(why, len, "mkdir %s: %s", cg_root, strerror(errno));
		return (-1);
	}
	if ((cg_root_fd = open(cg_root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		snprintf(why, len, "%s: %s", cg_root, strerror(errno));
		return (-1);
	}
	if (faccessat(cg_root_fd, "cgroup.kill", W_OK, 0) == -1) {
		snprintf(why, len, "%s/cgroup.kill: %s (Linux 5.14 or later "
		    "is needed)", cg_root, strerror(errno));
		return (-1);
	}
	/* Can a job cgroup be made? (A delegated tree may allow less.) */
	if (mkdirat(cg_root_fd, "probe", 0755) == -1 && errno != EEXIST) {
		snprintf(why, len, "mkdir %s/probe: %s", cg_root,
		    strerror(errno));
		return (-1);
	}
	if (unlinkat(cg_root_fd, "probe", AT_REMOVEDIR) == -1)
		log_warn("%s: rmdir %s/probe", __func__, cg_root);

	if ((in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		snprintf(why, len, "inotify_init1: %s", strerror(errno));
		return (-1);
	}
	if ((in_ev = event_new(base, in_fd, EV_READ | EV_PERSIST, inotify_cb,
	    NULL)) == NULL || event_add(in_ev, NULL) == -1)
		fatalx("%s: inotify event", __func__);
	return (0);
}

static void
cg_teardown(void)
{
	/* Set-up failed half-way: leave nothing behind. */
	if (cg_made_root && tier != TIER_CGROUP2 && cg_root != NULL &&
	    rmdir(cg_root) == -1)
		log_warn("%s: rmdir %s", __func__, cg_root);
	cg_made_root = 0;
	if (in_ev != NULL)
		event_free(in_ev);
	in_ev = NULL;
	if (in_fd != -1)
		close(in_fd);
	in_fd = -1;
	if (cg_root_fd != -1)
		close(cg_root_fd);
	cg_root_fd = -1;
	free(cg_root);
	free(cg_rel);
	cg_root = cg_rel = NULL;
}

static char	probe_stack[16384] __attribute__((aligned(64)));

static int
probe_child(void *arg)
{
	_exit(0);
}

/* Can we make a PID namespace (with a user namespace if not root)? */
static int
pidns_probe(char *why, size_t len)
{
	int	flags = CLONE_VM | CLONE_VFORK | CLONE_NEWPID | SIGCHLD;
	pid_t	pid;

	if (geteuid() != 0)
		flags |= CLONE_NEWUSER;
	if ((pid = clone(probe_child, probe_stack + sizeof(probe_stack),
	    flags, NULL)) == -1) {
		snprintf(why, len, "clone(CLONE_NEWPID%s): %s",
		    geteuid() != 0 ? "|CLONE_NEWUSER" : "", strerror(errno));
		return (-1);
	}
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	return (0);
}

/* The shim is jobd itself, exec'd from this fd: no path to look up, and
 * the same binary even if the file is replaced meanwhile. */
static int
shim_setup(enum contain_tier t, char *why, size_t len)
{
	if (t == TIER_PIDNS && pidns_probe(why, len) == -1)
		return (-1);
	/* The subreaper shim finds the job's processes there. */
	if (t == TIER_SUBREAPER && access("/proc/thread-self/children",
	    R_OK) == -1) {
		snprintf(why, len, "/proc/thread-self/children: %s (a kernel "
		    "without CONFIG_PROC_CHILDREN)", strerror(errno));
		return (-1);
	}
	if (self_fd == -1 && (self_fd = pidfd_open(getpid(), 0)) == -1) {
		snprintf(why, len, "pidfd_open: %s", strerror(errno));
		return (-1);
	}
	if (exe_fd == -1 && (exe_fd = open("/proc/self/exe",
	    O_PATH | O_CLOEXEC)) == -1) {
		snprintf(why, len, "/proc/self/exe: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

static int
tier_setup(enum contain_tier t, const char *ident, char *why, size_t len)
{
	switch (t) {
	case TIER_CGROUP2:
		if (cg_setup(ident, why, len) == 0) {
			cg_sweep();
			return (0);
		}
		cg_teardown();
		return (-1);
	case TIER_PIDNS:
	case TIER_SUBREAPER:
		return (shim_setup(t, why, len));
	case TIER_PGID:
		return (0);
	}
	return (-1);
}

static const char *tier_limits[] = {
	[TIER_CGROUP2] = "no process of a job can leave it (unless it may "
	    "manage cgroups: root)",
	[TIER_PIDNS] = "no process of a job can leave it; jobs see their own "
	    "PID namespace",
	[TIER_SUBREAPER] = "a process of a job that kills its shim escapes; "
	    "killing is a loop, not atomic",
	[TIER_PGID] = "a process that calls setsid() escapes its job",
};

/*
 * Pick the strongest tier available, or the one asked for (want >= 0). Call
 * once this jobd owns its socket: it kills what a previous jobd on the same
 * socket left behind.
 */
int
contain_init(int want, const char *ident)
{
	char			why[512], canon[PATH_MAX];
	enum contain_tier	t;

	/* The same socket, however it was named (relative, symlinks). */
	if (realpath(ident, canon) != NULL)
		ident = canon;
	else
		log_warn("%s: realpath %s", __func__, ident);

	if (want >= 0) {
		if (tier_setup((enum contain_tier)want, ident, why,
		    sizeof(why)) == -1) {
			log_warnx("containment %s was asked for and is not "
			    "available: %s", tier_names[want], why);
			return (-1);
		}
		tier = (enum contain_tier)want;
	} else {
		for (t = TIER_CGROUP2; t < TIER_PGID; t++) {
			if (tier_setup(t, ident, why, sizeof(why)) == 0)
				break;
			log_info("containment %s not available: %s",
			    tier_names[t], why);
		}
		tier = t;
	}
	if (tier == TIER_CGROUP2)
		log_info("containment cgroup2: job cgroups in %s", cg_root);
	(tier == TIER_PGID ? log_warnx : log_info)("containment %s: %s",
	    tier_names[tier], tier_limits[tier]);
	return (0);
}

/* At exit, every job is over: remove what is left, and the directory. */
void
contain_fini(void)
{
	if (exe_fd != -1)
		close(exe_fd);
	if (self_fd != -1)
		close(self_fd);
	exe_fd = self_fd = -1;
	if (tier != TIER_CGROUP2 || cg_root == NULL)
		return;
	cg_sweep();
	if (rmdir(cg_root) == -1 && errno != EBUSY)
		log_warn("%s: rmdir %s", __func__, cg_root);
	cg_teardown();
}

struct container *
container_new(struct job *job, uint64_t id, char *err, size_t len)
{
	struct container	*c = xcalloc(1, sizeof(*c));
	int			 saved;

	c->job = job;
	c->id = id;
	c->dfd = c->join_fd = c->wd = c->shim_fd = c->leader_fd = -1;
	c->rep_fd[0] = c->rep_fd[1] = -1;
	snprintf(c->name, sizeof(c->name), "job-%llu", (unsigned long long)id);
	if (tier_shim()) {
		if (pipe2(c->rep_fd, O_CLOEXEC) == -1 ||
		    fd_set_nonblock(c->rep_fd[0]) == -1) {
			snprintf(err, len, "shim report pipe: %s",
			    strerror(errno));
			container_free(c);
			return (NULL);
		}
		return (c);
	}
	if (tier != TIER_CGROUP2)
		return (c);

	if (mkdirat(cg_root_fd, c->name, 0755) == -1) {
		if (errno != EEXIST)
			goto fail;
		/* Left over by a job of an earlier run that failed to go. */
		cg_sweep_one(c->name);
		if (mkdirat(cg_root_fd, c->name, 0755) == -1)
			goto fail;
	}
	if ((c->dfd = openat(cg_root_fd, c->name, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (c->join_fd = openat(c->dfd, "cgroup.procs",
	    O_WRONLY | O_CLOEXEC)) == -1)
		goto fail;
	return (c);
fail:
	saved = errno;
	snprintf(err, len, "job cgroup %s/%s: %s", cg_root, c->name,
	    strerror(errno));
	if (c->dfd == -1)
		(void)unlinkat(cg_root_fd, c->name, AT_REMOVEDIR);
	container_free(c);
	errno = saved;
	return (NULL);
}

void
container_spawn_req(struct container *c, struct spawn_req *sr)
{
	sr->cgroup_fd = c->join_fd;
	sr->tier = tier;
	sr->report_fd = c->rep_fd[1];
	sr->exe_fd = exe_fd;
	sr->jobd_fd = self_fd;
}

static int
shim_read_report(struct container *c)
{
	ssize_t	n;

	if (c->have_report)
		return (1);
	while ((n = read(c->rep_fd[0], &c->rep, sizeof(c->rep))) == -1 &&
	    errno == EINTR)
		;
	if (n == (ssize_t)sizeof(c->rep) && c->rep.magic == SHIM_REPORT_MAGIC)
		c->have_report = 1;
	else if (n > 0)
		log_warnx("job %llu: garbled report from the shim (%zd bytes)",
		    (unsigned long long)c->id, n);
	return (c->have_report);
}

static void
shim_report_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct container	*c = arg;

	/* One report, or EOF: the shim died without one. */
	event_del(c->rep_ev);
	if (shim_read_report(c))
		job_leader_report(c->job, c->rep.status, &c->rep.ru);
}

void
container_spawned(struct container *c, pid_t wait_pid, pid_t leader)
{
	c->pgid = leader;
	if (c->join_fd != -1 && close(c->join_fd) == -1)
		log_warn("%s: close", __func__);
	c->join_fd = -1;
	/* Our unreaped child: the pid is still the leader's. */
	if (tier == TIER_PGID && leader > 0 && pg_pidfd &&
	    (c->leader_fd = pidfd_open(leader, 0)) == -1)
		log_warn("job %llu: pidfd_open %ld", (unsigned long long)c->id,
		    (long)leader);
	if (!tier_shim())
		return;
	if (close(c->rep_fd[1]) == -1)
		log_warn("%s: close", __func__);
	c->rep_fd[1] = -1;
	if (wait_pid == -1)
		return;
	c->shim = wait_pid;
	/* Our unreaped child: its pid cannot be reused before we reap it. */
	if ((c->shim_fd = pidfd_open(wait_pid, 0)) == -1)
		log_warn("job %llu: pidfd_open shim %ld",
		    (unsigned long long)c->id, (long)wait_pid);
	if ((c->rep_ev = event_new(base, c->rep_fd[0], EV_READ | EV_PERSIST,
	    shim_report_cb, c)) == NULL || event_add(c->rep_ev, NULL) == -1)
		fatalx("%s: event", __func__);
}

void
container_reaped(struct container *c, int *status, struct rusage *ru)
{
	if (!tier_shim() || c->gone)
		return;
	c->gone = 1;
	if (c->shim_fd != -1)
		close(c->shim_fd);
	c->shim_fd = -1;
	if (!(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) &&
	    !(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL))
		log_warnx("job %llu: shim %ld ended with status 0x%x",
		    (unsigned long long)c->id, (long)c->shim, *status);
	if (shim_read_report(c)) {
		*status = c->rep.status;
		*ru = c->rep.ru;
	} else {
		*status = SIGKILL;	/* killed with its shim */
		/* Not so below a subreaper: the job goes up to jobd. */
		if (tier == TIER_SUBREAPER)
			log_warnx("job %llu: its shim died first: the job's "
			    "processes are no longer contained and may still "
			    "run", (unsigned long long)c->id);
	}
}

void
container_free(struct container *c)
{
	int	i;

	if (c == NULL)
		return;
	if (c->rep_ev != NULL)
		event_free(c->rep_ev);
	for (i = 0; i < 2; i++)
		if (c->rep_fd[i] != -1)
			close(c->rep_fd[i]);
	if (c->shim_fd != -1)
		close(c->shim_fd);
	if (c->leader_fd != -1)
		close(c->leader_fd);
	if (c->join_fd != -1)
		close(c->join_fd);
	if (c->dfd != -1) {
		close(c->dfd);
		/* Removing it drops the inotify watch too. */
		if (cg_remove(cg_root_fd, c->name, 0) == -1)
			log_warn("job %llu: rmdir %s/%s",
			    (unsigned long long)c->id, cg_root, c->name);
	}
	free(c);
}

/*
 * The job is waiting for its last processes to go: be told when they have
 * (populated 0 in cgroup.events). Only then: each exit of a watched cgroup's
 * last process wakes jobd, which most jobs do not need.
 */
void
container_watch(struct container *c)
{
	char	path[PATH_MAX];

	if (tier != TIER_CGROUP2 || c->dfd == -1 || c->wd != -1)
		return;
	snprintf(path, sizeof(path), "%s/%s/cgroup.events", cg_root, c->name);
	/* Without the watch, emptiness is still polled: not fatal. */
	if ((c->wd = inotify_add_watch(in_fd, path, IN_MODIFY)) == -1)
		log_warn("job %llu: inotify_add_watch %s",
		    (unsigned long long)c->id, path);
}

/* Does pid (pinned by a pidfd the caller holds) belong to this job? */
static int
cg_member(struct container *c, pid_t pid)
{
	char	path[64], buf[4096], *p, *e;
	size_t	n = strlen(cg_rel);

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	if (cg_read(AT_FDCWD, path, buf, sizeof(buf)) == -1)
		return (0);
	/* The v2 line, "0::<rel>/job-N", after any v1 lines; or below it. */
	if (strncmp(buf, "0::", 3) == 0)
		p = buf + 3;
	else if ((p = strstr(buf, "\n0::")) != NULL)
		p += 4;
	else
		return (0);
	if (strncmp(p, cg_rel, n) != 0 || p[n] != '/')
		return (0);
	p += n + 1;
	n = strlen(c->name);
	if (strncmp(p, c->name, n) != 0)
		return (0);
	e = p + n;
	return (*e == '\n' || *e == '/' || *e == '\0');
}

/* The pids signalled so far: an open-addressing set (0 is never a pid),
 * so that a job of many thousand processes costs no quadratic search. */
struct pidset {
	pid_t	*v;
	size_t	 n, cap;	/* cap: a power of two */
};

static int
pidset_add(struct pidset *ps, pid_t pid)
{
	pid_t	*old = ps->v;
	size_t	 i, oldcap = ps->cap;

	if ((ps->n + 1) * 2 > ps->cap) {
		ps->cap = ps->cap == 0 ? 64 : ps->cap * 2;
		ps->v = xcalloc(ps->cap, sizeof(pid_t));
		ps->n = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i] != 0)
				(void)pidset_add(ps, old[i]);
		free(old);
	}
	for (i = ((size_t)pid * 2654435761U) & (ps->cap - 1); ps->v[i] != 0;
	    i = (i + 1) & (ps->cap - 1))
		if (ps->v[i] == pid)
			return (0);
	ps->v[i] = pid;
	ps->n++;
	return (1);
}

struct sig_ctx {
	struct container	*c;
	int			 sig, cont;
	struct pidset		 seen;
	int			 fresh;		/* new pids this round */
	int			 sent;
};

static int
sig_one(pid_t pid, void *arg)
{
	struct sig_ctx	*x = arg;
	int		 pfd;

	if (pid <= 0 || !pidset_add(&x->seen, pid))
		return (0);
	x->fresh++;

	/* The pidfd pins the process: check it, then signal it, not a
	 * number that may have been reused meanwhile. */
	if ((pfd = pidfd_open(pid, 0)) == -1) {
		if (errno != ESRCH)
			log_warn("%s: pidfd_open %ld", __func__, (long)pid);
		return (0);
	}
	if (cg_member(x->c, pid)) {
		if (pidfd_send_signal(pfd, x->sig, NULL, 0) == 0)
			x->sent++;
		else if (errno != ESRCH)
			log_warn("%s: signal %d to %ld", __func__, x->sig,
			    (long)pid);
		if (x->cont && pidfd_send_signal(pfd, SIGCONT, NULL, 0) == -1 &&
		    errno != ESRCH)
			log_warn("%s: SIGCONT to %ld", __func__, (long)pid);
	}
	close(pfd);
	return (0);
}

/*
 * One signal to every process of the job (and SIGCONT after it, if cont).
 * Members forked meanwhile show up in a re-read of cgroup.procs, as
 * systemd's cg_kill does. Returns how many processes were signalled.
 */
/*
 * sig to the leader's process group: 0 if sent, -1 with ESRCH if the group
 * has no member left (zombies count), or another errno.
 */
static int
pgid_send(struct container *c, int sig)
{
	if (c->leader_fd != -1 && pg_pidfd) {
		if (pidfd_send_signal(c->leader_fd, sig, NULL,
		    PIDFD_SIGNAL_PROCESS_GROUP) == 0)
			return (0);
		if (errno != EINVAL)
			return (-1);
		log_warnx("pidfd_send_signal cannot signal a process group "
		    "(Linux < 6.9): using killpg(), which can hit a reused "
		    "process group number");
		pg_pidfd = 0;
	}
	return (killpg(c->pgid, sig));
}

/* Tell the shim: sig to everyone in the job, or SIGKILL to all. */
static int
shim_send(struct container *c, int sig, int flags)
{
	siginfo_t	si;

	if (c->gone || c->shim_fd == -1)
		return (0);
	/* A job may have stopped its shim (it cannot block SIGSTOP). */
	if (pidfd_send_signal(c->shim_fd, SIGCONT, NULL, 0) == -1 &&
	    errno != ESRCH)
		log_warn("job %llu: SIGCONT to shim", (unsigned long long)c->id);
	memset(&si, 0, sizeof(si));
	si.si_signo = SHIM_SIGNAL;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = (int)(SHIM_MAGIC | (unsigned int)flags |
	    (unsigned int)sig);
	if (pidfd_send_signal(c->shim_fd, SHIM_SIGNAL, &si, 0) == -1) {
		if (errno != ESRCH)
			log_warn("job %llu: signal to shim %ld",
			    (unsigned long long)c->id, (long)c->shim);
		return (0);
	}
	return (1);
}

int
container_signal(struct container *c, int sig, int cont)
{
	struct sig_ctx	x;
	int		round;

	if (tier_shim()) {
		if (sig == SIGKILL)
			return (container_kill(c));
		return (shim_send(c, sig, cont && sig != SIGCONT ?
		    SHIM_CONT : 0));
	}
	if (tier != TIER_CGROUP2 || c->dfd == -1) {
		if (pgid_send(c, sig) == -1) {
			if (errno != ESRCH)
				log_warn("%s: group %ld signal %d", __func__,
				    (long)c->pgid, sig);
			return (0);
		}
		if (cont && pgid_send(c, SIGCONT) == -1 && errno != ESRCH)
			log_warn("%s: group %ld SIGCONT", __func__,
			    (long)c->pgid);
		return (1);
	}
	if (sig == SIGKILL)
		return (container_kill(c));
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.sig = sig;
	x.cont = cont && sig != SIGCONT;
	for (round = 0; round < CG_SIGNAL_ROUNDS; round++) {
		x.fresh = 0;
		if (cg_each_pid(c->dfd, 0, sig_one, &x) == -1)
			log_warn("job %llu: read %s/%s/cgroup.procs",
			    (unsigned long long)c->id, cg_root, c->name);
		if (x.fresh == 0)
			break;
	}
	free(x.seen.v);
	return (x.sent);
}

/* SIGKILL to all of the job at once. */
int
container_kill(struct container *c)
{
	if (tier == TIER_PIDNS) {
		/* The namespace's init: the kernel kills all of it. */
		if (c->gone || c->shim_fd == -1)
			return (0);
		if (pidfd_send_signal(c->shim_fd, SIGKILL, NULL, 0) == -1) {
			if (errno != ESRCH)
				log_warn("job %llu: SIGKILL to shim",
				    (unsigned long long)c->id);
			return (0);
		}
		return (1);
	}
	if (tier == TIER_SUBREAPER)
		return (shim_send(c, SIGKILL, SHIM_KILL_ALL));
	if (tier != TIER_CGROUP2 || c->dfd == -1) {
		if (pgid_send(c, SIGKILL) == -1) {
			if (errno != ESRCH)
				log_warn("%s: group %ld SIGKILL", __func__,
				    (long)c->pgid);
			return (0);
		}
		return (1);
	}
	if (cg_write(c->dfd, "cgroup.kill", "1") == -1) {
		log_warn("job %llu: %s/%s/cgroup.kill",
		    (unsigned long long)c->id, cg_root, c->name);
		return (0);
	}
	return (1);
}

/*
 * Live (not zombie) processes of the process group, from /proc; -1 if /proc
 * cannot be read. In the pgid tier, a group of zombies whose parent escaped
 * and does not reap them is as good as empty.
 */
static int
pgid_count(pid_t pgid)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300], buf[512], *p, state;
	int		 fd, count = 0;
	ssize_t		 n;
	long		 pgrp;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("%s: opendir /proc", __func__);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;	/* gone meanwhile */
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid pgrp ...": comm may hold ')' */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %*d %ld", &state, &pgrp) != 2)
			continue;
		if (pgrp == (long)pgid && state != 'Z' && state != 'X')
			count++;
	}
	closedir(d);
	return (count);
}

/* 1 if nothing of the job is left. thorough: in the pgid tier, also look
 * past zombies in /proc (slow: for a watch that has backed off). */
int
container_empty(struct container *c, int thorough)
{
	if (tier_shim())
		return (c->gone || c->shim == 0);
	if (tier == TIER_CGROUP2 && c->dfd != -1)
		return (cg_empty(c->dfd) == 1);
	if (pgid_send(c, 0) == -1 && errno == ESRCH)
		return (1);
	/*
	 * EPERM: a member changed uid; it still exists. A member, even a
	 * zombie, keeps the number from being reused: counting by number is
	 * right while the group exists.
	 */
	return (thorough && pgid_count(c->pgid) == 0);
}

struct count_ctx {
	pid_t	pgid;
	int	live, escaped;
};

static int
count_member(pid_t pid, void *arg)
{
	struct count_ctx	*x = arg;
	char			 path[64], buf[512], *p, state;
	long			 pgrp;
	int			 fd;
	ssize_t			 n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %*d %ld", &state, &pgrp) != 2 ||
	    state == 'Z' || state == 'X')
		return (0);
	x->live++;
	if (pgrp != (long)x->pgid)
		x->escaped++;
	return (0);
}

/*
 * Live processes of the job, and how many of them left its process group
 * (-1 when the tier cannot see those). Returns -1 if it cannot tell.
 */
int
container_count(struct container *c, int *escaped)
{
	struct count_ctx	x;

	*escaped = -1;
	if (tier_shim()) {
		if (!c->have_report)
			return (-1);
		*escaped = c->rep.escaped;
		return (c->rep.leftovers);
	}
	if (tier != TIER_CGROUP2 || c->dfd == -1)
		return (pgid_count(c->pgid));
	memset(&x, 0, sizeof(x));
	x.pgid = c->pgid;
	if (cg_each_pid(c->dfd, 0, count_member, &x) == -1)
		return (-1);
	*escaped = x.escaped;
	return (x.live);
}
