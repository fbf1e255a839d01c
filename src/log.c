/*
 * Logging to stderr: jobd stays in the foreground, so under systemd stderr
 * is the journal. Every line is one line: untrusted text is escaped by the
 * caller with log_escape(), and messages themselves never contain newlines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "xmalloc.h"

static int	verbose;

static void	vlog(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

void
log_init(int v)
{
	verbose = v;
	tzset();
}

void
log_setverbose(int v)
{
	verbose = v;
}

int
log_getverbose(void)
{
	return (verbose);
}

static void
vlog(int level, const char *suffix, const char *fmt, va_list ap)
{
	static const char *names[] = { "warning", "info", "debug" };
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32], msg[2048];
	int		 saved = errno;

	if (level > verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld jobd[%s]: %s%s%s\n", when,
	    ts.tv_nsec / 1000000, names[level], msg, suffix ? ": " : "",
	    suffix ? suffix : "");
	fflush(stderr);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	e = errno;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, strerror(e), fmt, ap);
	va_end(ap);
	errno = e;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	e = errno;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, strerror(e), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * C-style escape of untrusted bytes, so that a client or a job cannot forge
 * log lines or smuggle terminal escapes. Long strings are cut with "...".
 */
char *
log_escape(const char *s, size_t len)
{
	const size_t	 maxin = 256;
	char		*out, *p;
	size_t		 i, n = len > maxin ? maxin : len;
	unsigned char	 c;

	out = p = xmalloc(n * 4 + 4);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\\' || c == '"') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(p, 5, "\\%03o", c);
			p += 4;
		} else
			*p++ = (char)c;
	}
	if (len > n) {
		memcpy(p, "...", 3);
		p += 3;
	}
	*p = '\0';
	return (out);
}
