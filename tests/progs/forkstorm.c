/*
 * forkstorm: a bounded fork storm that stays in the job's process group.
 *
 * usage: forkstorm [-t seconds] depth
 *	depth	every process forks once per level, depth levels: 2^depth
 *		processes in all (depth at most 14)
 *	-t	how long each of them then sleeps (default 100)
 *
 * Once every process of the tree exists, the first one prints
 * "forked N" on stdout (N counts them all, itself included). Every process
 * then sleeps, so all of them are alive at a test's deadline.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH	14
#define FORK_RETRIES	100

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: forkstorm [-t seconds] depth\n");
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
pause_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void __attribute__((noreturn))
sleep_then_exit(unsigned int secs)
{
	while (secs > 0)
		secs = sleep(secs);
	_exit(0);
}

int
main(int argc, char **argv)
{
	unsigned int	 secs = 100;
	long		 depth = -1, level;
	pid_t		 root = getpid(), pid = 0;
	ssize_t		 n;
	char		 buf[512];
	long		 count = 1;
	int		 i, tries, p[2];

	/* By hand, not getopt(3): this program links nothing but libc. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			secs = (unsigned int)number(argv[++i], 86400);
		else if (depth == -1 && argv[i][0] != '-')
			depth = number(argv[i], MAX_DEPTH);
		else
			usage();
	}
	if (depth == -1)
		usage();

	/*
	 * Every process but the first writes one byte here and closes its
	 * end: EOF means the whole tree exists, and the bytes count it.
	 */
	if (pipe(p) == -1) {
		perror("forkstorm: pipe");
		return (1);
	}
	for (level = 0; level < depth; level++) {
		for (tries = 0; tries < FORK_RETRIES; tries++) {
			if ((pid = fork()) != -1 || errno != EAGAIN)
				break;
			pause_ms(1);
		}
		if (pid == -1) {
			/* This subtree is smaller; the count will say so. */
			perror("forkstorm: fork");
			break;
		}
	}
	if (getpid() != root) {
		close(p[0]);
		if (write(p[1], "", 1) != 1)
			_exit(1);
		close(p[1]);
		sleep_then_exit(secs);
	}

	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n == -1 && errno != EINTR)
			break;
		if (n > 0)
			count += n;
	}
	close(p[0]);
	printf("forked %ld\n", count);
	fflush(stdout);
	sleep_then_exit(secs);
}
