/*
 * Reaping, in exactly one place. SIGCHLD coalesces (200 children exiting at
 * once gave 12-41 callbacks here), so every wake-up drains wait4() until
 * nothing is left. jobd is a child subreaper: orphans of its jobs come back to
 * it and are reaped here too, so no zombie pins a job's process group.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>

#include "jobd.h"
#include "log.h"

static struct event	*sigchld_ev, *safety_ev;
static unsigned long	 orphans;

static void
reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	reap_drain();
}

void
reap_init(void)
{
	struct timeval	tv = { 1, 0 };

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("%s: PR_SET_CHILD_SUBREAPER: orphans of jobs will not "
		    "come back to jobd", __func__);
	if ((sigchld_ev = evsignal_new(base, SIGCHLD, reap_cb, NULL)) == NULL ||
	    evsignal_add(sigchld_ev, NULL) == -1)
		fatalx("%s: SIGCHLD event", __func__);
	/* A safety net: should a SIGCHLD ever be missed, nothing waits long. */
	if ((safety_ev = event_new(base, -1, EV_PERSIST, reap_cb,
	    NULL)) == NULL || event_add(safety_ev, &tv) == -1)
		fatalx("%s: timer", __func__);
}

void
reap_drain(void)
{
	struct rusage	 ru;
	struct job	*job;
	pid_t		 pid;
	int		 status;

	for (;;) {
		pid = wait4(-1, &status, WNOHANG, &ru);
		if (pid == 0)
			break;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("%s: wait4", __func__);
			break;
		}
		if ((job = job_find_pid(pid)) != NULL)
			job_reaped(job, status, &ru);
		else {
			orphans++;
			log_debug("reaped orphan %ld", (long)pid);
		}
	}
	job_check_groups();
}

void
reap_free(void)
{
	event_free(sigchld_ev);
	event_free(safety_ev);
}

unsigned long
reap_orphans(void)
{
	return (orphans);
}
