/*
 * libFuzzer harness for the line framing (src/frame.c), driven the way
 * conn.c drives it: bytes arrive in chunks, the buffer never holds more
 * than max_line + 2 bytes (reading stops there), and frame_next() is asked
 * again after every chunk until it wants more.
 *
 * Input: byte 0 picks max_line (1 to 64: small bounds reach every edge
 * quickly; the code has no other dependence on its size), byte 1 how many
 * of the next bytes are chunk sizes (each 1 to 16, reused in turn), the
 * rest is the stream.
 *
 * Checked against a model that splits the whole stream at its newlines:
 * - every line delivered is one of the stream's lines, in order, none lost
 *   or repeated, without its "\n" and one "\r" before it, at most max_line;
 * - each over-long line is answered exactly once (FRAME_LONG_LINE or
 *   FRAME_OVERFLOW), and so is an unfinished one already past the bound;
 * - bytes are consumed from the front, never more than are buffered;
 * - with a full buffer there is always a verdict (the reader never stalls).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define MAX_BOUND	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct model {
	const uint8_t	*s;		/* the stream */
	size_t		 len;
	size_t		 pos;		/* start of the next line expected */
	size_t		 max;
};

/*
 * The next event the model expects: 1 and the line (start, length) for a
 * line to serve, 2 for a too_large answer, 0 at the end. The end is reached
 * at an unfinished line, which is answered only if already past the bound.
 */
static int
model_next(struct model *m, size_t *start, size_t *len, int *pending)
{
	const uint8_t	*lf;
	size_t		 n, raw;

	*pending = 0;
	if (m->pos >= m->len)
		return (0);
	lf = memchr(m->s + m->pos, '\n', m->len - m->pos);
	if (lf == NULL) {
		raw = m->len - m->pos;
		m->pos = m->len;
		if (raw > m->max + 1 || (raw == m->max + 1 &&
		    m->s[m->len - 1] != '\r'))
			return (2);
		*pending = 1;	/* unfinished: nothing to say of it */
		return (0);
	}
	raw = (size_t)(lf - (m->s + m->pos));
	n = raw > 0 && m->s[m->pos + raw - 1] == '\r' ? raw - 1 : raw;
	*start = m->pos;
	*len = n;
	m->pos += raw + 1;
	return (n > m->max ? 2 : 1);
}

static void
expect(struct model *m, int kind, const char *line, size_t len)
{
	size_t	start = 0, n = 0;
	int	want, pending;

	want = model_next(m, &start, &n, &pending);
	if (want != kind)
		abort();
	if (kind == 1 && (n != len || len > m->max ||
	    memcmp(m->s + start, line, len) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model	 m;
	struct frame	 f = { 0 };
	struct frame_out fo;
	const uint8_t	*chunks, *s;
	char		*buf;
	size_t		 max, nchunks, slen, have = 0, fed = 0, ci = 0, want;
	size_t		 start, n;
	int		 pending;

	if (size < 2)
		return (-1);
	max = 1 + data[0] % MAX_BOUND;
	nchunks = data[1] % 16;
	if (size - 2 < nchunks)
		return (-1);
	chunks = data + 2;
	s = chunks + nchunks;
	slen = size - 2 - nchunks;
	m.s = s;
	m.len = slen;
	m.pos = 0;
	m.max = max;
	if ((buf = malloc(max + 2)) == NULL)
		abort();
	for (;;) {
		/* Read: a chunk, as much as there is room for. */
		if (fed < slen && have < max + 2) {
			want = nchunks > 0 ? 1 + chunks[ci++ % nchunks] % 16 :
			    slen - fed;
			if (want > max + 2 - have)
				want = max + 2 - have;
			if (want > slen - fed)
				want = slen - fed;
			memcpy(buf + have, s + fed, want);
			have += want;
			fed += want;
		} else if (fed == slen)
			break;
		/* Serve: until the framing wants more. */
		for (;;) {
			frame_next(&f, max, buf, have, &fo);
			if (fo.used > have)
				abort();
			if (fo.kind == FRAME_MORE) {
				if (fo.used != 0 || have >= max + 2)
					abort();	/* stalled */
				break;
			}
			if (fo.kind == FRAME_LINE)
				expect(&m, 1, buf, fo.len);
			else if (fo.kind == FRAME_LONG_LINE ||
			    fo.kind == FRAME_OVERFLOW)
				expect(&m, 2, NULL, 0);
			else if (fo.kind != FRAME_SKIP)
				abort();
			if (fo.kind != FRAME_OVERFLOW && fo.kind != FRAME_SKIP &&
			    fo.used == 0)
				abort();
			memmove(buf, buf + fo.used, have - fo.used);
			have -= fo.used;
			/* conn.c stops here too: the newline is yet to come. */
			if (f.discarding)
				break;
		}
	}
	/* EOF: what is left is one unfinished line, answered or not. */
	if (model_next(&m, &start, &n, &pending) != 0)
		abort();
	if (m.pos != m.len)
		abort();
	free(buf);
	return (0);
}
