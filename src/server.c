/*
 * The server's life: the event base, signals through libevent into one
 * switch, and the orderly shutdown: stop accepting, run every job's kill
 * sequence, answer every waiting client, remove the socket, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "jobd.h"
#include "log.h"

struct event_base	*base;

static struct event	*sig_ev[3];
static struct event	*exit_ev;
static int		 exiting;
static uint64_t		 exit_deadline;

static void
exit_check_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	tv = { 0, 10000 };

	if (conn_count() == 0 || mono_ns() >= exit_deadline) {
		event_base_loopbreak(base);
		return;
	}
	evtimer_add(exit_ev, &tv);
}

/* Called whenever a job ends: once draining and nothing is left, go. */
void
jobd_maybe_exit(void)
{
	if (!ops_draining() || exiting || job_live_count() > 0)
		return;
	exiting = 1;
	log_info("all jobs ended; flushing replies to %u clients",
	    conn_count());
	conn_close_all();
	exit_deadline = mono_ns() + (uint64_t)(cfg.shutdown_grace * 1e9);
	if ((exit_ev = evtimer_new(base, exit_check_cb, NULL)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	exit_check_cb(-1, 0, NULL);
}

static void
shutdown_begin(int sig)
{
	if (ops_draining()) {
		log_warnx("signal %d again: SIGKILL to every job now", sig);
		job_kill_all_now();
		return;
	}
	log_info("signal %d: shutting down, %u jobs to stop", sig,
	    job_live_count());
	notify_stopping();
	ops_set_draining(1);
	control_close();
	job_cancel_all();
	jobd_maybe_exit();
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		shutdown_begin(sig);
		break;
	case SIGHUP:
		/* Stopping: a new configuration would only race the drain. */
		if (ops_draining()) {
			log_info("SIGHUP while shutting down: not reloading");
			break;
		}
		notify_reloading();
		if (config_reload(&cfg) == 0) {
			auth_apply();
			output_files_budget(cfg.max_output_files);
			sched_reloaded();	/* new caps: max_running ... */
		}
		/* A rejected config leaves the old one running: ready as well. */
		notify_reloaded();
		break;
	}
}

void
server_signals_init(void)
{
	const int	sigs[] = { SIGTERM, SIGINT, SIGHUP };
	size_t		i;

	/* Writes to a gone client or job return EPIPE instead of killing us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE");
	for (i = 0; i < 3; i++) {
		sig_ev[i] = evsignal_new(base, sigs[i], signal_cb, NULL);
		if (sig_ev[i] == NULL || evsignal_add(sig_ev[i], NULL) == -1)
			fatalx("evsignal %d", sigs[i]);
	}
}

void
server_free(void)
{
	size_t	i;

	for (i = 0; i < sizeof(sig_ev) / sizeof(sig_ev[0]); i++)
		if (sig_ev[i] != NULL)
			event_free(sig_ev[i]);
	if (exit_ev != NULL)
		event_free(exit_ev);
}
