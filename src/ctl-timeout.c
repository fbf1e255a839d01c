/*
 * jobctl timeout, and jobctl invoked through a link named timeout: GNU
 * coreutils timeout(1), with the command run as a job of jobd. The command
 * line, the duration syntax, the messages (down to the quoting of names)
 * and the exit statuses are those of timeout 9.x, so that a script cannot
 * tell the difference, except where jobd does better: the job's whole
 * process group is killed, and nothing of it is left behind.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>
#include <wctype.h>

#include "jobctl.h"

/* Long options without a short form, as timeout(1) has them. */
enum {
	T_OPT_FOREGROUND = 256,
	T_OPT_PRESERVE,
	T_OPT_HELP,
	T_OPT_VERSION
};

/* In coreutils' order, so that ambiguity messages list them alike. */
static const struct option t_longopts[] = {
	{ "kill-after",		required_argument,	NULL,	'k' },
	{ "signal",		required_argument,	NULL,	's' },
	{ "verbose",		no_argument,		NULL,	'v' },
	{ "foreground",		no_argument,		NULL,	T_OPT_FOREGROUND },
	{ "preserve-status",	no_argument,		NULL,	T_OPT_PRESERVE },
	{ "help",		no_argument,		NULL,	T_OPT_HELP },
	{ "version",		no_argument,		NULL,	T_OPT_VERSION },
	{ NULL,			0,			NULL,	0 }
};

/*
 * Signal names as coreutils' sig2str has them: the first name of a number
 * is the one it prints (ABRT, CHLD, POLL), EXIT is 0, and real-time
 * signals are RTMIN+n or RTMAX-n.
 */
static const struct {
	const char	*name;
	int		 number;
} t_signals[] = {
	{ "EXIT",	0 },
	{ "HUP",	SIGHUP },
	{ "INT",	SIGINT },
	{ "QUIT",	SIGQUIT },
	{ "ILL",	SIGILL },
	{ "TRAP",	SIGTRAP },
	{ "ABRT",	SIGABRT },
	{ "FPE",	SIGFPE },
	{ "KILL",	SIGKILL },
	{ "SEGV",	SIGSEGV },
	{ "BUS",	SIGBUS },
	{ "PIPE",	SIGPIPE },
	{ "ALRM",	SIGALRM },
	{ "TERM",	SIGTERM },
	{ "USR1",	SIGUSR1 },
	{ "USR2",	SIGUSR2 },
	{ "CHLD",	SIGCHLD },
	{ "URG",	SIGURG },
	{ "STOP",	SIGSTOP },
	{ "TSTP",	SIGTSTP },
	{ "CONT",	SIGCONT },
	{ "TTIN",	SIGTTIN },
	{ "TTOU",	SIGTTOU },
	{ "SYS",	SIGSYS },
#ifdef SIGPOLL
	{ "POLL",	SIGPOLL },
#endif
	{ "VTALRM",	SIGVTALRM },
	{ "PROF",	SIGPROF },
	{ "XCPU",	SIGXCPU },
	{ "XFSZ",	SIGXFSZ },
	{ "IOT",	SIGABRT },
	{ "CLD",	SIGCHLD },
#ifdef SIGPWR
	{ "PWR",	SIGPWR },
#endif
	{ "WINCH",	SIGWINCH },
	{ "IO",		SIGIO },
#ifdef SIGSTKFLT
	{ "STKFLT",	SIGSTKFLT },
#endif
};

static const char	*t_prog;	/* as invoked, as timeout names itself */
static const char	*t_command;	/* COMMAND as given, for -v */
static int		 t_utf8;	/* the locale's quotes are U+2018/9 */
static int		 t_foreground;
static int		 t_verbose;
static int		 t_sig0;	/* -s 0: emulated, see timeout_main */
static int		 t_sig0_said;

static void	 t_try(void) __attribute__((noreturn));
static char	**t_av;
static void	 t_help(void) __attribute__((noreturn));
static void	 t_version(void) __attribute__((noreturn));
static void	 t_locale(void);
static void	 t_quote(FILE *, const char *);
static void	 t_octal(FILE *, unsigned char);
static double	 t_duration(const char *);
static int	 t_str2sig(const char *, int *);
static int	 t_sig2str(int, char *, size_t);
static int	 t_operand2sig(const char *);
static int	 t_catchable(int);
static void	 t_say(int);
static void	 t_on_event(json_object *);
static int	 t_errno(const char *);
static void	 t_die(int);
static int	 t_status(json_object *, int, double);

static void
t_try(void)
{
	fflush(stdout);
	fprintf(stderr, "Try '%s --help' for more information.\n", t_prog);
	free(t_av);	/* the argv copy, made before any usage error */
	exit(CTL_EXIT_FAILED);
}

static void
t_help(void)
{
	printf("Usage: %s [OPTION] DURATION COMMAND [ARG]...\n"
	    "  or:  %s [OPTION]\n", t_prog, t_prog);
	fputs("Start COMMAND as a job of jobd, "
	    "and kill it if still running after DURATION.\n"
	    "\n"
	    "Mandatory arguments to long options are mandatory "
	    "for short options too.\n"
	    "      --preserve-status\n"
	    "                 exit with the same status as COMMAND, "
	    "even when the\n"
	    "                   command times out\n"
	    "      --foreground\n"
	    "                 accepted for compatibility: the command "
	    "always runs in its\n"
	    "                   own session; its children are timed out "
	    "too\n"
	    "  -k, --kill-after=DURATION\n"
	    "                 also send a KILL signal if COMMAND is "
	    "still running\n"
	    "                   this long after the initial signal was "
	    "sent\n"
	    "  -s, --signal=SIGNAL\n"
	    "                 specify the signal to be sent on timeout;\n"
	    "                   SIGNAL may be a name like 'HUP' or a "
	    "number;\n"
	    "                   see 'kill -l' for a list of signals\n"
	    "  -v, --verbose  diagnose to stderr any signal sent upon "
	    "timeout\n"
	    "      --help        display this help and exit\n"
	    "      --version     output version information and exit\n"
	    "\n"
	    "DURATION is a floating point number with an optional "
	    "suffix:\n"
	    "'s' for seconds (the default), 'm' for minutes, 'h' for "
	    "hours or 'd' for days.\n"
	    "A duration of 0 disables the associated timeout.\n"
	    "\n"
	    "Upon timeout, send the TERM signal to COMMAND's process "
	    "group, if no other\n"
	    "SIGNAL specified, then KILL after the -k DURATION, or after "
	    "jobd's kill_after\n"
	    "(5 seconds by default) without -k.\n"
	    "\n"
	    "EXIT status:\n"
	    "  124  if COMMAND times out, and --preserve-status is not "
	    "specified\n"
	    "  125  if the timeout command itself fails, or jobd does\n"
	    "  126  if COMMAND is found but cannot be invoked\n"
	    "  127  if COMMAND cannot be found\n"
	    "  137  if COMMAND (or timeout itself) is sent the KILL (9) "
	    "signal (128+9)\n"
	    "  -    the exit status of COMMAND otherwise\n"
	    "\n"
	    "This timeout is jobctl(1) of jobd; see jobctl(1), TIMEOUT.\n",
	    stdout);
	exit(0);
}

static void
t_version(void)
{
	printf("timeout (jobd) %s\n"
	    "jobctl acting as timeout(1): COMMAND runs as a job of jobd "
	    "(protocol %d).\n", PACKAGE_VERSION, JOBD_PROTOCOL_VERSION);
	exit(0);
}

/*
 * coreutils quotes names with U+2018 and U+2019 when the locale's charset
 * is UTF-8, and with ASCII apostrophes otherwise (the C locale).
 */
static void
t_locale(void)
{
	const char	*cs;

	if (setlocale(LC_CTYPE, "") == NULL)
		return;
	cs = nl_langinfo(CODESET);
	t_utf8 = cs != NULL && strcasecmp(cs, "UTF-8") == 0;
}

static void
t_octal(FILE *f, unsigned char c)
{
	fprintf(f, "\\%c%c%c", '0' + (c >> 6), '0' + ((c >> 3) & 7),
	    '0' + (c & 7));
}

/*
 * gnulib's quote(): locale quoting style. Inside the quotes a backslash
 * escapes backslashes, the closing quote and C's control characters;
 * anything else the locale cannot print comes as octal bytes.
 */
static void
t_quote(FILE *f, const char *s)
{
	const char	*lq = t_utf8 ? "\xe2\x80\x98" : "'";
	const char	*rq = t_utf8 ? "\xe2\x80\x99" : "'";
	const char	*p, *esc;
	mbstate_t	 ps;
	wchar_t		 wc;
	size_t		 rqlen = strlen(rq), n, left;

	fputs(lq, f);
	memset(&ps, 0, sizeof(ps));
	for (p = s; *p != '\0'; p += n) {
		n = 1;
		if (strncmp(p, rq, rqlen) == 0)
			fputc('\\', f);
		esc = strchr("\a\b\f\n\r\t\v", *p);
		if (*p == '\\') {
			fputs("\\\\", f);
			continue;
		}
		if (esc != NULL) {
			fprintf(f, "\\%c", "abfnrtv"[esc - "\a\b\f\n\r\t\v"]);
			continue;
		}
		if (!t_utf8) {
			if (*p >= 0x20 && *p < 0x7f)
				fputc(*p, f);
			else
				t_octal(f, (unsigned char)*p);
			continue;
		}
		left = strlen(p);
		n = mbrtowc(&wc, p, left, &ps);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			/* Invalid: one byte; cut short: the rest. */
			n = n == (size_t)-2 ? left : 1;
			memset(&ps, 0, sizeof(ps));
			for (left = 0; left < n; left++)
				t_octal(f, (unsigned char)p[left]);
			continue;
		}
		if (iswprint((wint_t)wc))
			fwrite(p, 1, n, f);
		else {
			for (left = 0; left < n; left++)
				t_octal(f, (unsigned char)p[left]);
		}
	}
	fputs(rq, f);
}

/*
 * coreutils' parse_duration: strtod (so "1e3", "0x10" and "inf" too), then
 * one optional unit of s, m, h or d. Overflow is fine (it clamps), a
 * negative or NaN value or anything after the unit is not.
 */
static double
t_duration(const char *s)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || !(d >= 0) || (end[0] != '\0' && end[1] != '\0'))
		goto bad;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		d *= 60;
		break;
	case 'h':
		d *= 60 * 60;
		break;
	case 'd':
		d *= 60 * 60 * 24;
		break;
	default:
		goto bad;
	}
	return (d);

bad:
	fflush(stdout);
	fprintf(stderr, "%s: invalid time interval ", t_prog);
	t_quote(stderr, s);
	fputc('\n', stderr);
	t_try();
}

/* gnulib's str2sig, on an upper-cased name without "SIG". */
static int
t_str2sig(const char *s, int *sig)
{
	char	*end;
	long	 n;
	size_t	 i;
	int	 rtmin = SIGRTMIN, rtmax = SIGRTMAX;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		n = strtol(s, &end, 10);
		if (*end != '\0' || errno != 0 || n > 64)
			return (-1);
		*sig = (int)n;
		return (0);
	}
	for (i = 0; i < sizeof(t_signals) / sizeof(t_signals[0]); i++) {
		if (strcmp(s, t_signals[i].name) == 0) {
			*sig = t_signals[i].number;
			return (0);
		}
	}
	if (strncmp(s, "RTMIN", 5) == 0) {
		n = strtol(s + 5, &end, 10);
		if (*end != '\0' || n < 0 || n > rtmax - rtmin)
			return (-1);
		*sig = rtmin + (int)n;
		return (0);
	}
	if (strncmp(s, "RTMAX", 5) == 0) {
		n = strtol(s + 5, &end, 10);
		if (*end != '\0' || n < rtmin - rtmax || n > 0)
			return (-1);
		*sig = rtmax + (int)n;
		return (0);
	}
	return (-1);
}

/* gnulib's sig2str: -1 for a number it has no name for. */
static int
t_sig2str(int sig, char *buf, size_t len)
{
	size_t	i;
	int	rtmin = SIGRTMIN, rtmax = SIGRTMAX, base;

	for (i = 0; i < sizeof(t_signals) / sizeof(t_signals[0]); i++) {
		if (t_signals[i].number == sig) {
			strlcpy(buf, t_signals[i].name, len);
			return (0);
		}
	}
	if (sig < rtmin || sig > rtmax)
		return (-1);
	base = sig <= rtmin + (rtmax - rtmin) / 2 ? rtmin : rtmax;
	if (sig == base)
		snprintf(buf, len, "%s", base == rtmin ? "RTMIN" : "RTMAX");
	else
		snprintf(buf, len, "%s%+d", base == rtmin ? "RTMIN" : "RTMAX",
		    sig - base);
	return (0);
}

/*
 * coreutils' operand2sig: a number is read as a shell's status, so 137 is
 * KILL; a name may have "SIG" and any case. Valid only if sig2str can name
 * it. Prints the message and returns -1 if not.
 */
static int
t_operand2sig(const char *s)
{
	char	 buf[32], *up, *end;
	long	 l;
	size_t	 i;
	int	 sig = -1, st;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		l = strtol(s, &end, 10);
		st = (int)l;
		if (*end == '\0' && errno == 0 && st == l)
			sig = WIFSIGNALED(st) ? WTERMSIG(st) : st;
	} else {
		if ((up = strdup(s)) == NULL)
			ctl_fail(CTL_EXIT_FAILED, "out of memory");
		for (i = 0; up[i] != '\0'; i++) {
			if (up[i] >= 'a' && up[i] <= 'z')
				up[i] = (char)(up[i] - 'a' + 'A');
		}
		if (t_str2sig(up, &sig) == -1 && (strncmp(up, "SIG", 3) != 0 ||
		    t_str2sig(up + 3, &sig) == -1))
			sig = -1;
		free(up);
	}
	if (sig < 0 || t_sig2str(sig, buf, sizeof(buf)) == -1) {
		fflush(stdout);
		fprintf(stderr, "%s: ", t_prog);
		t_quote(stderr, s);
		fputs(": invalid signal\n", stderr);
		return (-1);
	}
	return (sig);
}

/*
 * timeout(1) also forwards the signal it was told to send; not those it
 * cannot catch, the ones forwarded anyway, or CHLD, which it needs itself.
 */
static int
t_catchable(int sig)
{
	switch (sig) {
	case 0:
	case SIGKILL:
	case SIGSTOP:
	case SIGCHLD:
	case SIGINT:
	case SIGQUIT:
	case SIGTERM:
	case SIGHUP:
		return (0);
	}
	return (1);
}

static void
t_say(int sig)
{
	char	name[32];

	if (t_sig2str(sig, name, sizeof(name)) == -1)
		snprintf(name, sizeof(name), "%d", sig);
	fflush(stdout);
	fprintf(stderr, "%s: sending signal %s to command ", t_prog, name);
	t_quote(stderr, t_command);
	fputc('\n', stderr);
}

/*
 * -v: each signal jobd sends is one timeout(1) would have sent, except
 * those to what the command left behind, which timeout never kills.
 */
static void
t_on_event(json_object *ev)
{
	const char	*reason;
	long long	 sig;

	reason = jstr(ev, "reason");
	if (reason != NULL && strcmp(reason, "leftovers") == 0)
		return;
	if (jint(ev, "signal", &sig) == -1)
		return;
	if (t_sig0 && !t_sig0_said) {
		t_sig0_said = 1;
		t_say(0);
	}
	t_say((int)sig);
}

/* jobd names errnos ("ENOENT"); this libc knows their numbers. */
static int
t_errno(const char *name)
{
	const char	*n;
	int		 e;

	if (name == NULL)
		return (0);
	for (e = 1; e < 256; e++) {
		if ((n = strerrorname_np(e)) != NULL && strcmp(n, name) == 0)
			return (e);
	}
	return (0);
}

/*
 * Die of the command's signal, as timeout(1) does, so that a shell sees
 * the same (an interrupted script stops). Without a core of our own; if
 * core dumps cannot be disabled, or the signal does not kill, returns.
 */
static void
t_die(int sig)
{
	struct sigaction	sa;
	struct rlimit		rl = { 0, 0 };
	sigset_t		set;

	if (prctl(PR_SET_DUMPABLE, 0) == -1 &&
	    setrlimit(RLIMIT_CORE, &rl) == -1)
		return;
	fflush(stdout);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	/* KILL and STOP refuse a handler; nothing to undo then. */
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(sig, &sa, NULL);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
}

/*
 * timeout(1)'s exit status. A command killed by KILL after the deadline
 * took timeout with it (it shares the process group) unless --foreground;
 * one killed by another signal is died of again, unless it timed out.
 */
static int
t_status(json_object *job, int preserve, double sig0_deadline)
{
	const char	*state, *error, *msg;
	long long	 v;
	int		 timed_out, sig, e, status;

	if ((state = jstr(job, "state")) != NULL &&
	    strcmp(state, "failed") == 0) {
		error = jstr(job, "error");
		e = t_errno(error);
		if ((msg = e != 0 ? strerror(e) : NULL) == NULL &&
		    (msg = jstr(job, "error_message")) == NULL)
			msg = "unknown error";
		fflush(stdout);
		fprintf(stderr, "%s: failed to run command ", t_prog);
		t_quote(stderr, t_command);
		fputs(": ", stderr);
		print_safe(stderr, msg);
		fputc('\n', stderr);
		return (e == ENOENT ? CTL_EXIT_NOT_FOUND :
		    CTL_EXIT_CANNOT_RUN);
	}
	timed_out = jbool(job, "timed_out") || (sig0_deadline > 0 &&
	    jdouble(job, "duration") >= sig0_deadline);
	if (t_sig0 && timed_out && !t_sig0_said && t_verbose) {
		t_sig0_said = 1;
		t_say(0);
	}
	if (jint(job, "signal", &v) == 0 && v > 0 && v < 128) {
		sig = (int)v;
		if (timed_out && sig == SIGKILL && !t_foreground)
			t_die(SIGKILL);
		if (!timed_out)
			t_die(sig);
		if (timed_out && sig == SIGKILL)
			preserve = 1;
		status = 128 + sig;
	} else if (jint(job, "exit_code", &v) == 0 && v >= 0 && v <= 255)
		status = (int)v;
	else
		status = CTL_EXIT_FAILED;
	if (timed_out && !preserve)
		status = CTL_EXIT_TIMEOUT;
	return (status);
}

/* jobctl timeout ...: the arguments from "timeout" on. */
int
cmd_timeout(struct ctl_args *args)
{
	return (timeout_main("timeout", args->argc, args->argv));
}

/*
 * prog names us in messages: argv[0] when invoked as timeout, as coreutils
 * does, or "timeout" for jobctl timeout, so that its output matches that of
 * timeout found in PATH.
 */
int
timeout_main(const char *prog, int argc, char **argv)
{
	struct run_spec	  rs;
	json_object	 *resp, *job;
	char		**av;
	double		  secs, kill_after = 0, sig0_deadline = 0;
	int		  ch, sig = SIGTERM, verbose = 0, preserve = 0, status;

	t_prog = prog;
	ctl.progname = prog;
	t_locale();

	/* getopt names argv[0] in its messages; t_try() frees the copy. */
	if ((av = t_av = calloc((size_t)argc + 1, sizeof(*av))) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	memcpy(av, argv, (size_t)argc * sizeof(*av));
	av[0] = (char *)(uintptr_t)prog;
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, av, "+k:s:v", t_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'k':
			kill_after = t_duration(optarg);
			break;
		case 's':
			if ((sig = t_operand2sig(optarg)) == -1)
				t_try();
			break;
		case 'v':
			t_verbose = verbose = 1;
			break;
		case T_OPT_FOREGROUND:
			t_foreground = 1;
			break;
		case T_OPT_PRESERVE:
			preserve = 1;
			break;
		case T_OPT_HELP:
			t_help();
		case T_OPT_VERSION:
			t_version();
		default:
			t_try();
		}
	}
	if (argc - optind < 2)
		t_try();
	secs = t_duration(av[optind++]);
	t_command = av[optind];

	/* execvp("") fails with ENOENT; jobd refuses an empty name. */
	if (*t_command == '\0') {
		fflush(stdout);
		fprintf(stderr, "%s: failed to run command ", t_prog);
		t_quote(stderr, t_command);
		fprintf(stderr, ": %s\n", strerror(ENOENT));
		return (CTL_EXIT_NOT_FOUND);
	}

	memset(&rs, 0, sizeof(rs));
	rs.argc = argc - optind;
	rs.argv = av + optind;
	rs.timeout = secs;
	rs.sig = sig;
	/* 0 disables it, as in timeout(1); jobd's default applies then. */
	rs.kill_after = kill_after > 0 ? kill_after : -1;
	rs.quiet = 1;
	rs.events = verbose;
	rs.catch_ignored = 1;
	rs.extra_sig = t_catchable(sig) ? sig : 0;
	/* After a signal, timeout -k sends KILL in kill_after. */
	rs.cancel_always = kill_after > 0;
	rs.on_event = t_on_event;

	/*
	 * Signal 0 is no signal: at the deadline timeout(1) only notes that
	 * it passed, and sends KILL kill_after later if -k. jobd sends only
	 * real signals, so ask it for KILL at deadline + kill_after (never,
	 * without -k) and judge the deadline from the job's duration.
	 */
	if (sig == 0) {
		t_sig0 = 1;
		sig0_deadline = secs;
		rs.sig = SIGKILL;
		rs.timeout = secs > 0 && kill_after > 0 ? secs + kill_after : 0;
		rs.kill_after = -1;
		rs.cancel_always = 0;
	}

	job = run_job(&rs, &resp);
	status = t_status(job, preserve, sig0_deadline);
	json_object_put(resp);
	free(av);
	return (status);
}
