/*
 * jobctl: the command-line client of jobd.
 *
 * main() parses the global options, finds the command in a table and parses
 * that command's options generically into a list, which the command's exec
 * function then reads (tmux's cmd_entry and args). Exit statuses are part of
 * each row, because run and wait follow timeout(1) and the rest do not.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"

#define CTL_EXIT_USAGE	2
#define CTL_EXIT_ERROR	1

struct ctl_global ctl;

static void			 usage(int) __attribute__((noreturn));
static void			 open_stdio(void);
static const struct ctl_cmd	*find_cmd(const char *);
static void			 parse_args(const struct ctl_cmd *, int,
				    char **, struct ctl_args *);

#define RUN_OPTSTRING	"+C:e:hk:pqs:t:"
#define RUN_USAGE \
	"[-pq] [-t duration] [-k duration] [-s signal] [-C dir]\n" \
	"\t[-e name=value] [--clear-env] [--stdin-null] [--capture]\n" \
	"\t[--max-output bytes] [--priority n] [--key key]\n" \
	"\t[--start-by duration] [--warn-before duration]\n" \
	"\t[--warn-signal signal] [--rlimit name=value] [--nice n]\n" \
	"\t[--user user] [--detach] [--json] [--] command [arg ...]"

static const struct option run_longopts[] = {
	{ "chdir",	required_argument,	NULL,	'C' },
	{ "cwd",	required_argument,	NULL,	'C' },
	{ "env",	required_argument,	NULL,	'e' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "kill-after",	required_argument,	NULL,	'k' },
	{ "preserve-status", no_argument,	NULL,	'p' },
	{ "quiet",	no_argument,		NULL,	'q' },
	{ "signal",	required_argument,	NULL,	's' },
	{ "timeout",	required_argument,	NULL,	't' },
	{ "capture",	no_argument,		NULL,	OPT_CAPTURE },
	{ "clear-env",	no_argument,		NULL,	OPT_CLEAR_ENV },
	{ "detach",	no_argument,		NULL,	OPT_DETACH },
	{ "stdin-null",	no_argument,		NULL,	OPT_STDIN_NULL },
	{ "max-output",	required_argument,	NULL,	OPT_MAX_OUTPUT },
	{ "priority",	required_argument,	NULL,	OPT_PRIORITY },
	{ "key",	required_argument,	NULL,	OPT_KEY },
	{ "start-by",	required_argument,	NULL,	OPT_START_BY },
	{ "warn-before", required_argument,	NULL,	OPT_WARN_BEFORE },
	{ "warn-signal", required_argument,	NULL,	OPT_WARN_SIGNAL },
	{ "rlimit",	required_argument,	NULL,	OPT_RLIMIT },
	{ "nice",	required_argument,	NULL,	OPT_NICE },
	{ "user",	required_argument,	NULL,	OPT_USER },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ NULL,		0,			NULL,	0 }
};

/* submit never waits, so it has no use for the options about waiting. */
#define SUBMIT_OPTSTRING	"+C:e:hk:qs:t:"
#define SUBMIT_USAGE \
	"[-q] [-t duration] [-k duration] [-s signal] [-C dir]\n" \
	"\t[-e name=value] [--clear-env] [--max-output bytes]\n" \
	"\t[--priority n] [--key key] [--start-by duration]\n" \
	"\t[--warn-before duration] [--warn-signal signal] [--output-file]\n" \
	"\t[--rlimit name=value] [--nice n] [--user user] [--json]\n" \
	"\t[--] command [arg ...]"

static const struct option submit_longopts[] = {
	{ "chdir",	required_argument,	NULL,	'C' },
	{ "cwd",	required_argument,	NULL,	'C' },
	{ "env",	required_argument,	NULL,	'e' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "kill-after",	required_argument,	NULL,	'k' },
	{ "quiet",	no_argument,		NULL,	'q' },
	{ "signal",	required_argument,	NULL,	's' },
	{ "timeout",	required_argument,	NULL,	't' },
	{ "clear-env",	no_argument,		NULL,	OPT_CLEAR_ENV },
	{ "stdin-null",	no_argument,		NULL,	OPT_STDIN_NULL },
	{ "max-output",	required_argument,	NULL,	OPT_MAX_OUTPUT },
	{ "priority",	required_argument,	NULL,	OPT_PRIORITY },
	{ "key",	required_argument,	NULL,	OPT_KEY },
	{ "start-by",	required_argument,	NULL,	OPT_START_BY },
	{ "warn-before", required_argument,	NULL,	OPT_WARN_BEFORE },
	{ "warn-signal", required_argument,	NULL,	OPT_WARN_SIGNAL },
	{ "user",	required_argument,	NULL,	OPT_USER },
	{ "output-file", no_argument,		NULL,	OPT_OUTPUT_FILE },
	{ "rlimit",	required_argument,	NULL,	OPT_RLIMIT },
	{ "nice",	required_argument,	NULL,	OPT_NICE },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ NULL,		0,			NULL,	0 }
};

#define TIMEOUT_USAGE \
	"[--preserve-status] [--foreground] [-k duration] [-s signal]\n" \
	"\t[-v] duration command [arg ...]"

static const struct option cancel_longopts[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ "signal",	required_argument,	NULL,	's' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ NULL,		0,			NULL,	0 }
};

static const struct option plain_longopts[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ NULL,		0,			NULL,	0 }
};

static const struct option watch_longopts[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ "no-output",	no_argument,		NULL,	'n' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ NULL,		0,			NULL,	0 }
};

/* logs writes the job's bytes as they are: there is no JSON form. */
static const struct option logs_longopts[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ "follow",	no_argument,		NULL,	'f' },
	{ NULL,		0,			NULL,	0 }
};

static const struct option stats_longopts[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "prometheus",	no_argument,		NULL,	OPT_PROMETHEUS },
	{ NULL,		0,			NULL,	0 }
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "run", RUN_USAGE, RUN_OPTSTRING, run_longopts, 1, -1,
	    CTL_EXIT_FAILED, CTL_EXIT_FAILED, cmd_run },
	{ "submit", SUBMIT_USAGE, SUBMIT_OPTSTRING, submit_longopts, 1, -1,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_submit },
	/* timeout(1) parses its own command line, messages and all. */
	{ "timeout", TIMEOUT_USAGE, NULL, NULL, 0, -1,
	    CTL_EXIT_FAILED, CTL_EXIT_FAILED, cmd_timeout },
	{ "wait", "id", "+h", plain_longopts, 1, 1,
	    CTL_EXIT_USAGE, CTL_EXIT_FAILED, cmd_wait },
	{ "status", "id", "+h", plain_longopts, 1, 1,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_status },
	{ "list", "", "+h", plain_longopts, 0, 0,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_list },
	{ "cancel", "[-s signal] id", "+hs:", cancel_longopts, 1, 1,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_cancel },
	{ "ping", "", "+h", plain_longopts, 0, 0,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_ping },
	{ "watch", "[-n] [id]", "+hn", watch_longopts, 0, 1,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_watch },
	{ "logs", "[-f] id", "+fh", logs_longopts, 1, 1,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_logs },
	{ "stats", "[--json | --prometheus]", "+h", stats_longopts, 0, 0,
	    CTL_EXIT_USAGE, CTL_EXIT_ERROR, cmd_stats },
};

static const struct option global_longopts[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "socket",	required_argument,	NULL,	's' },
	{ "version",	no_argument,		NULL,	OPT_VERSION },
	{ NULL,		0,			NULL,	0 }
};

static void
usage(int status)
{
	FILE	*f = status == 0 ? stdout : stderr;
	size_t	 i;

	fprintf(f, "usage: jobctl [--socket path] [--json] [-h | --help] "
	    "[--version] command ...\n");
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		fprintf(f, "       jobctl %s%s%s\n", ctl_cmds[i].name,
		    *ctl_cmds[i].usage != '\0' ? " " : "", ctl_cmds[i].usage);
	exit(status);
}

void
ctl_usage(const struct ctl_cmd *cmd)
{
	fprintf(stderr, "usage: jobctl %s%s%s\n", cmd->name,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
	exit(cmd->usage_exit);
}

/* Print "jobctl: ..." and exit with status. */
void
ctl_fail(int status, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", ctl.progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static const struct ctl_cmd *
find_cmd(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(ctl_cmds[i].name, name) == 0)
			return (&ctl_cmds[i]);
	}
	return (NULL);
}

/*
 * Options are kept in order rather than in per-command variables, so one
 * parser serves every row and repeatable options (-e) need nothing special.
 * getopt names argv[0] in its messages, hence "jobctl <command>" there.
 */
static void
parse_args(const struct ctl_cmd *cmd, int argc, char **argv,
    struct ctl_args *args)
{
	char	 name[64];
	char	**av;
	int	 ch;

	if (cmd->optstring == NULL) {
		args->cmd = cmd;
		args->opts = NULL;
		args->nopts = 0;
		args->argc = argc;
		args->argv = argv;
		return;
	}
	snprintf(name, sizeof(name), "jobctl %s", cmd->name);
	if ((av = calloc((size_t)argc + 1, sizeof(*av))) == NULL ||
	    (args->opts = calloc((size_t)argc + 1,
	    sizeof(*args->opts))) == NULL)
		ctl_fail(cmd->fail_exit, "%s", strerror(errno));
	memcpy(av, argv, (size_t)argc * sizeof(*av));
	av[0] = name;
	args->cmd = cmd;
	args->nopts = 0;

	optind = 0;	/* glibc: start over, and see the new optstring */
	while ((ch = getopt_long(argc, av, cmd->optstring, cmd->longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: jobctl %s%s%s\n", cmd->name,
			    *cmd->usage != '\0' ? " " : "", cmd->usage);
			exit(0);
		case OPT_JSON:
			ctl.json = 1;
			break;
		case '?':
		case ':':
			ctl_usage(cmd);
		default:
			args->opts[args->nopts].ch = ch;
			args->opts[args->nopts].arg = optarg;
			args->nopts++;
			break;
		}
	}
	args->argc = argc - optind;
	args->argv = argv + optind;
	free(av);
	if (args->argc < cmd->lower ||
	    (cmd->upper != -1 && args->argc > cmd->upper))
		ctl_usage(cmd);
}

/* How many times ch was given. */
int
args_has(const struct ctl_args *args, int ch)
{
	int	i, n = 0;

	for (i = 0; i < args->nopts; i++)
		if (args->opts[i].ch == ch)
			n++;
	return (n);
}

/* The argument of the last ch, as getopt users expect; NULL if none. */
const char *
args_get(const struct ctl_args *args, int ch)
{
	int	i;

	for (i = args->nopts - 1; i >= 0; i--)
		if (args->opts[i].ch == ch)
			return (args->opts[i].arg);
	return (NULL);
}

/* Each ch in order: start with *idx = 0; NULL after the last. */
const char *
args_next(const struct ctl_args *args, int ch, int *idx)
{
	while (*idx < args->nopts) {
		if (args->opts[(*idx)++].ch == ch)
			return (args->opts[*idx - 1].arg);
	}
	return (NULL);
}

struct jobd_client *
ctl_connect(void)
{
	struct jobd_client	*c;
	char			 err[PATH_MAX + 128];
	int			 e;

	if ((c = jobd_connect(ctl.socket, err, sizeof(err))) == NULL) {
		e = errno;
		ctl_fail(ctl.cmd->fail_exit, "%s%s", err,
		    e == ENOENT || e == ECONNREFUSED ?
		    " (is jobd running?)" : "");
	}
	return (c);
}

/* The next response, ok or not; exits with the command's status on EOF. */
json_object *
ctl_recv_any(struct jobd_client *c)
{
	json_object	*resp;
	int		 saved;

	errno = 0;
	if ((resp = jobd_recv(c)) == NULL) {
		saved = errno;
		if (saved == 0)
			ctl_fail(ctl.cmd->fail_exit,
			    "jobd closed the connection");
		ctl_fail(ctl.cmd->fail_exit, "reading from jobd: %s",
		    strerror(saved));
	}
	return (resp);
}

/* Print jobd's error as "jobctl: code: message" and exit. */
void
ctl_fail_resp(json_object *resp)
{
	json_object	*e;
	const char	*code, *msg;

	code = msg = NULL;
	if (json_object_object_get_ex(resp, "error", &e)) {
		code = jstr(e, "code");
		msg = jstr(e, "message");
	}
	fflush(stdout);
	fprintf(stderr, "%s: ", ctl.progname);
	print_safe(stderr, code != NULL ? code : "error");
	fputs(": ", stderr);
	print_safe(stderr, msg != NULL ? msg : "request failed");
	fputc('\n', stderr);
	exit(ctl.cmd->fail_exit);
}

/* The next response, which must be ok; exits with the command's status. */
json_object *
ctl_recv(struct jobd_client *c)
{
	json_object	*resp;

	resp = ctl_recv_any(c);
	if (!jbool(resp, "ok"))
		ctl_fail_resp(resp);
	return (resp);
}

/*
 * Sending failed: jobd may have refused the connection (forbidden) and
 * closed it, its one error line waiting for us to read. Exits.
 */
void
ctl_send_failed(struct jobd_client *c)
{
	json_object	*resp;
	int		 saved = errno;

	if ((saved == EPIPE || saved == ECONNRESET) &&
	    (resp = jobd_recv(c)) != NULL && !jbool(resp, "ok"))
		ctl_fail_resp(resp);
	ctl_fail(ctl.cmd->fail_exit, "sending to jobd: %s", strerror(saved));
}

json_object *
ctl_call(struct jobd_client *c, json_object *req)
{
	if (jobd_send(c, req) == -1)
		ctl_send_failed(c);
	return (ctl_recv(c));
}

/* {"op": op}, to which the command adds its fields. */
json_object *
ctl_request(const char *op)
{
	json_object	*req;

	if ((req = json_object_new_object()) == NULL)
		ctl_fail(ctl.cmd->fail_exit, "out of memory");
	json_object_object_add(req, "op", json_object_new_string(op));
	return (req);
}

long long
ctl_parse_id(const char *s)
{
	const char	*errstr;
	long long	 id;

	id = strtonum(s, 1, LLONG_MAX, &errstr);
	if (errstr != NULL || *s < '0' || *s > '9')
		ctl_fail(ctl.cmd->usage_exit, "invalid job id '%s'", s);
	return (id);
}

/*
 * A closed standard descriptor would be taken by the next pipe or socket we
 * open, and then passed to the job as its stdin or stdout: put /dev/null
 * there first. open() takes the lowest free number, which is fd.
 */
static void
open_stdio(void)
{
	int	fd, nfd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if ((nfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			exit(CTL_EXIT_FAILED);
		if (nfd != fd)
			exit(CTL_EXIT_FAILED);
	}
}

int
main(int argc, char **argv)
{
	static char	 progname[] = "jobctl";
	struct ctl_args	 args;
	struct sigaction sa;
	const char	*base;
	int		 ch, status;

	/*
	 * A vanished jobd or a closed stdout should be an error to report,
	 * not a silent death. run and timeout catch the signals they forward
	 * to the job (ctl-run.c); any other that ends jobctl drops the
	 * connection, and jobd cancels the job (on_disconnect "cancel").
	 */
	open_stdio();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGPIPE, &sa, NULL) == -1)
		ctl_fail(CTL_EXIT_FAILED, "sigaction: %s", strerror(errno));

	ctl.progname = progname;
	/*
	 * Called through a link named timeout, jobctl is timeout(1), which
	 * names itself in messages as it was invoked.
	 */
	if (argc < 1)
		usage(CTL_EXIT_USAGE);
	base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "timeout") == 0) {
		ctl.cmd = find_cmd("timeout");
		return (timeout_main(argv[0], argc, argv));
	}

	argv[0] = progname;	/* for getopt's messages */
	while ((ch = getopt_long(argc, argv, "+hs:", global_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 's':
			ctl.socket = optarg;
			break;
		case OPT_JSON:
			ctl.json = 1;
			break;
		case OPT_VERSION:
			printf("jobctl %s protocol %d\n", PACKAGE_VERSION,
			    JOBD_PROTOCOL_VERSION);
			return (0);
		default:
			usage(CTL_EXIT_USAGE);
		}
	}
	if (optind >= argc)
		usage(CTL_EXIT_USAGE);
	if ((ctl.cmd = find_cmd(argv[optind])) == NULL) {
		fprintf(stderr, "jobctl: unknown command '%s'\n", argv[optind]);
		usage(CTL_EXIT_USAGE);
	}
	parse_args(ctl.cmd, argc - optind, argv + optind, &args);
	status = ctl.cmd->exec(&args);
	free(args.opts);
	if (fflush(stdout) == EOF && errno != EPIPE)
		ctl_fail(ctl.cmd->fail_exit, "standard output: %s",
		    strerror(errno));
	return (status);
}
