/*
 * The run queue: a binary heap of jobs waiting for a slot, highest priority
 * first, first submitted first within a priority. The entries live in the
 * jobs; the heap is an array of pointers that grows by doubling. sched.c
 * refuses a run that would leave more than max_queued waiting once the free
 * slots are filled (more may wait after a restart that lowered the bound).
 *
 * max_running_per_user: an entry at the top whose user already runs all
 * they may is parked (users.c keeps it, in queue order) so that the heap's
 * top is always something that can start; when one of that user's jobs
 * ends, sched.c puts back as many of theirs as may now run, best first.
 * A user at the cap so costs nothing per turn, and holds no one up.
 */
#include <stdlib.h>

#include "jobd.h"
#include "xmalloc.h"

static struct queue_entry	**heap;
static unsigned int		  len, cap, nparked;

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

	if (e->parked) {
		user_unpark(e);
		e->parked = 0;
		nparked--;
		return;
	}
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

void
queue_park(struct queue_entry *e)
{
	queue_remove(e);
	e->parked = 1;
	nparked++;
	user_park(e);
}

void
queue_unpark(uid_t uid, unsigned int n)
{
	struct queue_entry	*e;

	while (n-- > 0 && (e = user_parked_first(uid)) != NULL) {
		queue_remove(e);
		queue_push(e);
	}
}

unsigned int
queue_len(void)
{
	return (len + nparked);
}

void
queue_free(void)
{
	free(heap);
	heap = NULL;
	len = cap = nparked = 0;
}
