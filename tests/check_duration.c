/*
 * Unit tests for the client library's small parsers: durations, signal names
 * and base64. All table-driven: each row is an input and what it must give.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "check_jobd.h"
#include "jobd-protocol.h"
#include "jobd/client.h"

static const struct {
	const char	*in;
	int		 rc;
	double		 secs;
} duration_cases[] = {
	{ "0",		0,	0 },
	{ "10",		0,	10 },
	{ "1.5",	0,	1.5 },
	{ ".5",		0,	0.5 },
	{ "5.",		0,	5 },
	{ "250ms",	0,	0.25 },
	{ "30s",	0,	30 },
	{ "5m",		0,	300 },
	{ "1h",		0,	3600 },
	{ "2d",		0,	172800 },
	{ "0.5m",	0,	30 },
	{ "1e2",	0,	100 },
	{ "1e3ms",	0,	1 },
	{ "0s",		0,	0 },
	{ "1e999",	0,	JOBD_DURATION_MAX },
	{ "99999999999d", 0,	JOBD_DURATION_MAX },
	{ "4000000000",	0,	JOBD_DURATION_MAX },
	{ "",		-1,	0 },
	{ "-1",		-1,	0 },
	{ "-0",		-1,	0 },
	{ "+5",		-1,	0 },
	{ " 5",		-1,	0 },
	{ "5 ",		-1,	0 },
	{ "5x",		-1,	0 },
	{ "5sec",	-1,	0 },
	{ "5S",		-1,	0 },
	{ "s",		-1,	0 },
	{ "ms",		-1,	0 },
	{ ".",		-1,	0 },
	{ "1e",		-1,	0 },
	{ "1.2.3",	-1,	0 },
	{ "0x10",	-1,	0 },
	{ "0x1p3",	-1,	0 },
	{ "inf",	-1,	0 },
	{ "infinity",	-1,	0 },
	{ "nan",	-1,	0 },
	{ "NaN",	-1,	0 },
	{ "1,5",	-1,	0 },
	{ "5mss",	-1,	0 },
};

START_TEST(duration_table)
{
	double	secs = -42;
	int	rc;

	rc = jobd_parse_duration(duration_cases[_i].in, &secs);
	ck_assert_msg(rc == duration_cases[_i].rc,
	    "'%s': returned %d, not %d", duration_cases[_i].in, rc,
	    duration_cases[_i].rc);
	if (rc == 0)
		ck_assert_msg(secs == duration_cases[_i].secs,
		    "'%s': %.17g s, not %.17g s", duration_cases[_i].in, secs,
		    duration_cases[_i].secs);
	else
		ck_assert_msg(secs == -42, "'%s': failed but set *secs",
		    duration_cases[_i].in);
}
END_TEST

START_TEST(duration_null)
{
	double	secs;

	ck_assert_int_eq(jobd_parse_duration(NULL, &secs), -1);
}
END_TEST

static const struct {
	const char	*in;
	int		 sig;
} signal_cases[] = {
	{ "TERM",	SIGTERM },
	{ "SIGTERM",	SIGTERM },
	{ "term",	SIGTERM },
	{ "sigterm",	SIGTERM },
	{ "SigTerm",	SIGTERM },
	{ "15",		15 },
	{ "HUP",	SIGHUP },
	{ "INT",	SIGINT },
	{ "QUIT",	SIGQUIT },
	{ "KILL",	SIGKILL },
	{ "9",		9 },
	{ "USR1",	SIGUSR1 },
	{ "USR2",	SIGUSR2 },
	{ "CHLD",	SIGCHLD },
	{ "CLD",	SIGCHLD },
	{ "CONT",	SIGCONT },
	{ "STOP",	SIGSTOP },
	{ "WINCH",	SIGWINCH },
	{ "IO",		SIGIO },
	{ "POLL",	SIGIO },
	{ "PWR",	SIGPWR },
	{ "SYS",	SIGSYS },
	{ "STKFLT",	SIGSTKFLT },
	{ "IOT",	SIGABRT },
	{ "1",		1 },
	{ "64",		64 },
	{ "RTMIN",	-2 },		/* -2: SIGRTMIN, -3: SIGRTMAX */
	{ "SIGRTMAX",	-3 },
	{ "",		-1 },
	{ "SIG",	-1 },
	{ "0",		-1 },
	{ "65",		-1 },
	{ "100000000000", -1 },
	{ "-15",	-1 },
	{ "+15",	-1 },
	{ " 15",	-1 },
	{ "15 ",	-1 },
	{ "TERM ",	-1 },
	{ "SIGSIGTERM",	-1 },
	{ "TERMX",	-1 },
	{ "FOO",	-1 },
	{ "RTMIN+",	-1 },
	{ "RTMIN+x",	-1 },
	{ "RTMAX+1",	-1 },
	{ "RTMIN+100",	-1 },
};

START_TEST(signal_number_table)
{
	int	want = signal_cases[_i].sig, got;

	if (want == -2)
		want = SIGRTMIN;
	else if (want == -3)
		want = SIGRTMAX;
	got = jobd_signal_number(signal_cases[_i].in);
	ck_assert_msg(got == want, "'%s': %d, not %d", signal_cases[_i].in,
	    got, want);
}
END_TEST

START_TEST(signal_names_round_trip)
{
	const char	*name;
	int		 sig;

	ck_assert_int_eq(jobd_signal_number(NULL), -1);
	ck_assert_str_eq(jobd_signal_name(SIGTERM), "TERM");
	ck_assert_str_eq(jobd_signal_name(SIGKILL), "KILL");
	ck_assert_str_eq(jobd_signal_name(SIGCHLD), "CHLD");
	ck_assert_str_eq(jobd_signal_name(SIGABRT), "ABRT");
	ck_assert_ptr_null(jobd_signal_name(0));
	ck_assert_ptr_null(jobd_signal_name(-1));
	ck_assert_ptr_null(jobd_signal_name(65));
	for (sig = 1; sig <= 64; sig++) {
		if ((name = jobd_signal_name(sig)) == NULL)
			continue;
		ck_assert_msg(jobd_signal_number(name) == sig,
		    "%d -> %s -> %d", sig, name, jobd_signal_number(name));
	}
	/* Every standard signal has a name. */
	for (sig = 1; sig <= 31; sig++)
		ck_assert_msg(jobd_signal_name(sig) != NULL,
		    "signal %d has no name", sig);
}
END_TEST

/* RFC 4648, section 10. */
static const struct {
	const char	*plain;
	const char	*encoded;
} base64_vectors[] = {
	{ "",		"" },
	{ "f",		"Zg==" },
	{ "fo",		"Zm8=" },
	{ "foo",	"Zm9v" },
	{ "foob",	"Zm9vYg==" },
	{ "fooba",	"Zm9vYmE=" },
	{ "foobar",	"Zm9vYmFy" },
};

START_TEST(base64_rfc_vectors)
{
	const char	*plain = base64_vectors[_i].plain;
	const char	*enc = base64_vectors[_i].encoded;
	unsigned char	*dec;
	char		*out;
	size_t		 len;

	out = base64_encode(plain, strlen(plain), &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, enc);
	ck_assert_uint_eq(len, strlen(enc));
	free(out);

	dec = base64_decode(enc, strlen(enc), &len);
	ck_assert_ptr_nonnull(dec);
	ck_assert_uint_eq(len, strlen(plain));
	ck_assert_int_eq(memcmp(dec, plain, len), 0);
	ck_assert_int_eq(dec[len], '\0');
	free(dec);
}
END_TEST

/* Every byte value, at every offset within a 3-byte group. */
START_TEST(base64_all_bytes)
{
	unsigned char	 buf[258], *dec;
	char		*enc;
	size_t		 n, enclen, declen, i;

	for (i = 0; i < 256; i++)
		buf[i] = (unsigned char)i;
	buf[256] = 0xff;
	buf[257] = 0x00;
	for (n = 256; n <= 258; n++) {
		enc = base64_encode(buf, n, &enclen);
		ck_assert_ptr_nonnull(enc);
		ck_assert_uint_eq(enclen, (n + 2) / 3 * 4);
		ck_assert_uint_eq(strlen(enc), enclen);
		dec = base64_decode(enc, enclen, &declen);
		ck_assert_ptr_nonnull(dec);
		ck_assert_uint_eq(declen, n);
		ck_assert_int_eq(memcmp(dec, buf, n), 0);
		free(dec);
		free(enc);
	}
	/* Each byte alone, so each is also the padded tail. */
	for (i = 0; i < 256; i++) {
		buf[0] = (unsigned char)i;
		enc = base64_encode(buf, 1, &enclen);
		ck_assert_ptr_nonnull(enc);
		dec = base64_decode(enc, enclen, &declen);
		ck_assert_ptr_nonnull(dec);
		ck_assert_uint_eq(declen, 1);
		ck_assert_int_eq(dec[0], (int)i);
		free(dec);
		free(enc);
	}
}
END_TEST

static const char *base64_malformed[] = {
	"Z",			/* not a multiple of 4 */
	"Zg=",
	"Zg",
	"Zm9vY",
	"Zg==Zg==",		/* padding inside */
	"Z===",
	"====",
	"=Zg=",
	"Zm=v",
	"Zh==",			/* non-zero unused bits */
	"Zm9=",
	"Zm 9v",		/* whitespace */
	"Zm9v\n",
	"Zm9-",			/* base64url alphabet */
	"Zm9_",
	"Zm9\x80",
};

START_TEST(base64_rejects_malformed)
{
	const char	*in = base64_malformed[_i];
	size_t		 outlen;

	ck_assert_msg(base64_decode(in, strlen(in), &outlen) == NULL,
	    "'%s' was accepted", in);
}
END_TEST

/* The decoder is told the length; a NUL inside must not end the input. */
START_TEST(base64_nul_inside)
{
	ck_assert_ptr_null(base64_decode("Zm9v\0AAA", 8, NULL));
}
END_TEST

/* Output decoding of job objects, as jobctl writes them out. */
START_TEST(job_output_decoding)
{
	json_object	*job;
	unsigned char	*out;
	size_t		 len;

	job = json_tokener_parse("{\"stdout\":\"a\\u0000b\","
	    "\"stdout_encoding\":\"utf-8\",\"stderr\":\"//4=\","
	    "\"stderr_encoding\":\"base64\",\"bad\":\"x\","
	    "\"bad_encoding\":\"rot13\",\"worse\":\"!!!!\","
	    "\"worse_encoding\":\"base64\",\"n\":1}");
	ck_assert_ptr_nonnull(job);
	out = jobd_job_output(job, "stdout", &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(out, "a\0b", 3), 0);
	free(out);
	out = jobd_job_output(job, "stderr", &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(memcmp(out, "\377\376", 2), 0);
	free(out);
	ck_assert_ptr_null(jobd_job_output(job, "bad", &len));
	ck_assert_ptr_null(jobd_job_output(job, "worse", &len));
	ck_assert_ptr_null(jobd_job_output(job, "n", &len));
	ck_assert_ptr_null(jobd_job_output(job, "missing", &len));
	json_object_put(job);
}
END_TEST

Suite *
duration_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("duration");

	tc = tcase_create("Durations like timeout(1)");
	tcase_add_loop_test(tc, duration_table, 0,
	    sizeof(duration_cases) / sizeof(duration_cases[0]));
	tcase_add_test(tc, duration_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("Signal names and numbers");
	tcase_add_loop_test(tc, signal_number_table, 0,
	    sizeof(signal_cases) / sizeof(signal_cases[0]));
	tcase_add_test(tc, signal_names_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("Base64 round trip and strictness");
	tcase_add_loop_test(tc, base64_rfc_vectors, 0,
	    sizeof(base64_vectors) / sizeof(base64_vectors[0]));
	tcase_add_test(tc, base64_all_bytes);
	tcase_add_loop_test(tc, base64_rejects_malformed, 0,
	    sizeof(base64_malformed) / sizeof(base64_malformed[0]));
	tcase_add_test(tc, base64_nul_inside);
	tcase_add_test(tc, job_output_decoding);
	suite_add_tcase(s, tc);
	return (s);
}
