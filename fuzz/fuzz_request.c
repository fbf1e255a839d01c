/*
 * libFuzzer harness for the request decoder: the input is one request line,
 * taken through what jobd runs on a line before it touches any job,
 * connection or the store (proto_parse_line with its depth and UTF-8 rules,
 * the op table and its field checks, each op's decoding, run's request
 * decoder and the text the store would keep). Nothing is started, nothing
 * is sent; everything is freed, so LeakSanitizer sees what a request leaks.
 *
 * A run request that decodes must decode again, to the same job, from the
 * text the store keeps of it: that is what a restarted jobd runs (job.c's
 * recovery), and a request that did not would lose its job.
 *
 * The error reply a failure gets must be a frame a client can read: one
 * line of valid UTF-8 JSON (messages quote what the client sent).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	config_defaults(&cfg);
	log_init(-1);		/* errors only: keep the fuzzer's output clean */
	return (0);
}

static int
same_vec(char **a, char **b)
{
	size_t	i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return (0);
	return (a[i] == NULL && b[i] == NULL);
}

/* The stored text of a decoded run request decodes to the same request. */
static void
check_stored(json_object *req)
{
	struct proto_err	 e;
	struct run_req		 r, r2;
	json_object		*again;
	char			*text;

	if (proto_decode_run(req, &r, &e) == -1)
		return;
	text = sched_request_text(req);
	if ((again = proto_parse_line(text, strlen(text), &e)) == NULL ||
	    proto_decode_run(again, &r2, &e) == -1)
		abort();
	if (!same_vec(r.argv, r2.argv) || !same_vec(r.envp, r2.envp) ||
	    strcmp(r.cwd, r2.cwd) != 0 || r.timeout != r2.timeout ||
	    r.kill_after != r2.kill_after || r.sig != r2.sig ||
	    r.max_output != r2.max_output || r.stdin_len != r2.stdin_len ||
	    (r.stdin_len > 0 && memcmp(r.stdin_data, r2.stdin_data,
	    r.stdin_len) != 0) || r.priority != r2.priority ||
	    r.start_by != r2.start_by || r.warn_before != r2.warn_before ||
	    r.warn_sig != r2.warn_sig || r.nfds != r2.nfds ||
	    r.cancel_on_disconnect != r2.cancel_on_disconnect ||
	    r.output_file != r2.output_file || (r.key == NULL) !=
	    (r2.key == NULL) || (r.key != NULL && strcmp(r.key, r2.key) != 0))
		abort();
	proto_free_run(&r2);
	proto_free_run(&r);
	json_object_put(again);
	free(text);
}

/* The reply to a request that failed with e, as jobd sends it. */
static void
check_reply(json_object *req, const struct proto_err *e)
{
	struct proto_err	 e2;
	json_object		*tag = NULL, *resp, *back;
	char			*frame;
	size_t			 len;

	if (e->code == NULL || e->msg[0] == '\0')
		abort();	/* every failure says why */
	if (req != NULL)
		json_object_object_get_ex(req, "tag", &tag);
	resp = proto_error(tag, e->code, e->msg);
	if ((frame = proto_frame(resp, &len)) == NULL)
		abort();
	if (len == 0 || frame[len - 1] != '\n' ||
	    memchr(frame, '\n', len - 1) != NULL ||
	    (back = proto_parse_line(frame, len - 1, &e2)) == NULL)
		abort();
	json_object_put(back);
	json_object_put(resp);
	free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*op;
	struct proto_err	 e;
	json_object		*req;

	/* conn.c hands over at most max_line bytes, without the newline. */
	if (size > cfg.max_line || memchr(data, '\n', size) != NULL)
		return (-1);
	memset(&e, 0, sizeof(e));
	if ((req = proto_parse_line((const char *)data, size, &e)) == NULL) {
		check_reply(NULL, &e);
		return (0);
	}
	if (ops_decode(req, &e) == -1)
		check_reply(req, &e);
	if ((op = proto_op(req, &e)) != NULL && strcmp(op, "run") == 0)
		check_stored(req);
	json_object_put(req);
	return (0);
}
