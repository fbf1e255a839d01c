/* proto.c: decoding (valid, malformed, wrong types, huge numbers, non-UTF-8,
 * trailing bytes) and encoding (framing, output encoding). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "check_jobd.h"
#include "frame.h"
#include "jobd.h"

static json_object *
parse(const char *s, struct proto_err *e)
{
	return (proto_parse_line(s, strlen(s), e));
}

struct bad_line {
	const char	*line;
	size_t		 len;	/* 0: strlen */
	const char	*code;
};

static const struct bad_line bad_lines[] = {
	{ "{", 0, JOBD_E_BAD_JSON },
	{ "", 0, JOBD_E_BAD_JSON },
	{ "[1,2]", 0, JOBD_E_BAD_JSON },
	{ "\"op\"", 0, JOBD_E_BAD_JSON },
	{ "null", 0, JOBD_E_BAD_JSON },
	{ "{\"op\":\"ping\"} x", 0, JOBD_E_BAD_JSON },
	{ "{\"op\":\"ping\"}{}", 0, JOBD_E_BAD_JSON },
	{ "{'op':'ping'}", 0, JOBD_E_BAD_JSON },
	{ "{\"op\":\"p\xffing\"}", 0, JOBD_E_BAD_JSON },
	{ "{\"op\":\"\xc0\xaf\"}", 0, JOBD_E_BAD_JSON },
	{ "{\"op\":\"ping\"}\0{}", 14, JOBD_E_BAD_JSON },
	{ "{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", 0, JOBD_E_BAD_JSON },
	{ "{\"op\":NaN}", 0, JOBD_E_BAD_JSON },
};

START_TEST(test_parse_bad)
{
	const struct bad_line	*b = &bad_lines[_i];
	struct proto_err	 e;
	json_object		*o;

	o = proto_parse_line(b->line, b->len ? b->len : strlen(b->line), &e);
	ck_assert_msg(o == NULL, "accepted: %s", b->line);
	ck_assert_str_eq(e.code, b->code);
	ck_assert(strlen(e.msg) > 0);
}
END_TEST

START_TEST(test_parse_good)
{
	struct proto_err	 e;
	json_object		*o, *v;

	o = parse("{\"op\":\"ping\",\"tag\":[1,{\"x\":\"\xc3\xa9\"}]}  \r", &e);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(proto_op(o, &e), "ping");
	ck_assert(json_object_object_get_ex(o, "tag", &v));
	ck_assert(json_object_is_type(v, json_type_array));
	json_object_put(o);
}
END_TEST

START_TEST(test_op_field)
{
	struct proto_err	 e;
	json_object		*o;

	o = parse("{\"tag\":1}", &e);
	ck_assert_ptr_null(proto_op(o, &e));
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	json_object_put(o);
	o = parse("{\"op\":7}", &e);
	ck_assert_ptr_null(proto_op(o, &e));
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(e.msg, "op"));
	json_object_put(o);
	/* json-c's C string stops at an escaped NUL: not "ping". */
	o = parse("{\"op\":\"ping\\u0000x\"}", &e);
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_null(proto_op(o, &e));
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(e.msg, "NUL"));
	json_object_put(o);
}
END_TEST

START_TEST(test_id)
{
	struct proto_err	 e;
	json_object		*o;
	uint64_t		 id = 0;

	o = parse("{\"op\":\"wait\",\"id\":42}", &e);
	ck_assert_int_eq(proto_get_id(o, &id, &e), 0);
	ck_assert_uint_eq(id, 42);
	json_object_put(o);

	static const char *bad[] = { "{\"id\":0}", "{\"id\":-3}",
	    "{\"id\":\"5\"}", "{\"id\":1.5}", "{}", "{\"id\":null}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = parse(bad[i], &e);
		ck_assert_ptr_nonnull(o);
		ck_assert_int_eq(proto_get_id(o, &id, &e), -1);
		ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
		json_object_put(o);
	}
	/* Beyond int64: json-c clamps; it must be refused, not wrapped. */
	o = parse("{\"id\":99999999999999999999999}", &e);
	if (o != NULL) {
		if (proto_get_id(o, &id, &e) == 0)
			ck_assert_uint_eq(id, INT64_MAX);
		json_object_put(o);
	}
}
END_TEST

static int
decode(const char *s, struct run_req *r, struct proto_err *e)
{
	json_object	*o = parse(s, e);
	int		 rc;

	ck_assert_msg(o != NULL, "not JSON: %s", s);
	rc = proto_decode_run(o, r, e);
	json_object_put(o);
	return (rc);
}

START_TEST(test_run_full)
{
	struct proto_err	e;
	struct run_req		r;

	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"echo\",\"a b\"],"
	    "\"env\":{\"A\":\"1\",\"PATH\":\"/bin\"},\"cwd\":\"/tmp\","
	    "\"timeout\":1.5,\"kill_after\":0,\"signal\":\"INT\","
	    "\"stdin\":\"x\\n\",\"max_output\":10,\"wait\":true,"
	    "\"on_disconnect\":\"cancel\"}", &r, &e), 0);
	ck_assert_str_eq(r.argv[0], "echo");
	ck_assert_str_eq(r.argv[1], "a b");
	ck_assert_ptr_null(r.argv[2]);
	ck_assert_str_eq(r.envp[0], "A=1");
	ck_assert_str_eq(r.envp[1], "PATH=/bin");
	ck_assert_ptr_null(r.envp[2]);
	ck_assert_str_eq(r.cwd, "/tmp");
	ck_assert_double_eq(r.timeout, 1.5);
	ck_assert_double_eq(r.kill_after, 0);
	ck_assert_int_eq(r.sig, 2);
	ck_assert_uint_eq(r.stdin_len, 2);
	ck_assert_mem_eq(r.stdin_data, "x\n", 2);
	ck_assert_uint_eq(r.max_output, 10);
	ck_assert_int_eq(r.wait, 1);
	ck_assert_int_eq(r.cancel_on_disconnect, 1);
	ck_assert_int_eq(r.nfds, 0);
	ck_assert_int_eq(r.events, 0);
	proto_free_run(&r);

	/* Passed descriptors: their slots, in the order given. */
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"cat\"],"
	    "\"fds\":[\"stderr\",\"stdin\"],\"events\":true}", &r, &e), 0);
	ck_assert_int_eq(r.nfds, 2);
	ck_assert_int_eq(r.fd_slot[0], 2);
	ck_assert_int_eq(r.fd_slot[1], 0);
	ck_assert_int_eq(r.fd[0], -1);
	ck_assert_int_eq(r.events, 1);
	proto_free_run(&r);
}
END_TEST

START_TEST(test_run_defaults)
{
	struct proto_err	e;
	struct run_req		r;

	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"true\"]}", &r,
	    &e), 0);
	/* PATH and the user's variables come at spawn (job.c). */
	ck_assert_ptr_null(r.envp[0]);
	ck_assert_int_eq(r.user_uid, -1);
	ck_assert_ptr_null(r.user);
	ck_assert_str_eq(r.cwd, "/");
	ck_assert_double_eq(r.timeout, 0);
	ck_assert(r.kill_after < 0);
	ck_assert_int_eq(r.sig, 15);
	ck_assert_ptr_null(r.stdin_data);
	ck_assert_uint_eq(r.max_output, cfg.max_output);
	ck_assert_int_eq(r.wait, 0);
	ck_assert_int_eq(r.cancel_on_disconnect, 0);
	proto_free_run(&r);

	/* Huge durations clamp instead of overflowing. */
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"true\"],"
	    "\"timeout\":1e300,\"kill_after\":99999999999999999999}", &r,
	    &e), 0);
	ck_assert_double_eq(r.timeout, JOBD_DURATION_MAX);
	ck_assert_double_eq(r.kill_after, JOBD_DURATION_MAX);
	proto_free_run(&r);
}
END_TEST

struct bad_run {
	const char	*req;
	const char	*field;		/* the message must name it */
};

static const struct bad_run bad_runs[] = {
	{ "{\"op\":\"run\"}", "argv" },
	{ "{\"op\":\"run\",\"argv\":[]}", "argv" },
	{ "{\"op\":\"run\",\"argv\":\"ls\"}", "argv" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\",3]}", "argv" },
	{ "{\"op\":\"run\",\"argv\":[\"\"]}", "argv" },
	{ "{\"op\":\"run\",\"argv\":[\"l\\u0000s\"]}", "NUL" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"env\":[]}", "env" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"env\":{\"A\":1}}", "env" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"env\":{\"A=B\":\"1\"}}", "env" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"env\":{\"\":\"1\"}}", "env" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"cwd\":\"tmp\"}", "cwd" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"cwd\":5}", "cwd" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"timeout\":-1}", "timeout" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"timeout\":\"5s\"}", "timeout" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"kill_after\":-0.5}", "kill_after" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"signal\":\"FOO\"}", "signal" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"signal\":0}", "signal" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"signal\":65}", "signal" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"signal\":true}", "signal" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"signal\":\"TERM\\u0000x\"}",
	  "signal" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"on_disconnect\":"
	  "\"keep\\u0000x\"}", "on_disconnect" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":[\"stdout\\u0000\"]}",
	  "fds" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"stdin\":1}", "stdin" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"max_output\":-1}", "max_output" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"max_output\":1.5}", "max_output" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"max_output\":1e30}", "max_output" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"max_output\":"
	  "99999999999999999999}", "max_output" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"wait\":1}", "wait" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"on_disconnect\":\"kill\"}",
	  "on_disconnect" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"tiemout\":5}", "tiemout" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":\"stdout\"}", "fds" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":[\"stdout\",\"stdout\"]}",
	  "fds" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":[\"stdlog\"]}", "fds" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":[1]}", "fds" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":[\"stdin\",\"stdout\","
	  "\"stderr\",\"stdin\"]}", "fds" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"fds\":[\"stdin\"],"
	  "\"stdin\":\"x\"}", "stdin" },
	{ "{\"op\":\"run\",\"argv\":[\"ls\"],\"events\":\"yes\"}", "events" },
};

START_TEST(test_run_bad)
{
	const struct bad_run	*b = &bad_runs[_i];
	struct proto_err	 e;
	struct run_req		 r;

	ck_assert_msg(decode(b->req, &r, &e) == -1, "accepted: %s", b->req);
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	ck_assert_msg(strstr(e.msg, b->field) != NULL,
	    "message \"%s\" does not name %s", e.msg, b->field);
	/* Nothing is left allocated after a failure. */
	ck_assert_ptr_null(r.argv);
	ck_assert_ptr_null(r.envp);
}
END_TEST

/* rlimits and nice: below the ceilings taken, above them a limit error. */
START_TEST(test_run_limits)
{
	struct proto_err	 e;
	struct run_req		 r;
	struct jobd_config	 saved = cfg;

	cfg.rlimit[JOBD_RLIM_NOFILE] = 100;
	cfg.nice = 2;
	cfg.max_args = 2;
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"],"
	    "\"rlimits\":{\"nofile\":50,\"cpu\":9},\"nice\":3}", &r, &e), 0);
	ck_assert(r.rlim[JOBD_RLIM_NOFILE] == 50);
	ck_assert(r.rlim[JOBD_RLIM_CPU] == 9);
	ck_assert(r.rlim[JOBD_RLIM_AS] == RLIM_INFINITY);
	ck_assert_int_eq(r.nice, 3);
	proto_free_run(&r);
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"]}", &r,
	    &e), 0);
	ck_assert_int_eq(r.nice, INT_MIN);
	proto_free_run(&r);
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"],"
	    "\"rlimits\":{\"nofile\":101}}", &r, &e), -1);
	ck_assert_str_eq(e.code, JOBD_E_LIMIT);
	ck_assert_str_eq(e.limit, "rlimit_nofile");
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"],"
	    "\"nice\":1}", &r, &e), -1);
	ck_assert_str_eq(e.limit, "nice");
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\",\"a\","
	    "\"b\"]}", &r, &e), -1);
	ck_assert_str_eq(e.code, JOBD_E_TOO_LARGE);
	ck_assert_str_eq(e.limit, "max_args");
	ck_assert_ptr_null(r.argv);
	/* Not limits: plain bad requests, without a limit named. */
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"],"
	    "\"rlimits\":{\"stack\":1}}", &r, &e), -1);
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	ck_assert_ptr_null(e.limit);
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"],"
	    "\"rlimits\":{\"cpu\":-1}}", &r, &e), -1);
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	ck_assert_int_eq(decode("{\"op\":\"run\",\"argv\":[\"ls\"],"
	    "\"nice\":20}", &r, &e), -1);
	ck_assert_str_eq(e.code, JOBD_E_BAD_REQUEST);
	cfg = saved;
}
END_TEST

START_TEST(test_signals)
{
	static const struct { const char *req; int sig; } t[] = {
		{ "{\"signal\":\"KILL\"}", 9 },
		{ "{\"signal\":\"SIGINT\"}", 2 },
		{ "{\"signal\":\"hup\"}", 1 },
		{ "{\"signal\":15}", 15 },
		{ "{}", -7 },	/* absent: unchanged */
	};
	struct proto_err	 e;
	json_object		*o;
	int			 sig;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sig = -7;
		o = parse(t[i].req, &e);
		ck_assert_int_eq(proto_get_signal(o, "signal", &sig, &e), 0);
		ck_assert_int_eq(sig, t[i].sig);
		json_object_put(o);
	}
}
END_TEST

START_TEST(test_frame)
{
	json_object	*o = proto_ok(NULL);
	char		*f;
	size_t		 len;

	json_object_object_add(o, "s", json_object_new_string("a\nb\r\"c\"/"));
	f = proto_frame(o, &len);
	ck_assert_uint_eq(len, strlen(f));
	ck_assert_int_eq(f[len - 1], '\n');
	ck_assert_ptr_null(memchr(f, '\n', len - 1));
	ck_assert_ptr_nonnull(strstr(f, "\"a\\nb\\r\\\"c\\\"/\""));
	free(f);
	json_object_put(o);
}
END_TEST

START_TEST(test_error_shape)
{
	json_object	*tag = json_object_new_string("t1");
	json_object	*o = proto_error(tag, JOBD_E_NOT_FOUND, "no job 3"), *v, *e;

	ck_assert(json_object_object_get_ex(o, "ok", &v));
	ck_assert(!json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(o, "tag", &v));
	ck_assert_str_eq(json_object_get_string(v), "t1");
	ck_assert(json_object_object_get_ex(o, "error", &e));
	ck_assert(json_object_object_get_ex(e, "code", &v));
	ck_assert_str_eq(json_object_get_string(v), "not_found");
	ck_assert(json_object_object_get_ex(e, "message", &v));
	ck_assert_str_eq(json_object_get_string(v), "no job 3");
	json_object_put(o);
	json_object_put(tag);
}
END_TEST

/* Output that is not UTF-8 comes back as base64, byte for byte. */
START_TEST(test_output_encoding)
{
	unsigned char	 all[256], *dec;
	json_object	*o = json_object_new_object(), *v, *back;
	struct proto_err e;
	char		*f;
	size_t		 len, i;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	proto_add_output(o, "stdout", (char *)all, sizeof(all));
	proto_add_output(o, "stderr", "caf\xc3\xa9 au lait\0x", 16);
	ck_assert(json_object_object_get_ex(o, "stdout_encoding", &v));
	ck_assert_str_eq(json_object_get_string(v), "base64");
	ck_assert(json_object_object_get_ex(o, "stderr_encoding", &v));
	ck_assert_str_eq(json_object_get_string(v), "utf-8");

	/* Through a frame and back: valid JSON, same bytes. */
	f = proto_frame(o, &len);
	back = proto_parse_line(f, len - 1, &e);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_object_object_get_ex(back, "stdout", &v));
	dec = base64_decode(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), &len);
	ck_assert_ptr_nonnull(dec);
	ck_assert_uint_eq(len, sizeof(all));
	ck_assert_mem_eq(dec, all, sizeof(all));
	ck_assert(json_object_object_get_ex(back, "stderr", &v));
	ck_assert_int_eq(json_object_get_string_len(v), 16);
	ck_assert_mem_eq(json_object_get_string(v), "caf\xc3\xa9 au lait\0x", 16);
	free(dec);
	free(f);
	json_object_put(back);
	json_object_put(o);
}
END_TEST

/* Valid UTF-8 full of control bytes would cost 6 bytes each as a string. */
START_TEST(test_output_control_heavy)
{
	char		 buf[64];
	json_object	*o = json_object_new_object(), *v;
	char		*f;
	size_t		 len;

	memset(buf, '\001', sizeof(buf));
	proto_add_output(o, "stdout", buf, sizeof(buf));
	ck_assert(json_object_object_get_ex(o, "stdout_encoding", &v));
	ck_assert_str_eq(json_object_get_string(v), "base64");
	f = proto_frame(o, &len);
	/* base64 of 64 bytes is 88; as \u0001 escapes it would be 384. */
	ck_assert_uint_lt(len, 200);
	free(f);
	json_object_put(o);
}
END_TEST

START_TEST(test_check_fields)
{
	static const char *const allowed[] = { "id", NULL };
	struct proto_err	 e;
	json_object		*o;

	o = parse("{\"op\":\"wait\",\"tag\":1,\"id\":1}", &e);
	ck_assert_int_eq(proto_check_fields(o, allowed, &e), 0);
	json_object_put(o);
	o = parse("{\"op\":\"wait\",\"id\":1,\"signal\":9}", &e);
	ck_assert_int_eq(proto_check_fields(o, allowed, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "signal"));
	json_object_put(o);
}
END_TEST

/* frame_next: lines, CRLF at the bound, an over-long line and its skip. */
START_TEST(test_framing)
{
	struct frame		f = { 0 };
	struct frame_out	o;

	frame_next(&f, 4, "ab\r\ncd", 6, &o);
	ck_assert_int_eq(o.kind, FRAME_LINE);
	ck_assert_uint_eq(o.len, 2);
	ck_assert_uint_eq(o.used, 4);
	frame_next(&f, 4, "cd", 2, &o);
	ck_assert_int_eq(o.kind, FRAME_MORE);
	/* max_line bytes and a "\r": the "\n" may still come. */
	frame_next(&f, 4, "abcd\r", 5, &o);
	ck_assert_int_eq(o.kind, FRAME_MORE);
	frame_next(&f, 4, "abcd\r\n", 6, &o);
	ck_assert_int_eq(o.kind, FRAME_LINE);
	ck_assert_uint_eq(o.len, 4);
	/* One byte too many, newline and all: answered, nothing skipped. */
	frame_next(&f, 4, "abcde\n", 6, &o);
	ck_assert_int_eq(o.kind, FRAME_LONG_LINE);
	ck_assert_uint_eq(o.used, 6);
	ck_assert_int_eq(f.discarding, 0);
	/* Past the bound with no newline: answered, then skipped to it. */
	frame_next(&f, 4, "abcde", 5, &o);
	ck_assert_int_eq(o.kind, FRAME_OVERFLOW);
	ck_assert_uint_eq(o.used, 5);
	ck_assert_int_eq(f.discarding, 1);
	frame_next(&f, 4, "fg", 2, &o);
	ck_assert_int_eq(o.kind, FRAME_SKIP);
	ck_assert_uint_eq(o.used, 2);
	frame_next(&f, 4, "h\nok\n", 5, &o);
	ck_assert_int_eq(o.kind, FRAME_SKIP);
	ck_assert_uint_eq(o.used, 2);
	ck_assert_int_eq(f.discarding, 0);
	frame_next(&f, 4, "ok\n", 3, &o);
	ck_assert_int_eq(o.kind, FRAME_LINE);
	ck_assert_uint_eq(o.len, 2);
	frame_next(&f, 4, NULL, 0, &o);
	ck_assert_int_eq(o.kind, FRAME_MORE);
}
END_TEST

/*
 * A message quoting what the client sent is cut short without splitting a
 * UTF-8 character: the reply must stay valid JSON (found by fuzz_request).
 */
START_TEST(test_quote_cut_utf8)
{
	static const char *const lines[] = {
		/* 63 bytes, then a 2-byte character across the 64th. */
		"{\"op\":\"ping\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaa\xc3\xa9\":1}",
		"{\"op\":\"ooooooooooooooooooooooooooooooooooooooooooooooo"
		    "oooooooooooooooo\xe2\x82\xac\"}",
		NULL
	};
	struct proto_err	 e;
	json_object		*o;
	size_t			 i;

	for (i = 0; lines[i] != NULL; i++) {
		ck_assert_ptr_nonnull(o = parse(lines[i], &e));
		ck_assert_int_eq(ops_decode(o, &e), -1);
		ck_assert_msg(utf8_valid(e.msg, strlen(e.msg)),
		    "not UTF-8: %s", e.msg);
		ck_assert_ptr_nonnull(strstr(e.msg, i == 0 ? "aaa\"" :
		    "ooo\""));
		json_object_put(o);
	}
	ck_assert_uint_eq(utf8_prefix("ab\xc3\xa9", 3), 2);
	ck_assert_uint_eq(utf8_prefix("ab\xc3\xa9", 4), 4);
	ck_assert_uint_eq(utf8_prefix("ab", 64), 2);
	ck_assert_uint_eq(utf8_prefix("\xe2\x82\xac", 2), 0);
}
END_TEST

/* ops_decode: what each op decodes, with no job, connection or store. */
START_TEST(test_ops_decode)
{
	static const char *const good[] = {
		"{\"op\":\"ping\"}",
		"{\"op\":\"run\",\"argv\":[\"true\"]}",
		"{\"op\":\"cancel\",\"id\":3,\"signal\":\"KILL\"}",
		"{\"op\":\"output\",\"id\":1,\"stream\":\"stderr\"}",
		"{\"op\":\"watch\",\"output\":false}",
		NULL
	};
	static const struct { const char *line, *code; } bad[] = {
		{ "{\"op\":\"nope\"}", JOBD_E_UNKNOWN_OP },
		{ "{\"op\":\"list\",\"id\":1}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"status\",\"id\":0}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"signal\",\"id\":1,\"signal\":99}",
		    JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"output\",\"id\":1,\"stream\":\"stdin\"}",
		    JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"output\",\"id\":1,\"stream\":\"stdout\","
		    "\"max\":0}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"output\":1}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"run\",\"argv\":[]}", JOBD_E_BAD_REQUEST },
		{ NULL, NULL }
	};
	struct proto_err	 e;
	json_object		*o;
	size_t			 i;

	for (i = 0; good[i] != NULL; i++) {
		ck_assert_ptr_nonnull(o = parse(good[i], &e));
		ck_assert_msg(ops_decode(o, &e) == 0, "%s: %s", good[i],
		    e.msg);
		json_object_put(o);
	}
	for (i = 0; bad[i].line != NULL; i++) {
		ck_assert_ptr_nonnull(o = parse(bad[i].line, &e));
		ck_assert_msg(ops_decode(o, &e) == -1, "%s passed",
		    bad[i].line);
		ck_assert_str_eq(e.code, bad[i].code);
		json_object_put(o);
	}
}
END_TEST

Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc;

	tc = tcase_create("decode lines");
	tcase_add_loop_test(tc, test_parse_bad, 0,
	    sizeof(bad_lines) / sizeof(bad_lines[0]));
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_op_field);
	tcase_add_test(tc, test_id);
	tcase_add_test(tc, test_check_fields);
	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_ops_decode);
	tcase_add_test(tc, test_quote_cut_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode run");
	tcase_add_test(tc, test_run_full);
	tcase_add_test(tc, test_run_defaults);
	tcase_add_loop_test(tc, test_run_bad, 0,
	    sizeof(bad_runs) / sizeof(bad_runs[0]));
	tcase_add_test(tc, test_signals);
	tcase_add_test(tc, test_run_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, test_frame);
	tcase_add_test(tc, test_error_shape);
	tcase_add_test(tc, test_output_encoding);
	tcase_add_test(tc, test_output_control_heavy);
	suite_add_tcase(s, tc);
	return (s);
}
