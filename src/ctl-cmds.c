/*
 * jobctl's small commands: wait, status, list, cancel, ping. Each is one
 * request and one response; printing is ctl-print.c's business.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jobctl.h"

static json_object	*call_id(const char *, const char *, json_object **);
static json_object	*ctl_oneshot(json_object *);

/* One request on its own connection; consumes req, returns the response. */
static json_object *
ctl_oneshot(json_object *req)
{
	struct jobd_client	*c;
	json_object		*resp;

	c = ctl_connect();
	resp = ctl_call(c, req);
	json_object_put(req);
	jobd_close(c);
	return (resp);
}

/* Send {"op": op, "id": ...} and return the response's "job" object. */
static json_object *
call_id(const char *op, const char *idarg, json_object **respp)
{
	json_object		*req, *resp, *job;

	req = ctl_request(op);
	json_object_object_add(req, "id",
	    json_object_new_int64(ctl_parse_id(idarg)));
	resp = ctl_oneshot(req);
	if (!json_object_object_get_ex(resp, "job", &job) ||
	    !json_object_is_type(job, json_type_object))
		ctl_fail(ctl.cmd->fail_exit, "jobd's answer has no job object");
	*respp = resp;
	return (job);
}

/* Waits for the job and exits as jobctl run would have. */
int
cmd_wait(struct ctl_args *args)
{
	json_object	*resp, *job;
	int		 status;

	job = call_id("wait", args->argv[0], &resp);
	if (ctl.json)
		print_json(job);
	else
		print_job(job);
	status = job_exit_status(job, 0);
	json_object_put(resp);
	return (status);
}

int
cmd_status(struct ctl_args *args)
{
	json_object	*resp, *job;

	job = call_id("status", args->argv[0], &resp);
	if (ctl.json)
		print_json(job);
	else
		print_job(job);
	json_object_put(resp);
	return (0);
}

int
cmd_list(struct ctl_args *args)
{
	json_object		*req, *resp, *jobs;

	req = ctl_request("list");
	resp = ctl_oneshot(req);
	if (ctl.json)
		print_json(resp);
	else {
		if (!json_object_object_get_ex(resp, "jobs", &jobs) ||
		    !json_object_is_type(jobs, json_type_array))
			ctl_fail(ctl.cmd->fail_exit,
			    "jobd's answer has no job list");
		print_list(jobs);
	}
	json_object_put(resp);
	return (0);
}

int
cmd_cancel(struct ctl_args *args)
{
	json_object		*req, *resp;
	const char		*s;
	long long		 id;
	int			 sig;

	id = ctl_parse_id(args->argv[0]);
	req = ctl_request("cancel");
	json_object_object_add(req, "id", json_object_new_int64(id));
	if ((s = args_get(args, 's')) != NULL) {
		if ((sig = jobd_signal_number(s)) == -1)
			ctl_fail(ctl.cmd->usage_exit, "invalid signal '%s'", s);
		json_object_object_add(req, "signal",
		    json_object_new_int(sig));
	}
	resp = ctl_oneshot(req);
	if (ctl.json)
		print_json(resp);
	else
		printf("cancelled %lld\n", id);
	json_object_put(resp);
	return (0);
}

int
cmd_ping(struct ctl_args *args)
{
	json_object		*req, *resp;

	req = ctl_request("ping");
	resp = ctl_oneshot(req);
	if (ctl.json)
		print_json(resp);
	else
		print_ping(resp);
	json_object_put(resp);
	return (0);
}
