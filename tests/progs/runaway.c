/*
 * runaway: a chain of processes that no process-group kill can catch.
 *
 * usage: runaway [-n generations] [-d microseconds-per-generation]
 *	-n	how many generations (default 5000); the chain always ends
 *		by itself after that many
 *	-d	how long each generation waits before it forks the next
 *		(default 1000), so the chain lives for about n * d
 *
 * runaway prints "started" on stdout, then forks and exits. Its child calls
 * setsid(), waits, forks and exits, and so on: at any moment one process
 * of the chain is alive, in a session and process group of its own, under
 * a pid that changes every generation. Every member keeps stdout and the
 * environment, so a test can find it.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FORK_RETRIES	100

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: runaway [-n generations] "
	    "[-d microseconds-per-generation]\n");
	exit(2);
}

static long
number(const char *s, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max)
		usage();
	return (v);
}

static void
pause_us(long us)
{
	struct timespec	ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* fork, retrying a while on EAGAIN: a busy machine is no reason to stop. */
static pid_t
fork_retry(void)
{
	pid_t	pid;
	int	i;

	for (i = 0; i < FORK_RETRIES; i++) {
		if ((pid = fork()) != -1 || errno != EAGAIN)
			return (pid);
		pause_us(1000);
	}
	return (-1);
}

int
main(int argc, char **argv)
{
	long	gens = 5000, delay = 1000, g;
	int	i;

	/* By hand, not getopt(3): this program links nothing but libc. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			gens = number(argv[++i], 10000000);
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			delay = number(argv[++i], 10000000);
		else
			usage();
	}

	printf("started\n");
	if (fflush(stdout) == EOF)
		return (1);

	for (g = 0; g < gens; g++) {
		switch (fork_retry()) {
		case -1:
			perror("runaway: fork");
			_exit(1);
		case 0:
			break;
		default:
			/* The parent is done: the chain moves on without it. */
			_exit(0);
		}
		if (setsid() == -1)
			_exit(1);
		if (delay > 0)
			pause_us(delay);
	}
	_exit(0);
}
