/*
 * Request line framing: given the bytes buffered so far (from the start of
 * the line not yet served), what to do with them. A line ends at "\n"; one
 * "\r" before it is not part of it. A line may be up to max_line bytes, so
 * at most max_line + 2 bytes ever need to be buffered: with that many and
 * no verdict the reader would stall, and there is always one (the fuzzer
 * checks it). An over-long line is answered once, then skipped up to its
 * newline (beanstalkd's bit bucket), so the stream stays in sync.
 *
 * Pure: no I/O, no allocation, no global state.
 */
#include <string.h>

#include "frame.h"

void
frame_next(struct frame *f, size_t max_line, const char *buf, size_t avail,
    struct frame_out *out)
{
	const char	*lf = avail > 0 ? memchr(buf, '\n', avail) : NULL;
	size_t		 pos, n;

	out->len = 0;
	out->used = 0;
	if (lf == NULL) {
		if (f->discarding) {
			out->kind = FRAME_SKIP;
			out->used = avail;
		} else if (avail > max_line + 1 || (avail == max_line + 1 &&
		    buf[avail - 1] != '\r')) {
			/* max_line bytes may still wait for the "\n" of "\r\n". */
			out->kind = FRAME_OVERFLOW;
			out->used = avail;
			f->discarding = 1;
		} else
			out->kind = FRAME_MORE;
		return;
	}
	pos = (size_t)(lf - buf);
	out->used = pos + 1;
	if (f->discarding) {
		out->kind = FRAME_SKIP;
		f->discarding = 0;
		return;
	}
	n = pos > 0 && buf[pos - 1] == '\r' ? pos - 1 : pos;
	if (n > max_line) {
		out->kind = FRAME_LONG_LINE;
		return;
	}
	out->kind = FRAME_LINE;
	out->len = n;
}
