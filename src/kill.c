/*
 * Killing a job's process group: the signal and SIGCONT (a stopped process
 * cannot act on SIGTERM until continued), then SIGKILL when the grace period
 * runs out; and watching the group until its last process is gone.
 *
 * The group number is the leader's pid, and the leader called setsid(), so
 * every process of the job's session, zombies included, pins that number: it
 * cannot be reused while any of them exists. jobd is a subreaper and reaps
 * what it is handed, so a zombie never pins it forever either.
 */
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#define WATCH_MIN_MS	1
#define WATCH_MAX_MS	100
#define WATCH_SCAN_MS	32

struct killer {
	struct job	*job;
	pid_t		 pgid;
	int		 started;
	int		 watching;
	int		 delay_ms;
	struct event	*grace_ev;
	struct event	*watch_ev;
};

static void	killer_grace_cb(evutil_socket_t, short, void *);
static void	killer_watch_cb(evutil_socket_t, short, void *);

static void
signal_group(pid_t pgid, int sig)
{
	if (killpg(pgid, sig) == -1 && errno != ESRCH)
		log_warn("%s: killpg %ld signal %d", __func__, (long)pgid, sig);
}

struct killer *
killer_new(struct job *job, pid_t pgid)
{
	struct killer	*k = xcalloc(1, sizeof(*k));

	k->job = job;
	k->pgid = pgid;
	if ((k->grace_ev = evtimer_new(base, killer_grace_cb, k)) == NULL ||
	    (k->watch_ev = evtimer_new(base, killer_watch_cb, k)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	return (k);
}

void
killer_free(struct killer *k)
{
	if (k == NULL)
		return;
	event_free(k->grace_ev);
	event_free(k->watch_ev);
	free(k);
}

int
killer_active(struct killer *k)
{
	return (k->started);
}

void
killer_send(struct killer *k, int sig, const char *reason)
{
	signal_group(k->pgid, sig);
	if (sig == SIGKILL)
		job_set_flag_killed(k->job);
	if (sig != SIGCONT)
		job_signalled(k->job, sig, reason);
}

void
killer_start(struct killer *k, int sig, double grace, const char *reason)
{
	struct timeval	tv;

	if (k->started)
		return;
	k->started = 1;
	log_debug("job %llu: signal %d to group %ld (%s), SIGKILL in %gs",
	    (unsigned long long)job_id(k->job), sig, (long)k->pgid, reason,
	    grace);
	killer_send(k, sig, reason);
	if (sig == SIGKILL)
		return;
	if (sig != SIGCONT)
		signal_group(k->pgid, SIGCONT);
	tv = tv_from_secs(grace);
	if (evtimer_add(k->grace_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

void
killer_kill_now(struct killer *k, const char *reason)
{
	k->started = 1;
	evtimer_del(k->grace_ev);
	if (killer_group_empty(k))
		return;
	killer_send(k, SIGKILL, reason);
}

static void
killer_grace_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct killer	*k = arg;

	if (killer_group_empty(k))
		return;
	log_info("job %llu: grace period over, sending SIGKILL to group %ld",
	    (unsigned long long)job_id(k->job), (long)k->pgid);
	killer_kill_now(k, "grace");
}

int
killer_group_empty(struct killer *k)
{
	if (killpg(k->pgid, 0) == 0)
		return (0);
	if (errno == ESRCH)
		return (1);
	/* EPERM: a member changed uid; it still exists. */
	return (0);
}

static void
killer_arm_watch(struct killer *k)
{
	struct timeval	tv = { 0, k->delay_ms * 1000 };

	if (evtimer_add(k->watch_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

/*
 * Members reaped by a parent outside jobd send jobd no SIGCHLD, so emptiness
 * is also polled, with back-off. reap_drain() checks at every SIGCHLD too.
 */
void
killer_watch(struct killer *k)
{
	if (k->watching)
		return;
	k->watching = 1;
	k->delay_ms = WATCH_MIN_MS;
	killer_arm_watch(k);
}

static void
killer_watch_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct killer	*k = arg;

	/*
	 * Only zombies left, whose parent escaped the group and does not reap
	 * them, would keep the group alive forever. They pin its number, so
	 * nothing can reuse it; look at /proc once polling has slowed down.
	 */
	if (killer_group_empty(k) || (k->delay_ms >= WATCH_SCAN_MS &&
	    killer_count_group(k->pgid) == 0)) {
		k->watching = 0;
		job_group_gone(k->job);	/* may free k */
		return;
	}
	k->delay_ms *= 2;
	if (k->delay_ms > WATCH_MAX_MS)
		k->delay_ms = WATCH_MAX_MS;
	killer_arm_watch(k);
}

/* Live (non-zombie) processes whose process group is pgid, from /proc; -1
 * if /proc cannot be read. */
int
killer_count_group(pid_t pgid)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300], buf[512], *p, state;
	int		 fd, count = 0;
	ssize_t		 n;
	long		 pgrp;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("%s: opendir /proc", __func__);
		return (-1);	/* unknown: not "none" */
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
