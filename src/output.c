/*
 * Bounded capture of one output stream of a job. The pipe is always read, so
 * a job never blocks on a full pipe; bytes beyond the bound are counted and
 * thrown away. Reads are at most one chunk per wake-up, so a job that floods
 * its output cannot starve the event loop or other jobs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#define OUTPUT_CHUNK		65536
/* Final drain: enough for a full pipe, bounded against a writer that escaped. */
#define OUTPUT_DRAIN_MAX	(4 * 1024 * 1024)

struct output {
	int		 fd;
	char		*buf;
	size_t		 len;
	size_t		 alloc;
	size_t		 cap;
	uint64_t	 dropped;
};

struct output *
output_new(int fd, size_t cap)
{
	struct output	*o = xcalloc(1, sizeof(*o));

	o->fd = fd;
	o->cap = cap;
	return (o);
}

void
output_free(struct output *o)
{
	if (o == NULL)
		return;
	if (o->fd != -1 && close(o->fd) == -1)
		log_warn("%s: close", __func__);
	free(o->buf);
	free(o);
}

int
output_fd(struct output *o)
{
	return (o->fd);
}

const char *
output_data(struct output *o, size_t *len)
{
	*len = o->len;
	return (o->buf != NULL ? o->buf : "");
}

uint64_t
output_dropped(struct output *o)
{
	return (o->dropped);
}

static void
output_keep(struct output *o, const char *data, size_t n)
{
	size_t	room = o->cap - o->len, keep = n < room ? n : room;

	if (keep > 0) {
		if (o->len + keep > o->alloc) {
			o->alloc = o->alloc ? o->alloc : 4096;
			while (o->alloc < o->len + keep)
				o->alloc *= 2;
			if (o->alloc > o->cap)
				o->alloc = o->cap;
			o->buf = xreallocarray(o->buf, 1, o->alloc);
		}
		memcpy(o->buf + o->len, data, keep);
		o->len += keep;
	}
	o->dropped += n - keep;
}

int
output_read(struct output *o)
{
	char	chunk[OUTPUT_CHUNK];
	ssize_t	n;

	if (o->fd == -1)
		return (1);
	n = read(o->fd, chunk, sizeof(chunk));
	if (n > 0) {
		output_keep(o, chunk, (size_t)n);
		return (0);
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (n == -1)
		log_warn("%s: read fd %d", __func__, o->fd);
	return (1);
}

void
output_drain(struct output *o)
{
	char	chunk[OUTPUT_CHUNK];
	ssize_t	n;
	size_t	total = 0;

	if (o->fd == -1)
		return;
	while (total < OUTPUT_DRAIN_MAX) {
		n = read(o->fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		output_keep(o, chunk, (size_t)n);
		total += (size_t)n;
	}
	if (close(o->fd) == -1)
		log_warn("%s: close", __func__);
	o->fd = -1;
}
