/*
 * The wire format, and nothing else: one line <-> one JSON object, and typed
 * decoding of request fields. No sockets, no jobs: unit-testable and
 * fuzzable on its own. Every error names the field and leaves no allocation
 * behind.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "jobd.h"
#include "jobd/client.h"
#include "log.h"
#include "xmalloc.h"

static int	perr(struct proto_err *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
perr(struct proto_err *e, const char *code, const char *fmt, ...)
{
	va_list	ap;

	e->code = code;
	e->limit = NULL;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return (-1);
}

/* A limit hit: the error names the option, and jobd's log says who hit it
 * (the caller logs, knowing the uid). */
static int	plimit(struct proto_err *, const char *, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

static int
plimit(struct proto_err *e, const char *code, const char *limit,
    const char *fmt, ...)
{
	va_list	ap;

	e->code = code;
	e->limit = limit;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return (-1);
}

/* json-c takes NaN and Infinity even in strict mode; JSON has neither. */
static int
all_finite(json_object *o)
{
	size_t	i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return (isfinite(json_object_get_double(o)));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return (0);
		return (1);
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!all_finite(v))
				return (0);
		}
		return (1);
	}
	default:
		return (1);
	}
}

json_object *
proto_parse_line(const char *line, size_t len, struct proto_err *e)
{
	json_tokener		*tok;
	json_object		*obj;
	enum json_tokener_error	 jerr;
	size_t			 end;

	if (memchr(line, '\0', len) != NULL) {
		perr(e, JOBD_E_BAD_JSON, "request contains a NUL byte");
		return (NULL);
	}
	/* json-c's own check lets overlong forms and surrogates through. */
	if (!utf8_valid(line, len)) {
		perr(e, JOBD_E_BAD_JSON, "request is not valid UTF-8");
		return (NULL);
	}
	if ((tok = json_tokener_new_ex(JOBD_MAX_DEPTH)) == NULL) {
		perr(e, JOBD_E_INTERNAL, "out of memory");
		return (NULL);
	}
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL) {
		if (jerr == json_tokener_continue || jerr == json_tokener_success)
			perr(e, JOBD_E_BAD_JSON, "incomplete JSON");
		else
			perr(e, JOBD_E_BAD_JSON, "%s at offset %zu",
			    json_tokener_error_desc(jerr), end);
		return (NULL);
	}
	while (end < len && (line[end] == ' ' || line[end] == '\t' ||
	    line[end] == '\r'))
		end++;
	if (end != len) {
		json_object_put(obj);
		perr(e, JOBD_E_BAD_JSON, "trailing bytes after the object at "
		    "offset %zu", end);
		return (NULL);
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		perr(e, JOBD_E_BAD_JSON, "a request must be a JSON object");
		return (NULL);
	}
	if (!all_finite(obj)) {
		json_object_put(obj);
		perr(e, JOBD_E_BAD_JSON, "NaN and Infinity are not JSON");
		return (NULL);
	}
	return (obj);
}

/*
 * A string compared by name (an op, a signal, a slot): NULL unless v is a
 * string with no NUL in it, since json-c's C string stops at an escaped
 * "\u0000" and "ping\u0000x" would otherwise pass for "ping".
 */
const char *
proto_word(json_object *v)
{
	const char	*s;

	if (!json_object_is_type(v, json_type_string))
		return (NULL);
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return (NULL);
	return (s);
}

const char *
proto_op(json_object *req, struct proto_err *e)
{
	json_object	*v;
	const char	*op;

	if (!json_object_object_get_ex(req, "op", &v)) {
		perr(e, JOBD_E_BAD_REQUEST, "missing \"op\"");
		return (NULL);
	}
	if ((op = proto_word(v)) == NULL) {
		perr(e, JOBD_E_BAD_REQUEST, "\"op\" must be a string (and no "
		    "NUL in it)");
		return (NULL);
	}
	return (op);
}

int
proto_check_fields(json_object *req, const char *const *allowed,
    struct proto_err *e)
{
	const char *const	*a;

	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, "op") == 0 || strcmp(key, "tag") == 0)
			continue;
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL) {
			return (perr(e, JOBD_E_BAD_REQUEST,
			    "unknown field \"%.*s\"",
			    (int)utf8_prefix(key, 64), key));
		}
	}
	return (0);
}

int
proto_get_id(json_object *req, uint64_t *id, struct proto_err *e)
{
	json_object	*v;
	int64_t		 n;

	if (!json_object_object_get_ex(req, "id", &v))
		return (perr(e, JOBD_E_BAD_REQUEST, "missing \"id\""));
	if (!json_object_is_type(v, json_type_int))
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "\"id\" must be an integer"));
	errno = 0;
	n = json_object_get_int64(v);
	if (n < 1 || errno != 0)
		return (perr(e, JOBD_E_BAD_REQUEST, "\"id\" is out of range"));
	*id = (uint64_t)n;
	return (0);
}

int
proto_get_signal(json_object *req, const char *field, int *sig,
    struct proto_err *e)
{
	json_object	*v;
	int64_t		 n;

	if (!json_object_object_get_ex(req, field, &v))
		return (0);
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		n = json_object_get_int64(v);
		if (errno != 0 || n < 1 || n > 64)
			return (perr(e, JOBD_E_BAD_REQUEST,
			    "\"%s\": no signal number %lld", field,
			    (long long)n));
		*sig = (int)n;
		return (0);
	}
	if (json_object_is_type(v, json_type_string)) {
		if (proto_word(v) == NULL ||
		    (n = jobd_signal_number(proto_word(v))) == -1)
			return (perr(e, JOBD_E_BAD_REQUEST,
			    "\"%s\": unknown signal name", field));
		*sig = (int)n;
		return (0);
	}
	return (perr(e, JOBD_E_BAD_REQUEST,
	    "\"%s\" must be a signal name or number", field));
}

static int
get_duration(json_object *req, const char *field, double *out,
    struct proto_err *e)
{
	json_object	*v;
	double		 d;

	if (!json_object_object_get_ex(req, field, &v))
		return (0);
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		d = (double)json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_double))
		d = json_object_get_double(v);
	else
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "\"%s\" must be a number of seconds", field));
	if (isnan(d) || d < 0)
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "\"%s\" must not be negative", field));
	*out = d > JOBD_DURATION_MAX ? JOBD_DURATION_MAX : d;
	return (0);
}

static int
get_bool(json_object *req, const char *field, int *out, struct proto_err *e)
{
	json_object	*v;

	if (!json_object_object_get_ex(req, field, &v))
		return (0);
	if (!json_object_is_type(v, json_type_boolean))
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "\"%s\" must be true or false", field));
	*out = json_object_get_boolean(v);
	return (0);
}

/* A string without embedded NUL, copied. */
static int
get_cstring(json_object *v, const char *what, char **out, struct proto_err *e)
{
	const char	*s;
	size_t		 len;

	if (!json_object_is_type(v, json_type_string))
		return (perr(e, JOBD_E_BAD_REQUEST, "%s must be a string",
		    what));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "%s must not contain NUL", what));
	*out = xstrndup(s, len);
	return (0);
}

static int
decode_argv(json_object *req, struct run_req *r, struct proto_err *e)
{
	json_object	*v;
	size_t		 i, n, bytes;
	char		 what[64];

	if (!json_object_object_get_ex(req, "argv", &v))
		return (perr(e, JOBD_E_BAD_REQUEST, "run: missing \"argv\""));
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0)
		return (perr(e, JOBD_E_BAD_REQUEST, "run: \"argv\" must be a "
		    "non-empty array of strings"));
	/* Bounds first: nothing is copied for a request over them. */
	if (n > cfg.max_args)
		return (plimit(e, JOBD_E_TOO_LARGE, "max_args", "run: \"argv\" "
		    "has %zu strings, more than max_args (%u)", n,
		    cfg.max_args));
	for (i = 0, bytes = 0; i < n; i++)
		bytes += (size_t)json_object_get_string_len(
		    json_object_array_get_idx(v, i)) + 1;
	if (bytes > cfg.max_args_bytes)
		return (plimit(e, JOBD_E_TOO_LARGE, "max_args_bytes", "run: "
		    "\"argv\" has %zu bytes, more than max_args_bytes (%zu)",
		    bytes, cfg.max_args_bytes));
	r->argv = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "\"argv\"[%zu]", i);
		if (get_cstring(json_object_array_get_idx(v, i), what,
		    &r->argv[i], e) == -1)
			return (-1);
	}
	if (r->argv[0][0] == '\0')
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "run: \"argv\"[0] must not be empty"));
	return (0);
}

static int
decode_env(json_object *req, struct run_req *r, struct proto_err *e)
{
	json_object	*v;
	size_t		 i = 0, n, bytes = 0;
	char		*val;

	/* PATH and the user's variables are added at spawn (job.c). */
	if (!json_object_object_get_ex(req, "env", &v)) {
		r->envp = xcalloc(1, sizeof(char *));
		return (0);
	}
	if (!json_object_is_type(v, json_type_object))
		return (perr(e, JOBD_E_BAD_REQUEST,
		    "run: \"env\" must be an object of strings"));
	n = (size_t)json_object_object_length(v);
	if (n > cfg.max_env)
		return (plimit(e, JOBD_E_TOO_LARGE, "max_env", "run: \"env\" "
		    "has %zu entries, more than max_env (%u)", n, cfg.max_env));
	json_object_object_foreach(v, k, sv)
		bytes += strlen(k) + 2 + (size_t)json_object_get_string_len(sv);
	if (bytes > cfg.max_env_bytes)
		return (plimit(e, JOBD_E_TOO_LARGE, "max_env_bytes", "run: "
		    "\"env\" has %zu bytes, more than max_env_bytes (%zu)",
		    bytes, cfg.max_env_bytes));
	r->envp = xcalloc(n + 1, sizeof(char *));
	json_object_object_foreach(v, key, ev) {
		if (*key == '\0' || strchr(key, '=') != NULL)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: \"env\" names "
			    "must be non-empty and contain no '='"));
		if (get_cstring(ev, "run: \"env\" values", &val, e) == -1)
			return (-1);
		xasprintf(&r->envp[i++], "%s=%s", key, val);
		free(val);
	}
	return (0);
}

static int
decode_output_fields(json_object *req, struct run_req *r, struct proto_err *e)
{
	json_object	*v;
	int64_t		 n;
	const char	*s;

	if (json_object_object_get_ex(req, "max_output", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return (perr(e, JOBD_E_BAD_REQUEST,
			    "run: \"max_output\" must be an integer"));
		errno = 0;
		n = json_object_get_int64(v);
		if (n < 0 || errno != 0 || n == INT64_MAX)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: \"max_output\" "
			    "must be between 0 and %zu", cfg.max_output_limit));
		if ((uint64_t)n > cfg.max_output_limit)
			return (plimit(e, JOBD_E_TOO_LARGE, "max_output_limit",
			    "run: \"max_output\" %lld is more than "
			    "max_output_limit (%zu)", (long long)n,
			    cfg.max_output_limit));
		r->max_output = (size_t)n;
	}
	if (json_object_object_get_ex(req, "stdin", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return (perr(e, JOBD_E_BAD_REQUEST,
			    "run: \"stdin\" must be a string"));
		r->stdin_len = (size_t)json_object_get_string_len(v);
		r->stdin_data = xmalloc(r->stdin_len + 1);
		memcpy(r->stdin_data, json_object_get_string(v),
		    r->stdin_len + 1);
	}
	if (json_object_object_get_ex(req, "on_disconnect", &v)) {
		if ((s = proto_word(v)) == NULL)
			s = "";
		if (strcmp(s, "cancel") == 0)
			r->cancel_on_disconnect = 1;
		else if (strcmp(s, "keep") != 0)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: "
			    "\"on_disconnect\" must be \"keep\" or \"cancel\""));
	}
	return (0);
}

/* An integer member in [min, max], or def if absent. */
int
proto_get_int(json_object *req, const char *op, const char *field,
    int64_t min, int64_t max, int64_t def, int64_t *out, struct proto_err *e)
{
	json_object	*v;

	*out = def;
	if (!json_object_object_get_ex(req, field, &v))
		return (0);
	errno = 0;
	*out = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || errno != 0 ||
	    *out < min || *out > max)
		return (perr(e, JOBD_E_BAD_REQUEST, "%s: \"%s\" must be an "
		    "integer from %lld to %lld", op, field, (long long)min,
		    (long long)max));
	return (0);
}

/* priority, start_by, key, warn_before and warn_signal. */
static int
decode_queue_fields(json_object *req, struct run_req *r, struct proto_err *e)
{
	json_object	*v;
	int64_t		 n;

	if (proto_get_int(req, "run", "priority", -JOBD_PRIORITY_MAX,
	    JOBD_PRIORITY_MAX, 0, &n, e) == -1)
		return (-1);
	r->priority = (int)n;
	if (get_duration(req, "start_by", &r->start_by, e) == -1 ||
	    get_duration(req, "warn_before", &r->warn_before, e) == -1)
		return (-1);
	if (json_object_object_get_ex(req, "key", &v)) {
		if (get_cstring(v, "run: \"key\"", &r->key, e) == -1)
			return (-1);
		if (r->key[0] == '\0' || strlen(r->key) > JOBD_KEY_MAX)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: \"key\" must "
			    "be 1 to %d bytes", JOBD_KEY_MAX));
	}
	if (get_bool(req, "output_file", &r->output_file, e) == -1)
		return (-1);
	if (r->output_file && cfg.store_memory)
		return (perr(e, JOBD_E_BAD_REQUEST, "run: \"output_file\" "
		    "needs a state directory (this jobd keeps its store in "
		    "memory)"));
	r->warn_sig = SIGUSR1;
	if (json_object_object_get_ex(req, "warn_signal", &v)) {
		if (r->warn_before == 0)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: "
			    "\"warn_signal\" needs \"warn_before\""));
		if (proto_get_signal(req, "warn_signal", &r->warn_sig, e) == -1)
			return (-1);
		/* A warning that kills or stops is no warning: use timeout. */
		if (r->warn_sig == SIGKILL || r->warn_sig == SIGSTOP)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: "
			    "\"warn_signal\" may not be KILL or STOP"));
	}
	if (r->warn_before > 0 && (r->timeout == 0 ||
	    r->warn_before >= r->timeout))
		return (perr(e, JOBD_E_BAD_REQUEST, "run: \"warn_before\" "
		    "needs a \"timeout\" greater than it"));
	return (0);
}

/*
 * "rlimits": {"cpu": 10, ...} and "nice": a job may ask for less than
 * jobd's ceilings (rlimit_cpu ..., nice), never more: that is an error
 * naming the limit, not a silent clamp.
 */
static int
decode_rlimits(json_object *req, struct run_req *r, struct proto_err *e)
{
	json_object	*v;
	int64_t		 n;
	uint64_t	 ceil;
	int		 i;

	for (i = 0; i < JOBD_NRLIMITS; i++)
		r->rlim[i] = RLIM_INFINITY;
	r->nice = INT_MIN;
	if (json_object_object_get_ex(req, "rlimits", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return (perr(e, JOBD_E_BAD_REQUEST, "run: \"rlimits\" "
			    "must be an object of integers"));
		json_object_object_foreach(v, key, lv) {
			if ((i = rlimit_find(key)) == -1)
				return (perr(e, JOBD_E_BAD_REQUEST, "run: "
				    "\"rlimits\": unknown limit \"%.32s\" "
				    "(cpu, as, nofile, nproc, fsize, core)",
				    key));
			errno = 0;
			n = json_object_get_int64(lv);
			if (!json_object_is_type(lv, json_type_int) ||
			    errno != 0 || n < 0)
				return (perr(e, JOBD_E_BAD_REQUEST, "run: "
				    "\"rlimits\": \"%s\" must be a "
				    "non-negative integer", key));
			ceil = cfg.rlimit[i];
			if (ceil != RLIM_INFINITY && (uint64_t)n > ceil)
				return (plimit(e, JOBD_E_LIMIT,
				    jobd_rlimits[i].option, "run: \"rlimits\": "
				    "\"%s\" %lld is above jobd's ceiling %s = "
				    "%llu", key, (long long)n,
				    jobd_rlimits[i].option,
				    (unsigned long long)ceil));
			r->rlim[i] = (rlim_t)n;
		}
	}
	if (json_object_object_get_ex(req, "nice", &v)) {
		errno = 0;
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || errno != 0 ||
		    n < -20 || n > 19)
			return (perr(e, JOBD_E_BAD_REQUEST, "run: \"nice\" must "
			    "be an integer from -20 to 19"));
		if (n < cfg.nice)
			return (plimit(e, JOBD_E_LIMIT, "nice", "run: \"nice\" "
			    "%lld is below jobd's nice = %d (a job may only be "
			    "nicer)", (long long)n, cfg.nice));
		r->nice = (int)n;
	}
	return (0);
}

/* "user": a name, or a uid; resolved and checked by auth.c. */
static int
decode_user(json_object *req, struct run_req *r, struct proto_err *e)
{
	json_object	*v;

	if (!json_object_object_get_ex(req, "user", &v))
		return (0);
	if (json_object_is_type(v, json_type_int))
		return (proto_get_int(req, "run", "user", 0, UINT32_MAX - 1, -1,
		    &r->user_uid, e));
	if (get_cstring(v, "run: \"user\"", &r->user, e) == -1)
		return (-1);
	if (r->user[0] == '\0' || strlen(r->user) > JOBD_USER_MAX)
		return (perr(e, JOBD_E_BAD_REQUEST, "run: \"user\" must be a "
		    "name of 1 to %d bytes, or a uid", JOBD_USER_MAX));
	return (0);
}

/* "fds": which stdio slots the descriptors passed with the line are for. */
static int
decode_fds(json_object *req, struct run_req *r, struct proto_err *e)
{
	static const char *const slots[] = { "stdin", "stdout", "stderr" };
	json_object	*v, *s;
	size_t		 i, n;
	int		 k, seen = 0;

	if (!json_object_object_get_ex(req, "fds", &v))
		return (0);
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > 3)
		return (perr(e, JOBD_E_BAD_REQUEST, "run: \"fds\" must be an "
		    "array of \"stdin\", \"stdout\", \"stderr\""));
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(v, i);
		for (k = 0; k < 3; k++)
			if (proto_word(s) != NULL &&
			    strcmp(proto_word(s), slots[k]) == 0)
				break;
		if (k == 3 || (seen & (1 << k)))
			return (perr(e, JOBD_E_BAD_REQUEST, "run: \"fds\" must "
			    "name distinct slots of \"stdin\", \"stdout\", "
			    "\"stderr\""));
		seen |= 1 << k;
		r->fd_slot[r->nfds++] = k;
	}
	if ((seen & 1) && r->stdin_data != NULL)
		return (perr(e, JOBD_E_BAD_REQUEST, "run: \"stdin\" is both "
		    "passed in \"fds\" and given as a string"));
	return (0);
}

int
proto_decode_run(json_object *req, struct run_req *r, struct proto_err *e)
{
	static const char *const fields[] = { "argv", "env", "cwd", "timeout",
	    "kill_after", "signal", "stdin", "max_output", "wait",
	    "on_disconnect", "fds", "events", "priority", "start_by", "key",
	    "warn_before", "warn_signal", "output_file", "rlimits", "nice",
	    "user", NULL };
	json_object	*v;

	memset(r, 0, sizeof(*r));
	r->fd[0] = r->fd[1] = r->fd[2] = -1;
	r->kill_after = -1;
	r->user_uid = -1;
	r->sig = 15;
	r->max_output = cfg.max_output;
	if (proto_check_fields(req, fields, e) == -1 ||
	    decode_argv(req, r, e) == -1 ||
	    decode_env(req, r, e) == -1 ||
	    get_duration(req, "timeout", &r->timeout, e) == -1 ||
	    get_duration(req, "kill_after", &r->kill_after, e) == -1 ||
	    proto_get_signal(req, "signal", &r->sig, e) == -1 ||
	    get_bool(req, "wait", &r->wait, e) == -1 ||
	    get_bool(req, "events", &r->events, e) == -1 ||
	    decode_output_fields(req, r, e) == -1 ||
	    decode_fds(req, r, e) == -1 ||
	    decode_user(req, r, e) == -1 ||
	    decode_queue_fields(req, r, e) == -1 ||
	    decode_rlimits(req, r, e) == -1)
		goto fail;
	if (json_object_object_get_ex(req, "cwd", &v)) {
		if (get_cstring(v, "run: \"cwd\"", &r->cwd, e) == -1)
			goto fail;
		if (r->cwd[0] != '/') {
			perr(e, JOBD_E_BAD_REQUEST,
			    "run: \"cwd\" must be an absolute path");
			goto fail;
		}
	} else
		r->cwd = xstrdup("/");
	return (0);
fail:
	proto_free_run(r);
	return (-1);
}

static void
free_vec(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

void
proto_free_run(struct run_req *r)
{
	int	i;

	free_vec(r->argv);
	free_vec(r->envp);
	free(r->cwd);
	free(r->stdin_data);
	free(r->key);
	free(r->user);
	for (i = 0; i < 3; i++)
		fd_close_passed(r->fd[i]);	/* a client's, or -1 */
	memset(r, 0, sizeof(*r));
	r->fd[0] = r->fd[1] = r->fd[2] = -1;
	r->user_uid = -1;
}

json_object *
proto_ok(json_object *tag)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (tag != NULL)
		json_object_object_add(o, "tag", json_object_get(tag));
	return (o);
}

json_object *
proto_error(json_object *tag, const char *code, const char *msg)
{
	return (proto_error_limit(tag, code, NULL, msg));
}

json_object *
proto_error_limit(json_object *tag, const char *code, const char *limit,
    const char *msg)
{
	json_object	*o = json_object_new_object(), *err;

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	if (tag != NULL)
		json_object_object_add(o, "tag", json_object_get(tag));
	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(msg));
	if (limit != NULL)
		json_object_object_add(err, "limit",
		    json_object_new_string(limit));
	json_object_object_add(o, "error", err);
	return (o);
}

/* One frame: plain JSON (no raw newline can appear) plus '\n'. */
char *
proto_frame(json_object *o, size_t *len)
{
	const char	*s;
	size_t		 n;
	char		*buf;

	s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s == NULL)
		return (NULL);
	buf = xmalloc(n + 2);
	memcpy(buf, s, n);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*len = n + 1;
	return (buf);
}

/*
 * Text worth sending as a JSON string: valid UTF-8 with few control bytes.
 * Each control byte costs six in JSON ("\u0001"), so control-heavy output
 * goes as base64, which costs 4/3 whatever the bytes are; that bounds a
 * result at 2.5 times its captured size.
 */
static int
output_is_text(const char *buf, size_t len)
{
	size_t	i, ctl = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)buf[i];
		if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') ||
		    c == 0x7f)
			ctl++;
	}
	return (ctl <= len / 8 && utf8_valid(buf, len));
}

/* Captured bytes as a JSON string: as is when text, else base64. */
void
proto_add_output(json_object *o, const char *name, const char *buf,
    size_t len)
{
	char	 key[32], *b64;
	size_t	 b64len;

	snprintf(key, sizeof(key), "%s_encoding", name);
	if (output_is_text(buf, len)) {
		json_object_object_add(o, name,
		    json_object_new_string_len(buf, (int)len));
		json_object_object_add(o, key, json_object_new_string("utf-8"));
		return;
	}
	if ((b64 = base64_encode(buf, len, &b64len)) == NULL)
		fatalx("base64_encode: out of memory");
	json_object_object_add(o, name,
	    json_object_new_string_len(b64, (int)b64len));
	json_object_object_add(o, key, json_object_new_string("base64"));
	free(b64);
}
