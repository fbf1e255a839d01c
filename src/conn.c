/*
 * One client connection: bounded line framing, a cap on requests served per
 * wake-up, a bounded reply queue, and a free that is always deferred out of
 * the callbacks (a job may be sending to this connection while it goes).
 *
 * Where a line ends, and what an over-long one becomes, is frame_next()'s
 * (src/frame.c): an over-long line is answered with too_large and skipped up
 * to its newline (beanstalkd's bit bucket), so the stream stays in sync and
 * the client can go on. A line must arrive whole within client_idle_timeout
 * of its first byte (slow-loris); a client idle between lines, waiting for
 * results, is never cut.
 *
 * Reading is recvmsg() of our own, not the bufferevent's, because a client
 * may pass descriptors (SCM_RIGHTS) with a request: each one is tied to the
 * stream offset it arrived at, and so to the line that holds that byte.
 * Writing stays with the bufferevent.
 */
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "frame.h"
#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

/*
 * A turn serves requests for at most this long (a run costs ~1 ms of spawn),
 * then yields through a zero timeout, so that due deadlines run in between:
 * an event_active() would run again in the same pass, before the timers.
 */
#define CONN_TURN_NS		500000
/* Descriptors a connection may have waiting for their line. */
#define CONN_MAX_FDS		16
#define CONN_LINE_FDS		3
/* Waits a connection may have outstanding. */
#define CONN_MAX_WAITS		1024

struct conn_fd {
	uint64_t	off;		/* stream offset it arrived at */
	int		fd;
};

/*
 * A reply whose place is kept: a run's answer waits until its job is on
 * disk (end of the loop turn), and what the connection is sent meanwhile
 * queues behind it, so that replies keep the order of the requests.
 */
struct conn_slot {
	char			*frame;		/* NULL: not yet filled */
	size_t			 len;
	TAILQ_ENTRY(conn_slot)	 entry;
};

struct conn {
	unsigned long		 id;
	struct bufferevent	*bev;
	uid_t			 uid;
	pid_t			 pid;
	int			 sees_all;	/* root, admin_groups */
	struct frame		 frame;		/* line framing state */
	int			 eof;		/* peer sent EOF */
	int			 halfclosed;	/* ... but still reads replies */
	unsigned int		 nwaits;	/* results it waits for */
	struct event		*hup_ev;	/* watches a half-closed peer */
	int			 closing;	/* flush, then free */
	int			 dead;		/* free soon, send nothing */
	struct event		*more_ev;	/* lines left after the cap */
	struct event		*free_ev;
	struct event		*rd_ev;
	struct event		*idle_ev;	/* a line half-sent too long */
	struct evbuffer		*in;		/* received, not yet served */
	uint64_t		 rx_off;	/* bytes received so far */
	uint64_t		 line_off;	/* offset of the input's start */
	struct conn_fd		 fdq[CONN_MAX_FDS];	/* not yet claimed */
	int			 nfdq;
	int			 cur[CONN_LINE_FDS];	/* the line's own */
	int			 ncur;
	int			 fds_lost;	/* too many were passed */
	TAILQ_HEAD(, conn_slot)	 held;		/* replies kept in order */
	size_t			 held_bytes;
	TAILQ_ENTRY(conn)	 entry;
};

static TAILQ_HEAD(, conn)	conns = TAILQ_HEAD_INITIALIZER(conns);
static unsigned int		nconns;
static unsigned long		next_conn_id;

static void	conn_recv_cb(evutil_socket_t, short, void *);
static void	conn_eof(struct conn *);
static void	conn_hup_cb(evutil_socket_t, short, void *);
static void	conn_drop_fds_before(struct conn *, uint64_t);
static void	conn_drain(struct conn *, size_t);
static void	conn_close_fds(int *, int);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_more_cb(evutil_socket_t, short, void *);
static void	conn_idle_cb(evutil_socket_t, short, void *);
static void	conn_idle_arm(struct conn *);
static void	conn_free_cb(evutil_socket_t, short, void *);
static void	conn_process(struct conn *);
static void	conn_schedule_free(struct conn *);
static int	conn_peer_gone(struct conn *);

unsigned int
conn_count(void)
{
	return (nconns);
}

uid_t
conn_uid(struct conn *c)
{
	return (c->uid);
}

/* Root and admin_groups see every job (auth.c, at accept); everyone else
 * only their own. */
int
conn_sees_all(struct conn *c)
{
	return (c->sees_all);
}

int
conn_may_see(struct conn *c, uid_t owner)
{
	return (conn_sees_all(c) || c->uid == owner);
}

void
conn_accept(int fd, uid_t uid, pid_t pid, int sees_all)
{
	struct conn	*c = xcalloc(1, sizeof(*c));

	c->id = ++next_conn_id;
	c->uid = uid;
	c->pid = pid;
	c->sees_all = sees_all;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->more_ev = evtimer_new(base, conn_more_cb, c);
	c->free_ev = event_new(base, -1, 0, conn_free_cb, c);
	c->rd_ev = event_new(base, fd, EV_READ | EV_PERSIST, conn_recv_cb, c);
	c->in = evbuffer_new();
	c->hup_ev = event_new(base, -1, EV_PERSIST, conn_hup_cb, c);
	c->idle_ev = evtimer_new(base, conn_idle_cb, c);
	TAILQ_INIT(&c->held);
	if (c->bev == NULL || c->more_ev == NULL || c->free_ev == NULL ||
	    c->rd_ev == NULL || c->in == NULL || c->hup_ev == NULL ||
	    c->idle_ev == NULL)
		fatalx("%s: out of memory", __func__);
	bufferevent_setcb(c->bev, NULL, conn_write_cb, conn_event_cb, c);
	if (bufferevent_enable(c->bev, EV_WRITE) == -1 ||
	    event_add(c->rd_ev, NULL) == -1)
		fatalx("%s: enable", __func__);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	user_conn_add(uid);
	stats_count(STAT_CONN_ACCEPTED, 1);
	log_debug("conn %lu: uid %lu pid %ld%s", c->id, (unsigned long)uid,
	    (long)pid, sees_all ? " (sees every job)" : "");
}

/* Room for len more bytes of replies, or c is disconnected: -1. */
static int
conn_room(struct conn *c, size_t len)
{
	size_t	queued;

	queued = evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    c->held_bytes;
	if (queued + len <= cfg.max_reply_buffer)
		return (0);
	log_warnx("conn %lu: uid %lu: limit max_reply_buffer: does not read "
	    "its replies (%zu bytes queued): disconnecting", c->id,
	    (unsigned long)c->uid, queued);
	conn_schedule_free(c);
	return (-1);
}

static void
conn_write_frame(struct conn *c, const char *frame, size_t len)
{
	if (bufferevent_write(c->bev, frame, len) == -1)
		fatalx("%s: bufferevent_write", __func__);
}

void
conn_send(struct conn *c, json_object *resp)
{
	struct conn_slot	*s;
	char			*frame;
	size_t			 len;

	if (c->dead)
		return;
	if ((frame = proto_frame(resp, &len)) == NULL)
		fatalx("%s: json serialization failed", __func__);
	if (conn_room(c, len) == -1) {
		free(frame);
		return;
	}
	if (TAILQ_EMPTY(&c->held)) {
		conn_write_frame(c, frame, len);
		free(frame);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->frame = frame;
	s->len = len;
	c->held_bytes += len;
	TAILQ_INSERT_TAIL(&c->held, s, entry);
}

/*
 * Keep the place of a reply to come. Until it is filled the connection
 * counts as waiting, so a client that half-closes still gets it.
 */
struct conn_slot *
conn_hold(struct conn *c)
{
	struct conn_slot	*s = xcalloc(1, sizeof(*s));

	TAILQ_INSERT_TAIL(&c->held, s, entry);
	c->nwaits++;
	return (s);
}

static void
conn_slot_free(struct conn *c, struct conn_slot *s)
{
	TAILQ_REMOVE(&c->held, s, entry);
	if (s->frame != NULL)
		c->held_bytes -= s->len;
	free(s->frame);
	free(s);
}

/* Fill a kept place, and send what is now in order. */
void
conn_fill(struct conn *c, struct conn_slot *s, json_object *resp)
{
	if ((s->frame = proto_frame(resp, &s->len)) == NULL)
		fatalx("%s: json serialization failed", __func__);
	c->held_bytes += s->len;
	while ((s = TAILQ_FIRST(&c->held)) != NULL && s->frame != NULL) {
		if (!c->dead)
			conn_write_frame(c, s->frame, s->len);
		conn_slot_free(c, s);
	}
	conn_waiter_done(c);
}

static void
conn_reply_error(struct conn *c, const char *code, const char *limit,
    const char *msg)
{
	json_object	*resp = proto_error_limit(NULL, code, limit, msg);

	conn_send(c, resp);
	json_object_put(resp);
}

static void
conn_close_fds(int *fds, int n)
{
	int	i;

	/* A client's: closing may wait on its file system (closer.c). */
	for (i = 0; i < n; i++)
		fd_close_passed(fds[i]);
}

/*
 * The descriptors that arrived with the bytes before end (the end of the
 * line about to be served) are that line's; any beyond CONN_LINE_FDS are
 * closed and make the request fail.
 */
static void
conn_claim_fds(struct conn *c, uint64_t end)
{
	int	i, j = 0;

	c->ncur = 0;
	for (i = 0; i < c->nfdq; i++) {
		if (c->fdq[i].off >= end) {
			c->fdq[j++] = c->fdq[i];
			continue;
		}
		if (c->ncur < CONN_LINE_FDS)
			c->cur[c->ncur++] = c->fdq[i].fd;
		else {
			conn_close_fds(&c->fdq[i].fd, 1);
			c->fds_lost = 1;
		}
	}
	c->nfdq = j;
}

/* Take the descriptors passed with the request being served. */
int
conn_take_fds(struct conn *c, int *fds, int max)
{
	int	n = c->ncur;

	if (n > max || c->fds_lost)
		return (-1);
	memcpy(fds, c->cur, sizeof(int) * (size_t)n);
	c->ncur = 0;
	return (n);
}

int
conn_has_fds(struct conn *c)
{
	return (c->ncur > 0 || c->fds_lost);
}

static void
conn_line(struct conn *c, const char *line, size_t len)
{
	struct proto_err	 e;
	json_object		*req;

	if ((req = proto_parse_line(line, len, &e)) == NULL) {
		conn_reply_error(c, e.code, NULL, e.msg);
		return;
	}
	ops_dispatch(c, req);
	json_object_put(req);
}

/* Descriptors that came with bytes skipped unserved are not kept either. */
static void
conn_drop_fds_before(struct conn *c, uint64_t off)
{
	int	i, j = 0;

	for (i = 0; i < c->nfdq; i++) {
		if (c->fdq[i].off < off)
			conn_close_fds(&c->fdq[i].fd, 1);
		else
			c->fdq[j++] = c->fdq[i];
	}
	c->nfdq = j;
}

/* Input consumed: the stream offset moves on with it. */
static void
conn_drain(struct conn *c, size_t n)
{
	evbuffer_drain(c->in, n);
	c->line_off += n;
}

/* What frame_next() says of the buffered input. */
static void
conn_frame(struct conn *c, struct frame_out *fo)
{
	size_t		 avail = evbuffer_get_length(c->in);
	const char	*buf = NULL;

	if (avail > 0 && (buf = (const char *)evbuffer_pullup(c->in,
	    (ssize_t)avail)) == NULL)
		fatalx("%s: evbuffer_pullup", __func__);
	frame_next(&c->frame, cfg.max_line, buf, avail, fo);
}

static void
conn_too_large(struct conn *c)
{
	char	msg[128];

	snprintf(msg, sizeof(msg), "request line longer than %zu bytes",
	    cfg.max_line);
	conn_reply_error(c, JOBD_E_TOO_LARGE, "max_line", msg);
	log_warnx("conn %lu: uid %lu: limit max_line: over-long request line "
	    "skipped", c->id, (unsigned long)c->uid);
}

/* Serve lines for up to CONN_TURN_NS; schedule the rest. */
static void
conn_process(struct conn *c)
{
	struct frame_out	 fo;
	uint64_t		 until = mono_ns() + CONN_TURN_NS;
	const char		*line;
	int			 served = 0;
	struct timeval		 now = { 0, 0 };

	while (!c->dead && !c->closing) {
		conn_frame(c, &fo);
		if (fo.kind == FRAME_MORE)
			break;
		if (fo.kind == FRAME_SKIP || fo.kind == FRAME_OVERFLOW) {
			if (fo.kind == FRAME_OVERFLOW)
				conn_too_large(c);
			conn_drain(c, fo.used);
			conn_drop_fds_before(c, c->line_off);
			if (c->frame.discarding)
				break;	/* its newline is still to come */
			/* A line is complete: the next one's clock starts anew. */
			evtimer_del(c->idle_ev);
			continue;
		}
		if (served++ > 0 && mono_ns() >= until) {
			evtimer_add(c->more_ev, &now);
			return;
		}
		/* A line is complete: the next one's clock starts anew. */
		evtimer_del(c->idle_ev);
		if ((line = (const char *)evbuffer_pullup(c->in,
		    (ssize_t)fo.used)) == NULL)
			fatalx("%s: evbuffer_pullup", __func__);
		conn_claim_fds(c, c->line_off + fo.used);
		if (fo.kind == FRAME_LONG_LINE)
			conn_too_large(c);
		else
			conn_line(c, line, fo.len);
		/* Descriptors the request did not take are not kept. */
		conn_close_fds(c->cur, c->ncur);
		c->ncur = 0;
		c->fds_lost = 0;
		conn_drain(c, fo.used);
	}
	if (c->dead || c->closing || c->halfclosed)
		return;
	/* Every complete line is served: now an EOF can be acted on. */
	if (c->eof)
		conn_eof(c);
	else if (evbuffer_get_length(c->in) < cfg.max_line + 2)
		event_add(c->rd_ev, NULL);	/* room again: read on */
}

/*
 * Read what the client sent, with the descriptors it passed. Reading stops
 * while a whole maximal line (and its "\r\n") is buffered, unserved.
 */
static void
conn_recv_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = c->in;
	char		 buf[65536];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * CONN_MAX_FDS)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	size_t		 have = evbuffer_get_length(in), room;
	ssize_t		 n;
	int		 fds[CONN_MAX_FDS], nfds, i;

	if (have >= cfg.max_line + 2) {
		/*
		 * Full: conn_process() reads on once it has room. Unless a
		 * turn is pending, frame now: a reload may have made
		 * max_line smaller than what is buffered already.
		 */
		event_del(c->rd_ev);
		if (!evtimer_pending(c->more_ev, NULL)) {
			conn_process(c);
			conn_idle_arm(c);
		}
		return;
	}
	room = cfg.max_line + 2 - have;
	iov.iov_base = buf;
	iov.iov_len = room < sizeof(buf) ? room : sizeof(buf);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno != ECONNRESET)
			log_warn("conn %lu: recvmsg", c->id);
		conn_schedule_free(c);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (n <= 0) {
			/* Nothing to tie them to. */
			nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfds > CONN_MAX_FDS)
				nfds = CONN_MAX_FDS;
			memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)nfds);
			conn_close_fds(fds, nfds);
			continue;
		}
		nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (nfds > CONN_MAX_FDS)
			nfds = CONN_MAX_FDS;
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)nfds);
		for (i = 0; i < nfds; i++) {
			if (c->nfdq == CONN_MAX_FDS) {
				conn_close_fds(&fds[i], 1);
				continue;
			}
			/*
			 * A read ends inside the message that carried the
			 * descriptors (earlier messages may come first in
			 * it), so they belong with its last byte.
			 */
			c->fdq[c->nfdq].off = c->rx_off + (uint64_t)n - 1;
			c->fdq[c->nfdq++].fd = fds[i];
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		log_warnx("conn %lu: too many descriptors passed at once",
		    c->id);
	if (n == 0) {
		c->eof = 1;
		event_del(c->rd_ev);
		conn_process(c);
		/* A line cut by EOF never ends: no clock for it. */
		conn_idle_arm(c);
		return;
	}
	if (evbuffer_add(in, buf, (size_t)n) == -1)
		fatalx("%s: evbuffer_add", __func__);
	c->rx_off += (uint64_t)n;
	conn_process(c);
	conn_idle_arm(c);
}

static void
conn_more_cb(evutil_socket_t fd, short ev, void *arg)
{
	conn_process(arg);
	conn_idle_arm(arg);
}

/* A line begun and not finished: it has client_idle_timeout to finish. */
static void
conn_idle_arm(struct conn *c)
{
	struct timeval	tv;

	if (c->dead || c->closing || c->eof || cfg.client_idle_timeout <= 0 ||
	    (evbuffer_get_length(c->in) == 0 && !c->frame.discarding)) {
		evtimer_del(c->idle_ev);
		return;
	}
	if (evtimer_pending(c->idle_ev, NULL))
		return;
	tv = tv_from_secs(cfg.client_idle_timeout);
	if (evtimer_add(c->idle_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

/*
 * The line is still not whole: one error line, and the client goes as if
 * it had disconnected (its jobs follow on_disconnect).
 */
static void
conn_idle_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	json_object	*resp;
	struct timeval	 tv = { 5, 0 };
	char		 msg[160];

	/* A reload may have turned the bound off since this was armed. */
	if (c->dead || c->closing || cfg.client_idle_timeout <= 0)
		return;
	snprintf(msg, sizeof(msg), "request line not finished within %gs "
	    "(client_idle_timeout): disconnecting", cfg.client_idle_timeout);
	log_warnx("conn %lu: uid %lu: limit client_idle_timeout: %zu bytes "
	    "of a request line after %gs: disconnecting", c->id,
	    (unsigned long)c->uid, evbuffer_get_length(c->in),
	    cfg.client_idle_timeout);
	resp = proto_error_limit(NULL, JOBD_E_LIMIT, "client_idle_timeout",
	    msg);
	conn_send(c, resp);
	json_object_put(resp);
	if (c->dead)
		return;
	job_conn_gone(c);
	c->closing = 1;
	event_del(c->rd_ev);
	event_del(c->more_ev);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_schedule_free(c);
	else
		bufferevent_set_timeouts(c->bev, NULL, &tv);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing)
		conn_schedule_free(c);
}

/*
 * EOF or error: the client is gone. Its waits are dropped and the jobs it
 * asked to cancel on disconnect are cancelled; other jobs go on. Replies
 * already queued are still flushed, within a bound.
 */
/* Writing failed or timed out: the client is gone. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if ((what & BEV_EVENT_ERROR) && errno != ECONNRESET && errno != EPIPE)
		log_warn("conn %lu", c->id);
	conn_schedule_free(c);
}

/*
 * The peer sent EOF and every request it sent before has been served. If it
 * only shut its writing side (as nc and socat do) and waits for results, it
 * gets them; a full close is noticed by polling for the hang-up.
 */
static void
conn_eof(struct conn *c)
{
	struct timeval	tv = { 5, 0 }, poll_tv = { 1, 0 };

	if (!conn_peer_gone(c) && c->nwaits > 0) {
		log_debug("conn %lu: half-closed by peer", c->id);
		c->halfclosed = 1;
		if (event_add(c->hup_ev, &poll_tv) == -1)
			fatalx("%s: event_add", __func__);
		return;
	}
	log_debug("conn %lu: closed by peer", c->id);
	job_conn_gone(c);
	c->closing = 1;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_schedule_free(c);
	else
		bufferevent_set_timeouts(c->bev, NULL, &tv);
}

/* A full close shows as POLLHUP; a half-close only as POLLRDHUP. */
static int
conn_peer_gone(struct conn *c)
{
	struct pollfd	pfd;

	pfd.fd = bufferevent_getfd(c->bev);
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == -1)
		return (1);
	return ((pfd.revents & (POLLHUP | POLLERR)) != 0);
}

/* A half-closed peer that hangs up for good: it is gone. */
static void
conn_hup_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	if (!conn_peer_gone(c))
		return;
	log_debug("conn %lu: closed by peer after half-close", c->id);
	job_conn_gone(c);
	conn_schedule_free(c);
}

/* A job takes a wait of c's; bounded, so a client cannot pile them up. */
int
conn_wait_add(struct conn *c)
{
	if (c->nwaits >= CONN_MAX_WAITS)
		return (-1);
	c->nwaits++;
	return (0);
}

/* A job answered a wait of c: a half-closed c goes once none is left. */
void
conn_waiter_done(struct conn *c)
{
	struct timeval	tv = { 5, 0 };

	if (c->nwaits > 0)
		c->nwaits--;
	if (!c->halfclosed || c->dead || c->closing || c->nwaits > 0)
		return;
	event_del(c->hup_ev);
	c->closing = 1;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_schedule_free(c);
	else
		bufferevent_set_timeouts(c->bev, NULL, &tv);
}

int
conn_dead(struct conn *c)
{
	return (c->dead);
}

static void
conn_schedule_free(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->rd_ev);
	event_del(c->hup_ev);
	event_del(c->idle_ev);
	event_active(c->free_ev, 0, 0);
}

static void
conn_free_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	job_conn_gone(c);
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	user_conn_del(c->uid);
	bufferevent_free(c->bev);
	event_free(c->more_ev);
	event_free(c->free_ev);
	event_free(c->rd_ev);
	event_free(c->hup_ev);
	event_free(c->idle_ev);
	evbuffer_free(c->in);
	while (c->nfdq > 0)
		conn_close_fds(&c->fdq[--c->nfdq].fd, 1);
	conn_close_fds(c->cur, c->ncur);
	while (!TAILQ_EMPTY(&c->held))
		conn_slot_free(c, TAILQ_FIRST(&c->held));
	log_debug("conn %lu: freed", c->id);
	free(c);
	control_conn_gone();	/* a descriptor is free: accept again */
}

/* At exit, after the loop: whatever is left goes now. */
void
conn_free_all(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_free_cb(-1, 0, c);
}

/* Shutdown: every connection flushes what it has, then goes. */
void
conn_close_all(void)
{
	struct conn	*c, *next;
	struct timeval	 tv = { 1, 0 };

	TAILQ_FOREACH_SAFE(c, &conns, entry, next) {
		if (c->dead)
			continue;
		c->closing = 1;
		event_del(c->rd_ev);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_schedule_free(c);
		else
			bufferevent_set_timeouts(c->bev, NULL, &tv);
	}
}
