/*
 * flood: write bytes to stdout and/or stderr, a given count or forever, for
 * the output-capture tests.
 *
 * usage: flood [-e] [-o] [-c byte] [-n count]
 *	-o	write to stdout (the default if neither -o nor -e)
 *	-e	write to stderr
 *	-c	the byte to write (default 'x')
 *	-n	bytes per stream (default: forever)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK	65536

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: flood [-e] [-o] [-c byte] [-n count]\n");
	exit(2);
}

static int
write_some(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

int
main(int argc, char **argv)
{
	static char	 buf[CHUNK];
	unsigned long long count = 0, done = 0;
	size_t		 len;
	char		*end, *arg;
	int		 i, out = 0, err = 0, forever = 1, fill = 'x';

	/*
	 * Options by hand, not getopt(3): the build's libbsd overlay renames
	 * getopt, and this program links nothing but libc.
	 */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0)
			out = 1;
		else if (strcmp(argv[i], "-e") == 0)
			err = 1;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			if (strlen(argv[++i]) != 1)
				usage();
			fill = (unsigned char)argv[i][0];
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			arg = argv[++i];
			errno = 0;
			count = strtoull(arg, &end, 10);
			if (errno != 0 || *end != '\0' || *arg == '-' ||
			    *arg == '\0')
				usage();
			forever = 0;
		} else
			usage();
	}
	if (!out && !err)
		out = 1;
	memset(buf, fill, sizeof(buf));

	while (forever || done < count) {
		len = sizeof(buf);
		if (!forever && count - done < len)
			len = (size_t)(count - done);
		if (out && write_some(STDOUT_FILENO, buf, len) == -1)
			return (1);
		if (err && write_some(STDERR_FILENO, buf, len) == -1)
			return (1);
		done += len;
	}
	return (0);
}
