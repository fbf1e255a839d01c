#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "jobd.h"

uint64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

double
wall_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Seconds to a timeval; callers have already clamped to JOBD_DURATION_MAX. */
struct timeval
tv_from_secs(double secs)
{
	struct timeval	tv;
	double		whole;

	if (!(secs > 0))
		secs = 0;
	if (secs > JOBD_DURATION_MAX)
		secs = JOBD_DURATION_MAX;
	whole = floor(secs);
	tv.tv_sec = (time_t)whole;
	tv.tv_usec = (suseconds_t)((secs - whole) * 1e6);
	if (tv.tv_usec >= 1000000)
		tv.tv_usec = 999999;
	return (tv);
}

const char *
errno_name(int e)
{
	const char	*s = strerrorname_np(e);

	return (s != NULL ? s : "EUNKNOWN");
}

int
fd_set_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, fl | O_NONBLOCK));
}

int
fd_set_cloexec(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFD, fl | FD_CLOEXEC));
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF. */
int
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	unsigned int		 c, n, i, min;

	while (p < end) {
		c = *p++;
		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0) {
			n = 1; c &= 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2; c &= 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3; c &= 0x07; min = 0x10000;
		} else
			return (0);
		if ((size_t)(end - p) < n)
			return (0);
		for (i = 0; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (0);
			c = (c << 6) | (p[i] & 0x3f);
		}
		p += n;
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return (0);
	}
	return (1);
}

/*
 * The length of s's longest prefix of at most max bytes that does not end
 * inside a UTF-8 character: for quoting what a client sent in a message,
 * which must stay valid UTF-8 (a reply is JSON) when cut short.
 */
size_t
utf8_prefix(const char *s, size_t max)
{
	size_t	len = strnlen(s, max + 1);

	if (len <= max)
		return (len);
	len = max;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return (len);
}
