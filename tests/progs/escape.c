/*
 * escape: leave a sleeping process behind that tries to escape the job.
 *
 * usage: escape [-ds] [-t seconds]
 *	-s	the sleeper calls setsid(): it leaves the job's session and
 *		process group, so killing the group cannot reach it
 *	-d	double fork: an intermediate child forks the sleeper and
 *		exits, so the sleeper is an orphan (reparented to jobd, the
 *		subreaper); without -s it stays in the job's group
 *	-t	how long the sleeper sleeps (default 100)
 *
 * The sleeper keeps stdout and stderr open. escape prints the sleeper's pid
 * on stdout once the sleeper has done its setsid(), then exits 0.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: escape [-ds] [-t seconds]\n");
	exit(2);
}

static void __attribute__((noreturn))
sleeper(int syncfd, int new_session, unsigned int secs)
{
	pid_t	self;

	if (new_session && setsid() == -1)
		_exit(1);
	self = getpid();
	if (write(syncfd, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	close(syncfd);
	while (secs > 0)
		secs = sleep(secs);
	_exit(0);
}

int
main(int argc, char **argv)
{
	pid_t		 pid, mid = -1, escapee;
	unsigned int	 secs = 100;
	char		*end, *opt;
	ssize_t		 n;
	long		 v;
	int		 i, dbl = 0, new_session = 0, p[2];

	/*
	 * Options by hand, not getopt(3): the build's libbsd overlay renames
	 * getopt, and this program links nothing but libc.
	 */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			v = strtol(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' || v < 0 ||
			    v > 86400)
				usage();
			secs = (unsigned int)v;
			continue;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			usage();
		for (opt = argv[i] + 1; *opt != '\0'; opt++) {
			switch (*opt) {
			case 'd':
				dbl = 1;
				break;
			case 's':
				new_session = 1;
				break;
			default:
				usage();
			}
		}
	}
	if (pipe(p) == -1) {
		perror("pipe");
		return (1);
	}

	if ((pid = fork()) == -1) {
		perror("fork");
		return (1);
	}
	if (pid == 0) {
		close(p[0]);
		if (!dbl)
			sleeper(p[1], new_session, secs);
		if ((pid = fork()) == -1)
			_exit(1);
		if (pid == 0)
			sleeper(p[1], new_session, secs);
		_exit(0);
	}
	close(p[1]);
	if (dbl)
		mid = pid;

	/* Wait until the sleeper is set up, so the job's state is settled. */
	do
		n = read(p[0], &escapee, sizeof(escapee));
	while (n == -1 && errno == EINTR);
	if (n != sizeof(escapee)) {
		fprintf(stderr, "escape: the sleeper did not start\n");
		return (1);
	}
	if (mid != -1)
		waitpid(mid, NULL, 0);
	printf("%ld\n", (long)escapee);
	fflush(stdout);
	return (0);
}
