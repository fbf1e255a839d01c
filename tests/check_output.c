/* output.c: capture bounds and dropped counts, on a real pipe. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "check_jobd.h"
#include "jobd.h"

static void
feed(int fd, size_t n)
{
	char	buf[4096];
	size_t	i, chunk;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	while (n > 0) {
		chunk = n < sizeof(buf) ? n : sizeof(buf);
		ck_assert_int_eq(write(fd, buf, chunk), (ssize_t)chunk);
		n -= chunk;
	}
}

START_TEST(test_bound)
{
	struct output	*o;
	const char	*d;
	size_t		 len;
	int		 p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	o = output_new(p[0], 1000);
	feed(p[1], 30000);
	while (output_read(o) == 0 && output_dropped(o) + 1000 < 30000)
		;
	d = output_data(o, &len);
	ck_assert_uint_eq(len, 1000);
	ck_assert_uint_eq(output_dropped(o), 29000);
	ck_assert_int_eq(d[0], 'a');
	ck_assert_int_eq(d[999], 'a' + 999 % 26);
	/* The writer closes: EOF is reported. */
	close(p[1]);
	ck_assert_int_eq(output_read(o), 1);
	output_free(o);
}
END_TEST

START_TEST(test_drain)
{
	struct output	*o;
	size_t		 len;
	int		 p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	o = output_new(p[0], 5000);
	feed(p[1], 3000);
	/* The writer keeps the pipe open: drain must not wait for EOF. */
	output_drain(o);
	output_data(o, &len);
	ck_assert_uint_eq(len, 3000);
	ck_assert_uint_eq(output_dropped(o), 0);
	ck_assert_int_eq(output_fd(o), -1);
	close(p[1]);
	output_free(o);
}
END_TEST

START_TEST(test_zero_cap)
{
	struct output	*o;
	size_t		 len;
	int		 p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	o = output_new(p[0], 0);
	feed(p[1], 10);
	close(p[1]);
	output_drain(o);
	ck_assert_str_eq(output_data(o, &len), "");
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(output_dropped(o), 10);
	output_free(o);
}
END_TEST

Suite *
output_suite(void)
{
	Suite	*s = suite_create("output");
	TCase	*tc = tcase_create("bounds");

	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_zero_cap);
	suite_add_tcase(s, tc);
	return (s);
}
