/*
 * Durations as GNU timeout(1) reads them: a non-negative decimal number with
 * an optional unit. jobctl's -t/-k and jobd.conf share this parser, so a
 * value means the same wherever a user writes it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobd-protocol.h"
#include "jobd/client.h"

static int	number_span_ok(const char *, const char *);

static const struct {
	const char	*suffix;
	double		 secs;
} duration_units[] = {
	{ "",	1 },
	{ "ms",	0.001 },
	{ "s",	1 },
	{ "m",	60 },
	{ "h",	3600 },
	{ "d",	86400 },
};

/*
 * strtod also takes hex floats, "inf", "nan" and leading blanks or signs:
 * none of those is a duration a user means, so only decimal digits, one
 * point and an exponent may make up the number.
 */
static int
number_span_ok(const char *s, const char *end)
{
	const char	*p;

	if (!((*s >= '0' && *s <= '9') || *s == '.'))
		return (0);
	for (p = s; p < end; p++) {
		if ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
		    *p == 'E' || *p == '+' || *p == '-')
			continue;
		return (0);
	}
	return (1);
}

int
jobd_parse_duration(const char *s, double *secs)
{
	char	*end;
	double	 v;
	size_t	 i;
	int	 saved;

	if (s == NULL || *s == '\0' || *s == '-')
		return (-1);
	saved = errno;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || !number_span_ok(s, end)) {
		errno = saved;
		return (-1);
	}
	/* Overflow clamps below; underflow leaves a harmless tiny value. */
	errno = saved;
	if (isnan(v) || v < 0)
		return (-1);
	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]);
	    i++) {
		if (strcmp(end, duration_units[i].suffix) == 0)
			break;
	}
	if (i == sizeof(duration_units) / sizeof(duration_units[0]))
		return (-1);
	v *= duration_units[i].secs;
	if (!(v <= JOBD_DURATION_MAX))
		v = JOBD_DURATION_MAX;
	if (secs != NULL)
		*secs = v;
	return (0);
}
