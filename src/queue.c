/*
 * The run queue: a binary heap of jobs waiting for a slot, highest priority
 * first, first submitted first within a priority. The entries live in the
 * jobs; the heap is an array of pointers that grows by doubling. sched.c
 * refuses a run that would leave more than max_queued waiting once the free
 * slots are filled (more may wait after a restart that lowered the bound).
 */
#include <stdlib.h>

#include "jobd.h"
#include "xmalloc.h"

static struct queue_entry	**heap;
static unsigned int		  len, cap;

/* 1 if a goes before b. */
static int
before(const struct queue_entry *a, const struct queue_entry *b)
{
	if (a->priority != b->priority)
		return (a->priority > b->priority);
	return (a->seq < b->seq);
}

static void
place(struct queue_entry *e, unsigned int i)
{
	heap[i] = e;
	e->index = i;
}

static void
sift_up(unsigned int i)
{
	struct queue_entry	*e = heap[i];
	unsigned int		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!before(e, heap[parent]))
			break;
		place(heap[parent], i);
		i = parent;
	}
	place(e, i);
}

static void
sift_down(unsigned int i)
{
	struct queue_entry	*e = heap[i];
	unsigned int		 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= len)
			break;
		if (child + 1 < len && before(heap[child + 1], heap[child]))
			child++;
		if (!before(heap[child], e))
			break;
		place(heap[child], i);
		i = child;
	}
	place(e, i);
}

void
queue_push(struct queue_entry *e)
{
	if (len == cap) {
		cap = cap == 0 ? 64 : cap * 2;
		heap = xreallocarray(heap, cap, sizeof(*heap));
	}
	place(e, len++);
	sift_up(e->index);
}

struct queue_entry *
queue_peek(void)
{
	return (len > 0 ? heap[0] : NULL);
}

void
queue_remove(struct queue_entry *e)
{
	unsigned int	i = e->index;

	if (--len == i)
		return;
	place(heap[len], i);
	sift_down(i);
	sift_up(heap[i]->index);
}

struct queue_entry *
queue_pop(void)
{
	struct queue_entry	*e;

	if ((e = queue_peek()) != NULL)
		queue_remove(e);
	return (e);
}

unsigned int
queue_len(void)
{
	return (len);
}

void
queue_free(void)
{
	free(heap);
	heap = NULL;
	len = cap = 0;
}
