/*
 * The kill sequence: the job's signal and SIGCONT (a stopped process cannot
 * act on SIGTERM until continued) to every process of the job, SIGKILL to
 * all of them when the grace period runs out; then watching until the last
 * process is gone, and trying again, with back-off, if one cannot die. How
 * the processes are found and signalled is the container's business
 * (contain.c).
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#define WATCH_MIN_MS	1
#define WATCH_MAX_MS	100
#define WATCH_SCAN_MS	32
#define STUCK_MAX_MS	32000	/* back-off of SIGKILL to the unkillable */

struct killer {
	struct job		*job;
	struct container	*ct;
	int			 started;
	int			 killed;
	int			 watching;
	int			 delay_ms;
	int			 stuck_ms;
	struct event		*grace_ev;
	struct event		*watch_ev;
	struct event		*stuck_ev;
};

static void	killer_grace_cb(evutil_socket_t, short, void *);
static void	killer_watch_cb(evutil_socket_t, short, void *);
static void	killer_stuck_cb(evutil_socket_t, short, void *);

struct killer *
killer_new(struct job *job, struct container *ct)
{
	struct killer	*k = xcalloc(1, sizeof(*k));

	k->job = job;
	k->ct = ct;
	if ((k->grace_ev = evtimer_new(base, killer_grace_cb, k)) == NULL ||
	    (k->watch_ev = evtimer_new(base, killer_watch_cb, k)) == NULL ||
	    (k->stuck_ev = evtimer_new(base, killer_stuck_cb, k)) == NULL)
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
	event_free(k->stuck_ev);
	free(k);
}

int
killer_active(struct killer *k)
{
	return (k->started);
}

static void
killer_arm(struct event *ev, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (evtimer_add(ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

void
killer_send(struct killer *k, int sig, const char *reason)
{
	if (sig == SIGKILL) {
		killer_kill_now(k, reason);
		return;
	}
	container_signal(k->ct, sig, 0);
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
	job_log(k->job, LOG_LVL_INFO, "signal %d to the job (%s), SIGKILL "
	    "in %gs", sig, reason, grace);
	if (sig == SIGKILL) {
		killer_kill_now(k, reason);
		return;
	}
	container_signal(k->ct, sig, 1);
	if (sig != SIGCONT)
		job_signalled(k->job, sig, reason);
	tv = tv_from_secs(grace);
	if (evtimer_add(k->grace_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

void
killer_kill_now(struct killer *k, const char *reason)
{
	k->started = 1;
	evtimer_del(k->grace_ev);
	if (container_empty(k->ct, 0))
		return;
	container_kill(k->ct);
	if (!k->killed)
		job_log(k->job, LOG_LVL_INFO, "SIGKILL to the job (%s)",
		    reason);
	job_set_flag_killed(k->job);
	job_signalled(k->job, SIGKILL, reason);
	if (!k->killed) {
		k->killed = 1;
		k->stuck_ms = (int)(cfg.unkillable_after * 1000);
		killer_arm(k->stuck_ev, k->stuck_ms);
	}
}

static void
killer_grace_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct killer	*k = arg;

	if (container_empty(k->ct, 0))
		return;
	job_log(k->job, LOG_LVL_INFO, "grace period over, SIGKILL to what is "
	    "left");
	stats_count(STAT_KILL_ESCALATIONS, 1);
	killer_kill_now(k, "grace");
}

/*
 * SIGKILL was sent and something is still there: a process in
 * uninterruptible sleep (a hung NFS or FUSE call, a stuck device). Say so,
 * and send SIGKILL again from time to time, without ever blocking the loop.
 */
static void
killer_stuck_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct killer	*k = arg;
	int		 escaped, n;

	if (container_empty(k->ct, 1))
		return;
	if ((n = container_count(k->ct, &escaped)) >= 0)
		job_log(k->job, LOG_LVL_WARN, "%d process%s still alive %.1f s "
		    "after SIGKILL: unkillable (uninterruptible sleep?), "
		    "trying again", n, n == 1 ? "" : "es",
		    k->stuck_ms / 1000.0);
	else
		job_log(k->job, LOG_LVL_WARN, "still not gone %.1f s after "
		    "SIGKILL: unkillable (uninterruptible sleep, or a stopped "
		    "shim?), trying again", k->stuck_ms / 1000.0);
	job_set_unkillable(k->job);
	container_kill(k->ct);
	if (k->stuck_ms < STUCK_MAX_MS) {
		k->stuck_ms *= 2;
		if (k->stuck_ms > STUCK_MAX_MS)
			k->stuck_ms = STUCK_MAX_MS;
	}
	killer_arm(k->stuck_ev, k->stuck_ms);
}

int
killer_group_empty(struct killer *k)
{
	return (container_empty(k->ct, 0));
}

/*
 * Members reaped by a parent outside jobd send jobd no SIGCHLD, and the
 * inotify watch on cgroup.events can fail, so emptiness is also polled,
 * with back-off. reap_drain() checks at every SIGCHLD too.
 */
void
killer_watch(struct killer *k)
{
	if (k->watching)
		return;
	k->watching = 1;
	container_watch(k->ct);
	k->delay_ms = WATCH_MIN_MS;
	killer_arm(k->watch_ev, k->delay_ms);
}

static void
killer_watch_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct killer	*k = arg;

	if (container_empty(k->ct, k->delay_ms >= WATCH_SCAN_MS)) {
		k->watching = 0;
		job_group_gone(k->job);	/* may free k */
		return;
	}
	k->delay_ms *= 2;
	if (k->delay_ms > WATCH_MAX_MS)
		k->delay_ms = WATCH_MAX_MS;
	killer_arm(k->watch_ev, k->delay_ms);
}
