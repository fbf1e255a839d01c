/*
 * Request line framing, apart from sockets and the event loop, so that it
 * can be tested and fuzzed on its own: see src/frame.c.
 */
#ifndef JOBD_FRAME_H
#define JOBD_FRAME_H

#include <stddef.h>

enum frame_kind {
	FRAME_MORE,		/* no verdict yet: read more */
	FRAME_LINE,		/* a request line: serve it */
	FRAME_LONG_LINE,	/* a whole line over the bound: too_large */
	FRAME_OVERFLOW,		/* over the bound, no newline yet: too_large,
				   then skipped up to its newline */
	FRAME_SKIP		/* bytes of an over-long line: drop them */
};

struct frame {
	int		discarding;	/* skipping an over-long line */
};

struct frame_out {
	enum frame_kind	kind;
	size_t		len;	/* FRAME_LINE: the line, without "\r\n" */
	size_t		used;	/* bytes consumed from the buffer's start */
};

void	frame_next(struct frame *, size_t max_line, const char *buf,
	    size_t avail, struct frame_out *);

#endif
