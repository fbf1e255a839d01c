/*
 * jobctl internals, one section per file (as tmux.h). Commands are rows of a
 * table in jobctl.c; each one's exec function lives in a ctl-*.c file.
 */
#ifndef JOBCTL_H
#define JOBCTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "jobd-protocol.h"
#include "jobd/client.h"

/* Exit statuses of run and wait follow timeout(1). */
#define CTL_EXIT_TIMEOUT	124
#define CTL_EXIT_FAILED		125
#define CTL_EXIT_CANNOT_RUN	126
#define CTL_EXIT_NOT_FOUND	127
#define CTL_EXIT_KILLED		137

/* Long options without a short form; above any char. */
enum {
	OPT_CLEAR_ENV = 256,
	OPT_STDIN_NULL,
	OPT_MAX_OUTPUT,
	OPT_JSON,
	OPT_VERSION,
	OPT_CAPTURE,
	OPT_DETACH,
	OPT_PRIORITY,
	OPT_KEY,
	OPT_START_BY,
	OPT_WARN_BEFORE,
	OPT_WARN_SIGNAL,
	OPT_OUTPUT_FILE,
	OPT_RLIMIT,
	OPT_NICE,
	OPT_PROMETHEUS,
	OPT_USER
};

struct ctl_args;

struct ctl_cmd {
	const char		*name;
	const char		*usage;
	const char		*optstring;	/* NULL: exec parses argv */
	const struct option	*longopts;
	int			 lower;		/* operands after options */
	int			 upper;		/* -1: no limit */
	int			 usage_exit;	/* bad command line */
	int			 fail_exit;	/* jobd failed or said no */
	int			(*exec)(struct ctl_args *);
};

/* One option as given, in command-line order. */
struct ctl_opt {
	int		 ch;
	const char	*arg;
};

struct ctl_args {
	const struct ctl_cmd	*cmd;
	struct ctl_opt		*opts;
	int			 nopts;
	int			 argc;		/* operands */
	char			**argv;		/* optstring NULL: all, the
						   command's name first */
};

/*
 * One job to run and wait for, as run and timeout describe it. Signals that
 * jobctl receives meanwhile are forwarded to the job.
 */
struct run_spec {
	int			  argc;
	char			**argv;
	const struct ctl_args	 *args;		/* -C, -e, --clear-env,
						   --max-output; or NULL */
	double			  timeout;	/* 0: none */
	double			  kill_after;	/* < 0: jobd's default */
	int			  sig;		/* 0: jobd's default */
	int			  capture;	/* no fds: output in the result */
	int			  stdin_null;
	int			  detach;
	int			  quiet;
	int			  events;	/* call on_event for each signal */
	int			  catch_ignored; /* also signals ignored at start */
	int			  extra_sig;	/* one more to forward; 0: none */
	int			  cancel_always; /* every forward starts the
						   kill sequence */
	void			(*on_event)(json_object *);
};

/* jobctl.c */
struct ctl_global {
	const char		*progname;	/* prefix of messages */
	const char		*socket;	/* NULL: jobd_socket_path */
	int			 json;
	const struct ctl_cmd	*cmd;		/* the one running */
};
extern struct ctl_global ctl;
int		 args_has(const struct ctl_args *, int);
const char	*args_get(const struct ctl_args *, int);
const char	*args_next(const struct ctl_args *, int, int *);
void		 ctl_usage(const struct ctl_cmd *)
		    __attribute__((noreturn));
void		 ctl_fail(int, const char *, ...)
		    __attribute__((noreturn, format(printf, 2, 3)));
struct jobd_client *ctl_connect(void);
json_object	*ctl_recv(struct jobd_client *);
json_object	*ctl_recv_any(struct jobd_client *);
void		 ctl_fail_resp(json_object *)
		    __attribute__((noreturn));
void		 ctl_send_failed(struct jobd_client *)
		    __attribute__((noreturn));
json_object	*ctl_call(struct jobd_client *, json_object *);
long long	 ctl_parse_id(const char *);
json_object	*ctl_request(const char *op);

/* ctl-run.c */
int		 cmd_run(struct ctl_args *);
int		 cmd_submit(struct ctl_args *);
int		 job_exit_status(json_object *, int);
json_object	*run_job(const struct run_spec *, json_object **);

/* ctl-timeout.c */
int		 cmd_timeout(struct ctl_args *);
int		 timeout_main(const char *, int, char **);

/* ctl-cmds.c */
int		 cmd_wait(struct ctl_args *);
int		 cmd_status(struct ctl_args *);
int		 cmd_list(struct ctl_args *);
int		 cmd_cancel(struct ctl_args *);
int		 cmd_ping(struct ctl_args *);

/* ctl-stats.c */
int		 cmd_stats(struct ctl_args *);

/* ctl-watch.c */
int		 cmd_watch(struct ctl_args *);
int		 cmd_logs(struct ctl_args *);

/* ctl-print.c */
const char	*jstr(json_object *, const char *);
int		 jint(json_object *, const char *, long long *);
int		 jbool(json_object *, const char *);
double		 jdouble(json_object *, const char *);
void		 print_json(json_object *);
void		 print_job(json_object *);
void		 print_list(json_object *);
void		 print_ping(json_object *);
void		 print_argv(FILE *, json_object *job);
void		 print_safe(FILE *, const char *);
int		 write_all(int, const void *, size_t);

#endif /* JOBCTL_H */
