/*
 * Talking to the service manager, and nothing else: sd_notify's READY=1 once
 * the socket accepts, STATUS= with the live counts, RELOADING=1 around a
 * reload, STOPPING=1 when the drain begins, WATCHDOG=1 while the event loop
 * turns. Built without libsystemd, or started without NOTIFY_SOCKET, every
 * function here does nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "jobd.h"
#include "log.h"

#ifdef HAVE_LIBSYSTEMD

/* STATUS= at most this often: counts change per event, the manager reads. */
#define NOTIFY_WATCHDOG_MIN_USEC	10000	/* 10 ms */
#define NOTIFY_STATUS_SECS	1

static struct event	*status_ev;
static struct event	*watchdog_ev;
static char		 status_sent[128];
static int		 stopping;
static int		 failed;

static void
notify_send(const char *msg)
{
	int	rc;

	if ((rc = sd_notify(0, msg)) >= 0 || failed)
		return;
	/* Once: a manager gone away would flood the log every second. */
	failed = 1;
	log_warnx("sd_notify %.*s: %s", (int)strcspn(msg, "=\n"), msg,
	    strerror(-rc));
}

/* The counts ping reports, plus connections; sent only when they change. */
static void
notify_status_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	status[sizeof(status_sent)], msg[sizeof(status) + 16];

	snprintf(status, sizeof(status), "%s%u running, %u queued, %u client%s",
	    stopping ? "stopping: " : "", sched_running(), queue_len(),
	    conn_count(), conn_count() == 1 ? "" : "s");
	if (strcmp(status, status_sent) == 0)
		return;
	strlcpy(status_sent, status, sizeof(status_sent));
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	notify_send(msg);
}

static void
notify_watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	notify_send("WATCHDOG=1");
}

/*
 * The watchdog, if the manager asked for one for this very process
 * (WATCHDOG_USEC, WATCHDOG_PID): a ping every half interval from the event
 * loop, so that a loop stuck for the whole interval gets jobd restarted.
 */
void
notify_init(void)
{
	struct timeval	tv;
	uint64_t	usec;
	int		rc;

	if ((rc = sd_watchdog_enabled(0, &usec)) < 0)
		log_warnx("watchdog: %s: not enabled", strerror(-rc));
	if (rc <= 0)
		return;
	usec /= 2;
	/* A tiny interval would have jobd do nothing else but ping. */
	if (usec < NOTIFY_WATCHDOG_MIN_USEC) {
		log_warnx("watchdog: WATCHDOG_USEC %llu is too short: pinging "
		    "every %d ms", (unsigned long long)usec * 2,
		    NOTIFY_WATCHDOG_MIN_USEC / 1000);
		usec = NOTIFY_WATCHDOG_MIN_USEC;
	}
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	watchdog_ev = event_new(base, -1, EV_PERSIST, notify_watchdog_cb, NULL);
	if (watchdog_ev == NULL || event_add(watchdog_ev, &tv) == -1)
		fatalx("%s: watchdog event", __func__);
	log_info("watchdog: WATCHDOG=1 every %llu.%06llu s",
	    (unsigned long long)tv.tv_sec, (unsigned long long)tv.tv_usec);
}

/* The socket accepts and the store is loaded: started, for systemd. */
void
notify_ready(void)
{
	struct timeval	tv = { NOTIFY_STATUS_SECS, 0 };

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	notify_send("READY=1");
	notify_status_cb(-1, 0, NULL);
	status_ev = event_new(base, -1, EV_PERSIST, notify_status_cb, NULL);
	if (status_ev == NULL || event_add(status_ev, &tv) == -1)
		fatalx("%s: status event", __func__);
}

void
notify_stopping(void)
{
	stopping = 1;
	notify_send("STOPPING=1");
	if (status_ev != NULL)
		notify_status_cb(-1, 0, NULL);
}

/* MONOTONIC_USEC: what systemd 253's Type=notify-reload asks for. */
void
notify_reloading(void)
{
	struct timespec	ts;
	char		msg[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

void
notify_reloaded(void)
{
	notify_send("READY=1");
}

void
notify_free(void)
{
	if (status_ev != NULL)
		event_free(status_ev);
	if (watchdog_ev != NULL)
		event_free(watchdog_ev);
	status_ev = watchdog_ev = NULL;
}

#else /* !HAVE_LIBSYSTEMD */

void notify_init(void) {}
void notify_ready(void) {}
void notify_stopping(void) {}
void notify_reloading(void) {}
void notify_reloaded(void) {}
void notify_free(void) {}

#endif /* HAVE_LIBSYSTEMD */
