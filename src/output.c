/*
 * Bounded capture of one output stream of a job. The pipe is always read, so
 * a job never blocks on a full pipe; bytes beyond the bound are counted and
 * thrown away. Reads are at most one chunk per wake-up, so a job that floods
 * its output cannot starve the event loop or other jobs.
 *
 * A stream may go to a file instead of memory (run's "output_file"): bounded
 * per stream, and all such files together by one budget; what is kept, in
 * memory or file, is also handed to a sink (watch.c's streams).
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
	int		 to_file;
	int		 file_fd;	/* -1: memory, or closed */
	uint64_t	 file_len, file_cap;
	int		 file_failed;	/* a write failed: said once */
	void		(*sink)(void *, const char *, size_t);
	void		*sink_arg;
};

/* Bytes in every output file, and their bound (output_files_budget). */
static uint64_t	files_total, files_cap = UINT64_MAX;
static void	(*files_reclaim)(uint64_t);

struct output *
output_new(int fd, size_t cap)
{
	struct output	*o = xcalloc(1, sizeof(*o));

	o->fd = fd;
	o->cap = cap;
	o->file_fd = -1;
	return (o);
}

/* To a file (taken over) instead of memory, at most cap bytes. */
struct output *
output_new_file(int fd, int file_fd, uint64_t cap)
{
	struct output	*o = output_new(fd, 0);

	o->to_file = 1;
	o->file_fd = file_fd;
	o->file_cap = cap;
	return (o);
}

void
output_set_sink(struct output *o, void (*fn)(void *, const char *, size_t),
    void *arg)
{
	o->sink = fn;
	o->sink_arg = arg;
}

void
output_files_budget(uint64_t cap)
{
	files_cap = cap;
}

/* Who frees budget (old jobs' files) when a write would pass it. */
void
output_files_reclaim(void (*fn)(uint64_t))
{
	files_reclaim = fn;
}

uint64_t
output_files_total(void)
{
	return (files_total);
}

/* Files of a job that went (or of one a previous jobd left). */
void
output_files_add(int64_t bytes)
{
	if (bytes < 0 && (uint64_t)-bytes > files_total)
		files_total = 0;
	else
		files_total += (uint64_t)bytes;
}

int
output_is_file(struct output *o)
{
	return (o->to_file);
}

uint64_t
output_file_len(struct output *o)
{
	return (o->file_len);
}

void
output_free(struct output *o)
{
	if (o == NULL)
		return;
	if (o->fd != -1 && close(o->fd) == -1)
		log_warn("%s: close", __func__);
	if (o->file_fd != -1 && close(o->file_fd) == -1)
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

/* Into the file, within its bound and the budget of all files. */
static void
output_keep_file(struct output *o, const char *data, size_t n)
{
	uint64_t	room = o->file_cap - o->file_len, keep;
	ssize_t		w;
	size_t		off = 0;

	if (files_reclaim != NULL && files_total + (n < room ? n : room) >
	    files_cap)
		files_reclaim(n < room ? n : room);
	if (files_total > files_cap)
		room = 0;
	else if (files_cap - files_total < room)
		room = files_cap > files_total ? files_cap - files_total : 0;
	keep = n < room ? n : room;
	while (off < keep && !o->file_failed) {
		if ((w = write(o->file_fd, data + off, keep - off)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("output file (fd %d): write", o->file_fd);
			o->file_failed = 1;
			break;
		}
		off += (size_t)w;
	}
	o->file_len += off;
	files_total += off;
	o->dropped += n - off;
	if (off > 0 && o->sink != NULL)
		o->sink(o->sink_arg, data, off);
}

static void
output_keep(struct output *o, const char *data, size_t n)
{
	size_t	room = o->cap - o->len, keep = n < room ? n : room;

	if (o->to_file) {
		if (o->file_fd != -1)
			output_keep_file(o, data, n);
		else
			o->dropped += n;
		return;
	}
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
		if (o->sink != NULL)
			o->sink(o->sink_arg, data, keep);
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
	/* The file is whole: nothing more will be written to it. */
	if (o->file_fd != -1 && close(o->file_fd) == -1)
		log_warn("%s: close", __func__);
	o->file_fd = -1;
}
