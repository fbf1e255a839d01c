/*
 * Signal names and numbers, as kill(1) takes them: "TERM", "SIGTERM",
 * "term" or "15". The table holds Linux's standard signals; real-time ones
 * are reached as RTMIN, RTMIN+n, RTMAX-n and RTMAX, or by number.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobd/client.h"

#define SIGNAL_MAX	64

static int	parse_decimal(const char *, int, int);
static int	rt_signal_number(const char *);

/* First name of a number wins in jobd_signal_name; aliases follow. */
static const struct {
	const char	*name;
	int		 number;
} signal_table[] = {
	{ "HUP",	SIGHUP },
	{ "INT",	SIGINT },
	{ "QUIT",	SIGQUIT },
	{ "ILL",	SIGILL },
	{ "TRAP",	SIGTRAP },
	{ "ABRT",	SIGABRT },
	{ "BUS",	SIGBUS },
	{ "FPE",	SIGFPE },
	{ "KILL",	SIGKILL },
	{ "USR1",	SIGUSR1 },
	{ "SEGV",	SIGSEGV },
	{ "USR2",	SIGUSR2 },
	{ "PIPE",	SIGPIPE },
	{ "ALRM",	SIGALRM },
	{ "TERM",	SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT",	SIGSTKFLT },
#endif
	{ "CHLD",	SIGCHLD },
	{ "CONT",	SIGCONT },
	{ "STOP",	SIGSTOP },
	{ "TSTP",	SIGTSTP },
	{ "TTIN",	SIGTTIN },
	{ "TTOU",	SIGTTOU },
	{ "URG",	SIGURG },
	{ "XCPU",	SIGXCPU },
	{ "XFSZ",	SIGXFSZ },
	{ "VTALRM",	SIGVTALRM },
	{ "PROF",	SIGPROF },
	{ "WINCH",	SIGWINCH },
	{ "IO",		SIGIO },
#ifdef SIGPOLL
	{ "POLL",	SIGPOLL },
#endif
#ifdef SIGPWR
	{ "PWR",	SIGPWR },
#endif
	{ "SYS",	SIGSYS },
	{ "IOT",	SIGABRT },
	{ "CLD",	SIGCHLD },
};

/*
 * Digits only, in lo..hi; -1 otherwise. strtol would let through blanks,
 * signs and overflow, none of which belongs in a signal name.
 */
static int
parse_decimal(const char *s, int lo, int hi)
{
	int	v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (*s - '0');
		if (v > hi)
			return (-1);
	}
	return (v < lo ? -1 : v);
}

/* RTMIN, RTMIN+n, RTMAX-n, RTMAX (the "SIG" prefix already removed). */
static int
rt_signal_number(const char *s)
{
	int	n, span = SIGRTMAX - SIGRTMIN;

	if (strncasecmp(s, "RTMIN", 5) == 0) {
		if (s[5] == '\0')
			return (SIGRTMIN);
		if (s[5] != '+' || (n = parse_decimal(s + 6, 0, span)) == -1)
			return (-1);
		return (SIGRTMIN + n);
	}
	if (strncasecmp(s, "RTMAX", 5) == 0) {
		if (s[5] == '\0')
			return (SIGRTMAX);
		if (s[5] != '-' || (n = parse_decimal(s + 6, 0, span)) == -1)
			return (-1);
		return (SIGRTMAX - n);
	}
	return (-1);
}

int
jobd_signal_number(const char *s)
{
	size_t	i;
	int	n;

	if (s == NULL || *s == '\0')
		return (-1);
	if (*s >= '0' && *s <= '9')
		return (parse_decimal(s, 1, SIGNAL_MAX));
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++) {
		if (strcasecmp(s, signal_table[i].name) == 0)
			return (signal_table[i].number);
	}
	if ((n = rt_signal_number(s)) < 1 || n > SIGNAL_MAX)
		return (-1);
	return (n);
}

const char *
jobd_signal_name(int sig)
{
	size_t	i;

	for (i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++) {
		if (signal_table[i].number == sig)
			return (signal_table[i].name);
	}
	if (sig == SIGRTMIN)
		return ("RTMIN");
	if (sig == SIGRTMAX)
		return ("RTMAX");
	return (NULL);
}
