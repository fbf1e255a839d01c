/*
 * A bound on how long jobd waits in a spawn. The vfork-style spawn holds
 * jobd's loop until the child execs, and a child that has become a user's
 * process (run-as) can be stopped by that user, or hang on a file system
 * the user serves, before its exec. The loop cannot watch that from inside
 * clone(), so one thread does: armed around each spawn, it SIGKILLs the
 * child (and the gated job, if any) when spawn_timeout passes. Both are our
 * own unreaped children then, so their pids are safe to signal.
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "jobd.h"
#include "log.h"

static pthread_mutex_t	 guard_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 guard_cond;
static pthread_t	 guard_thread;
static int		 guard_started;
static int		 guard_armed;
static int		 guard_fired;
static uint64_t		 guard_gen;
static struct timespec	 guard_deadline;
static volatile pid_t	*guard_pids;
static int		 guard_npids;

static void
guard_kill(void)
{
	pid_t	pid;
	int	i;

	for (i = 0; i < guard_npids; i++)
		if ((pid = guard_pids[i]) > 0)
			kill(pid, SIGKILL);
	guard_fired = 1;
}

static void *
guard_main(void *arg)
{
	uint64_t	gen;
	int		rc;

	pthread_mutex_lock(&guard_mtx);
	for (;;) {
		while (!guard_armed)
			pthread_cond_wait(&guard_cond, &guard_mtx);
		gen = guard_gen;
		rc = 0;
		while (guard_armed && guard_gen == gen && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&guard_cond, &guard_mtx,
			    &guard_deadline);
		if (guard_armed && guard_gen == gen && rc == ETIMEDOUT)
			guard_kill();
		/* Fired or disarmed: wait for the next spawn. */
		while (guard_armed && guard_gen == gen)
			pthread_cond_wait(&guard_cond, &guard_mtx);
	}
	return (NULL);
}

/* The thread blocks every signal: they are the event loop's. */
static void
guard_init(void)
{
	pthread_condattr_t	ca;
	sigset_t		all, old;
	int			rc;

	if ((rc = pthread_condattr_init(&ca)) != 0 ||
	    (rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (rc = pthread_cond_init(&guard_cond, &ca)) != 0)
		fatalx("spawn guard: %s", strerror(rc));
	pthread_condattr_destroy(&ca);
	sigfillset(&all);
	if ((rc = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0)
		fatalx("spawn guard: pthread_sigmask: %s", strerror(rc));
	rc = pthread_create(&guard_thread, NULL, guard_main, NULL);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 || rc != 0)
		fatalx("spawn guard: pthread_create: %s", strerror(rc));
	guard_started = 1;
}

/* Watch pids[0..n) (filled in as they become known) for secs. */
void
spawn_guard_arm(double secs, volatile pid_t *pids, int n)
{
	struct timespec	now;

	if (!guard_started)
		guard_init();
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("spawn guard: clock_gettime");
	now.tv_sec += (time_t)secs;
	now.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (now.tv_nsec >= 1000000000L) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&guard_mtx);
	guard_deadline = now;
	guard_pids = pids;
	guard_npids = n;
	guard_fired = 0;
	guard_gen++;
	guard_armed = 1;
	pthread_cond_signal(&guard_cond);
	pthread_mutex_unlock(&guard_mtx);
}

/* The spawn returned: 1 if the guard had to kill it. */
int
spawn_guard_disarm(void)
{
	int	fired;

	pthread_mutex_lock(&guard_mtx);
	guard_armed = 0;
	fired = guard_fired;
	guard_pids = NULL;
	guard_npids = 0;
	pthread_cond_signal(&guard_cond);
	pthread_mutex_unlock(&guard_mtx);
	return (fired);
}
