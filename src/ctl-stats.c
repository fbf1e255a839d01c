/*
 * jobctl stats: jobd's stats op, as a table, as JSON, or in the Prometheus
 * text exposition format (version 0.0.4), for a textfile collector or a
 * small exporter. The metric names are made here, from the op's fields
 * (docs/protocol.md), so jobd itself speaks only JSON.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobctl.h"

/* A counter of the op and the metric it becomes. */
struct metric {
	const char	*field;		/* in "counters" */
	const char	*name;		/* jobd_..._total */
	const char	*label;		/* "state=\"exited\"", or NULL */
	const char	*help;
};

static const struct metric counters[] = {
	{ "spawned", "jobd_jobs_spawned_total", NULL,
	  "Jobs whose command was started." },
	{ "exited", "jobd_jobs_ended_total", "state=\"exited\"",
	  "Jobs that ended, by final state." },
	{ "signaled", "jobd_jobs_ended_total", "state=\"signaled\"", NULL },
	{ "timed_out", "jobd_jobs_ended_total", "state=\"timed_out\"", NULL },
	{ "cancelled", "jobd_jobs_ended_total", "state=\"cancelled\"", NULL },
	{ "failed", "jobd_jobs_ended_total", "state=\"failed\"", NULL },
	{ "expired", "jobd_jobs_ended_total", "state=\"expired\"", NULL },
	{ "lost", "jobd_jobs_ended_total", "state=\"lost\"", NULL },
	{ "kill_escalations", "jobd_kill_escalations_total", NULL,
	  "Jobs sent SIGKILL because the grace after their signal ran out." },
	{ "strays_killed", "jobd_stray_processes_killed_total", NULL,
	  "Processes killed because they were left when their job's main "
	  "process ended." },
	{ "output_dropped_bytes", "jobd_output_dropped_bytes_total", NULL,
	  "Bytes of job output read and dropped beyond max_output." },
	{ "connections_accepted", "jobd_connections_accepted_total", NULL,
	  "Client connections accepted." },
	{ "connections_refused", "jobd_connections_refused_total", NULL,
	  "Client connections refused." },
};

static const struct {
	const char	*field;
	const char	*name;
	const char	*help;
} hists[] = {
	{ "deadline_lateness", "jobd_deadline_lateness_seconds",
	  "How late a job's deadline was acted on, after the deadline." },
	{ "spawn_latency", "jobd_spawn_latency_seconds",
	  "Time from a job leaving the queue to its command being executed." },
};

static json_object *
jobj(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return (NULL);
	return (v);
}

static json_object *
jarr(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return (NULL);
	return (v);
}

/* A label value: backslash, double quote and newline escaped (0.0.4). */
static void
prom_label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

/* A metric name from jobd is used only if it is one: [a-z_]+. */
static int
prom_name_ok(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && *s != '_')
			return (0);
	return (1);
}

static void
prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
prom_value(double v)
{
	if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", stdout);
	else
		printf("%.9g", v);
}

static const struct metric *
counter_find(const char *field)
{
	size_t	i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (strcmp(counters[i].field, field) == 0)
			return (&counters[i]);
	return (NULL);
}

static void
prom_counters(json_object *c)
{
	const struct metric	*m;
	size_t			 i;
	long long		 v;
	const char		*last = "";

	/* Known ones in the table's order, so a family stays together. */
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		m = &counters[i];
		if (jint(c, m->field, &v) == -1)
			continue;
		if (strcmp(last, m->name) != 0)
			prom_head(m->name, "counter", m->help);
		last = m->name;
		printf("%s", m->name);
		if (m->label != NULL)
			printf("{%s}", m->label);
		printf(" %lld\n", v);
	}
	/* Any a newer jobd added, under their own names. */
	json_object_object_foreach(c, key, val) {
		if (counter_find(key) != NULL || !prom_name_ok(key) ||
		    !json_object_is_type(val, json_type_int))
			continue;
		printf("# HELP jobd_%s_total jobd's counter %s.\n"
		    "# TYPE jobd_%s_total counter\njobd_%s_total %lld\n",
		    key, key, key, key, (long long)json_object_get_int64(val));
	}
}

static void
prom_hist(const char *name, const char *help, json_object *h)
{
	json_object	*le = jarr(h, "le"), *n = jarr(h, "counts");
	long long	 count = 0, c;
	size_t		 i, len;

	if (le == NULL || n == NULL || jint(h, "count", &count) == -1)
		return;
	len = json_object_array_length(le);
	if (json_object_array_length(n) != len)
		return;
	prom_head(name, "histogram", help);
	for (i = 0; i < len; i++) {
		c = (long long)json_object_get_int64(
		    json_object_array_get_idx(n, i));
		printf("%s_bucket{le=\"%.9g\"} %lld\n", name,
		    json_object_get_double(json_object_array_get_idx(le, i)),
		    c);
	}
	printf("%s_bucket{le=\"+Inf\"} %lld\n", name, count);
	printf("%s_sum ", name);
	prom_value(jdouble(h, "sum"));
	printf("\n%s_count %lld\n", name, count);
}

static void
print_prometheus(json_object *resp)
{
	json_object	*o, *h;
	const char	*s;
	long long	 v;
	size_t		 i;

	prom_head("jobd_info", "gauge", "jobd's version; the scope is all, or "
	    "user when only the asking user's jobs are counted.");
	fputs("jobd_info{version=\"", stdout);
	prom_label((s = jstr(resp, "version")) != NULL ? s : "");
	fputs("\",scope=\"", stdout);
	prom_label((s = jstr(resp, "scope")) != NULL ? s : "");
	fputs("\"} 1\n", stdout);
	prom_head("jobd_uptime_seconds", "gauge", "Seconds since jobd "
	    "started.");
	fputs("jobd_uptime_seconds ", stdout);
	prom_value(jdouble(resp, "uptime"));
	putchar('\n');
	if ((o = jobj(resp, "jobs")) != NULL) {
		prom_head("jobd_jobs", "gauge", "Jobs jobd holds now, by state "
		    "(ended ones while retained).");
		json_object_object_foreach(o, key, val) {
			fputs("jobd_jobs{state=\"", stdout);
			prom_label(key);
			printf("\"} %lld\n",
			    (long long)json_object_get_int64(val));
		}
	}
	if ((o = jobj(resp, "counters")) != NULL)
		prom_counters(o);
	if (jint(resp, "connections", &v) == 0) {
		prom_head("jobd_connections", "gauge", "Client connections "
		    "open now.");
		printf("jobd_connections %lld\n", v);
	}
	if ((o = jobj(resp, "requests")) != NULL) {
		prom_head("jobd_requests_total", "counter", "Requests, by op "
		    "(unknown: ops jobd does not know).");
		json_object_object_foreach(o, key, val) {
			fputs("jobd_requests_total{op=\"", stdout);
			prom_label(key);
			printf("\"} %lld\n",
			    (long long)json_object_get_int64(val));
		}
	}
	if ((o = jobj(resp, "histograms")) != NULL)
		for (i = 0; i < sizeof(hists) / sizeof(hists[0]); i++)
			if ((h = jobj(o, hists[i].field)) != NULL)
				prom_hist(hists[i].name, hists[i].help, h);
}

/* A duration in seconds, short: "850us", "12.5ms", "3.2s". */
static void
print_secs(double s)
{
	if (s < 0)
		fputs("-", stdout);
	else if (s < 1e-3)
		printf("%.0fus", s * 1e6);
	else if (s < 1)
		printf("%.3gms", s * 1e3);
	else
		printf("%.3gs", s);
}

/* The upper bound of the bucket holding quantile q; +Inf past the last. */
static void
print_quantile(json_object *h, double q, long long count)
{
	json_object	*le = jarr(h, "le"), *n = jarr(h, "counts");
	size_t		 i, len = le != NULL ? json_object_array_length(le) : 0;

	for (i = 0; i < len && n != NULL; i++)
		if ((double)json_object_get_int64(json_object_array_get_idx(n,
		    i)) >= q * (double)count) {
			fputs("<= ", stdout);
			print_secs(json_object_get_double(
			    json_object_array_get_idx(le, i)));
			return;
		}
	fputs("> ", stdout);
	if (len > 0)
		print_secs(json_object_get_double(
		    json_object_array_get_idx(le, len - 1)));
}

static void
print_table(json_object *resp)
{
	json_object	*o, *h;
	const char	*s;
	long long	 v, count;
	size_t		 i;

	fputs("jobd ", stdout);
	print_safe(stdout, (s = jstr(resp, "version")) != NULL ? s : "?");
	fputs(", up ", stdout);
	print_secs(jdouble(resp, "uptime"));
	fputs(", scope ", stdout);
	print_safe(stdout, (s = jstr(resp, "scope")) != NULL ? s : "?");
	fputc('\n', stdout);
	if ((o = jobj(resp, "jobs")) != NULL) {
		printf("%-24s %s\n", "jobs by state", "now");
		json_object_object_foreach(o, key, val) {
			fputs("  ", stdout);
			print_safe(stdout, key);
			printf("%*s %lld\n", (int)(22 - (strlen(key) < 22 ?
			    strlen(key) : 22)), "",
			    (long long)json_object_get_int64(val));
		}
	}
	if ((o = jobj(resp, "counters")) != NULL) {
		printf("%-24s %s\n", "since start", "total");
		json_object_object_foreach(o, key, val) {
			fputs("  ", stdout);
			print_safe(stdout, key);
			printf("%*s %lld\n", (int)(22 - (strlen(key) < 22 ?
			    strlen(key) : 22)), "",
			    (long long)json_object_get_int64(val));
		}
	}
	if (jint(resp, "connections", &v) == 0)
		printf("%-24s %lld\n", "connections now", v);
	if ((o = jobj(resp, "requests")) != NULL) {
		fputs("requests", stdout);
		json_object_object_foreach(o, key, val) {
			fputc(' ', stdout);
			print_safe(stdout, key);
			printf(" %lld", (long long)json_object_get_int64(val));
		}
		fputc('\n', stdout);
	}
	if ((o = jobj(resp, "histograms")) == NULL)
		return;
	for (i = 0; i < sizeof(hists) / sizeof(hists[0]); i++) {
		if ((h = jobj(o, hists[i].field)) == NULL ||
		    jint(h, "count", &count) == -1)
			continue;
		printf("%-24s %lld", hists[i].field, count);
		if (count > 0) {
			fputs(", mean ", stdout);
			print_secs(jdouble(h, "sum") / (double)count);
			fputs(", p50 ", stdout);
			print_quantile(h, 0.5, count);
			fputs(", p99 ", stdout);
			print_quantile(h, 0.99, count);
		}
		fputc('\n', stdout);
	}
}

int
cmd_stats(struct ctl_args *args)
{
	struct jobd_client	*c;
	json_object		*req, *resp;
	int			 prom = args_has(args, OPT_PROMETHEUS);

	if (prom && ctl.json)
		ctl_usage(ctl.cmd);
	req = ctl_request("stats");
	c = ctl_connect();
	resp = ctl_call(c, req);
	json_object_put(req);
	jobd_close(c);
	if (ctl.json)
		print_json(resp);
	else if (prom)
		print_prometheus(resp);
	else
		print_table(resp);
	json_object_put(resp);
	return (0);
}
