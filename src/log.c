/*
 * Logging to stderr (the default: jobd stays in the foreground, so under
 * systemd stderr is the journal) or to syslog (LOG_DAEMON, with the pid).
 * Every line is one line: untrusted text is escaped by the caller with
 * log_escape(), and messages themselves never contain newlines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "xmalloc.h"

static int	verbose;
static int	target = LOG_TO_STDERR;
static const char *const level_names[] = {
	"error", "warning", "info", "debug"
};

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

int
log_parse_level(const char *s)
{
	int	i;

	for (i = 0; i <= LOG_LVL_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return (i);
	return (-1);
}

const char *
log_level_name(int level)
{
	if (level < 0)
		level = 0;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	return (level_names[level]);
}

int
log_parse_target(const char *s)
{
	if (strcmp(s, "stderr") == 0)
		return (LOG_TO_STDERR);
	if (strcmp(s, "syslog") == 0)
		return (LOG_TO_SYSLOG);
	return (-1);
}

/*
 * glibc's syslog socket is close-on-exec; LOG_NDELAY opens it now, so a
 * chroot or a full fd table later cannot lose the first lines.
 */
void
log_set_target(int t)
{
	if (t == target)
		return;
	if (target == LOG_TO_SYSLOG)
		closelog();
	target = t;
	if (target == LOG_TO_SYSLOG)
		openlog("jobd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_get_target(void)
{
	return (target);
}

static int	cmdline_raise, cmdline_target = -1;

void
log_cmdline(int raise, int t)
{
	cmdline_raise = raise;
	cmdline_target = t;
}

/* At start and at each reload: the configuration, then the command line. */
void
log_apply(int level, int t)
{
	level += cmdline_raise;
	verbose = level > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : level;
	log_set_target(cmdline_target != -1 ? cmdline_target : t);
}

static void
vlog(int level, const char *suffix, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32], msg[2048];
	int		 saved = errno;

	if (level > verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (target == LOG_TO_SYSLOG) {
		syslog(prio[level], "%s%s%s", msg, suffix ? ": " : "",
		    suffix ? suffix : "");
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld jobd[%s]: %s%s%s\n", when,
	    ts.tv_nsec / 1000000, level_names[level], msg, suffix ? ": " : "",
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
log_vat(int level, const char *fmt, va_list ap)
{
	vlog(level, NULL, fmt, ap);
}

void
log_at(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
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
	vlog(LOG_LVL_ERROR, strerror(e), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, NULL, fmt, ap);
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
