/*
 * libjobdclient: the client end of the jobd protocol (docs/protocol.md).
 *
 * One blocking connection, newline-delimited JSON both ways. Every line read
 * is bounded before it is buffered, and parsed with a depth limit, so a
 * misbehaving peer costs a bounded amount of memory and an error, never a
 * crash.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "jobd/client.h"

#define CLIENT_MAX_LINE		((size_t)256 * 1024 * 1024)
#define CLIENT_READ_CHUNK	((size_t)64 * 1024)
#define CLIENT_MAX_DEPTH	64

struct jobd_client {
	int		 fd;
	char		*buf;		/* unread bytes are buf[off..len) */
	size_t		 off;
	size_t		 len;
	size_t		 cap;
	size_t		 max_line;
	int		 skipping;	/* dropping the rest of a long line */
	int		 eof;
	json_tokener	*tok;
};

static int		 connect_wait(int);
static int		 send_all(int, const char *, size_t);
static char		*encode_line(json_object *, size_t *);
static int		 send_first_with_fds(int, const char *, size_t,
			    const int *, int);
static int		 fill(struct jobd_client *);
static json_object	*parse_line(struct jobd_client *, char *, size_t);

char *
jobd_socket_path(char *buf, size_t len)
{
	const char	*env;
	int		 n;

	if ((env = getenv("JOBD_SOCKET")) != NULL && *env != '\0')
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/jobd/jobd.sock");
	else if ((env = getenv("XDG_RUNTIME_DIR")) != NULL && *env == '/')
		n = snprintf(buf, len, "%s/jobd/jobd.sock", env);
	else
		n = snprintf(buf, len, "/tmp/jobd-%lu/jobd.sock",
		    (unsigned long)geteuid());
	if (n < 0 || (size_t)n >= len)
		return (NULL);
	return (buf);
}

/*
 * A connect() interrupted by a signal goes on in the background (POSIX): wait
 * for it to finish and collect its result instead of starting a second one.
 */
static int
connect_wait(int fd)
{
	struct pollfd	pfd;
	socklen_t	slen;
	int		soerr;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		break;
	}
	slen = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == -1)
		return (-1);
	if (soerr != 0) {
		errno = soerr;
		return (-1);
	}
	return (0);
}

struct jobd_client *
jobd_connect(const char *path, char *err, size_t errlen)
{
	struct jobd_client	*c;
	struct sockaddr_un	 sun;
	char			 pathbuf[sizeof(sun.sun_path)];
	int			 fd, saved;

	if (path == NULL &&
	    (path = jobd_socket_path(pathbuf, sizeof(pathbuf))) == NULL) {
		snprintf(err, errlen, "default socket path too long");
		errno = ENAMETOOLONG;
		return (NULL);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/*
	 * Not strlcpy: on glibc before 2.38 it comes from libbsd, and the
	 * installed library would then need -lbsd in every program using it.
	 */
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		errno = ENAMETOOLONG;
		return (NULL);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		saved = errno;
		snprintf(err, errlen, "socket: %s", strerror(saved));
		errno = saved;
		return (NULL);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 &&
	    (errno != EINTR || connect_wait(fd) == -1)) {
		saved = errno;
		snprintf(err, errlen, "cannot connect to %s: %s", path,
		    strerror(saved));
		close(fd);
		errno = saved;
		return (NULL);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		saved = errno;
		snprintf(err, errlen, "%s", strerror(saved));
		close(fd);
		errno = saved;
		return (NULL);
	}
	c->fd = fd;
	c->max_line = CLIENT_MAX_LINE;
	return (c);
}

void
jobd_close(struct jobd_client *c)
{
	int	saved = errno;

	if (c == NULL)
		return;
	/* Nothing to do about a failed close of a socket we are done with. */
	(void)close(c->fd);
	if (c->tok != NULL)
		json_tokener_free(c->tok);
	free(c->buf);
	free(c);
	errno = saved;
}

int
jobd_client_fd(struct jobd_client *c)
{
	return (c->fd);
}

void
jobd_set_max_line(struct jobd_client *c, size_t max)
{
	/* json-c takes an int length; leave room for the newline and CR. */
	if (max == 0 || max > INT_MAX - 2)
		max = INT_MAX - 2;
	c->max_line = max;
}

/* MSG_NOSIGNAL: a vanished jobd is an EPIPE to report, not a death. */
static int
send_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* req as one line with its newline, malloc'd; NULL with errno set. */
static char *
encode_line(json_object *req, size_t *lenp)
{
	const char	*s;
	char		*line;
	size_t		 len;

	if (req == NULL || !json_object_is_type(req, json_type_object)) {
		errno = EINVAL;
		return (NULL);
	}
	s = json_object_to_json_string_length(req,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	/* PLAIN escapes newlines in strings; check rather than trust. */
	if (memchr(s, '\n', len) != NULL) {
		errno = EINVAL;
		return (NULL);
	}
	/* One buffer for the line and its newline: jobd reads whole lines. */
	if ((line = malloc(len + 1)) == NULL)
		return (NULL);
	memcpy(line, s, len);
	line[len] = '\n';
	*lenp = len + 1;
	return (line);
}

int
jobd_send(struct jobd_client *c, json_object *req)
{
	char	*line;
	size_t	 len;
	int	 rc, saved;

	if ((line = encode_line(req, &len)) == NULL)
		return (-1);
	rc = send_all(c->fd, line, len);
	saved = errno;
	free(line);
	errno = saved;
	return (rc);
}

/*
 * One sendmsg() carrying the descriptors and as much of the line as the
 * socket takes; returns how many bytes went, or -1. jobd ties descriptors to
 * the line whose bytes they arrive with, so they must not travel alone.
 */
static int
send_first_with_fds(int fd, const char *p, size_t len, const int *fds,
    int nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) *
				    JOBD_CLIENT_MAX_FDS)];
	} cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return (n == -1 ? -1 : (int)n);
}

int
jobd_send_fds(struct jobd_client *c, json_object *req, const int *fds,
    int nfds)
{
	char	*line;
	size_t	 len;
	int	 n, saved;

	if (nfds < 0 || nfds > JOBD_CLIENT_MAX_FDS || (nfds > 0 &&
	    fds == NULL)) {
		errno = EINVAL;
		return (-1);
	}
	if (nfds == 0)
		return (jobd_send(c, req));
	if ((line = encode_line(req, &len)) == NULL)
		return (-1);
	/* A line is far below INT_MAX: jobd bounds it at max_line. */
	if (len > INT_MAX) {
		free(line);
		errno = EMSGSIZE;
		return (-1);
	}
	n = send_first_with_fds(c->fd, line, len, fds, nfds);
	if (n != -1)
		n = send_all(c->fd, line + n, len - (size_t)n);
	saved = errno;
	free(line);
	errno = saved;
	return (n == -1 ? -1 : 0);
}

size_t
jobd_pending(struct jobd_client *c)
{
	return (c->len - c->off);
}

/*
 * Read more bytes into the buffer, growing it up to the line bound. Returns
 * 1 if bytes came, 0 at EOF, -1 on error.
 */
static int
fill(struct jobd_client *c)
{
	size_t	 want, newcap, limit;
	ssize_t	 n;
	char	*nb;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	/* A line, its CR and LF, and no more than one chunk of the next. */
	limit = c->max_line + 2 + CLIENT_READ_CHUNK;
	if (c->cap - c->len < CLIENT_READ_CHUNK && c->cap < limit) {
		want = c->len + CLIENT_READ_CHUNK;
		newcap = c->cap == 0 ? CLIENT_READ_CHUNK : c->cap;
		while (newcap < want)
			newcap *= 2;
		if (newcap > limit)
			newcap = limit;
		if ((nb = realloc(c->buf, newcap)) == NULL)
			return (-1);
		c->buf = nb;
		c->cap = newcap;
	}
	for (;;) {
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	if (n == -1)
		return (-1);
	if (n == 0)
		return (0);
	c->len += (size_t)n;
	return (1);
}

/* One line (without its newline) to an object; NULL with errno EBADMSG. */
static json_object *
parse_line(struct jobd_client *c, char *line, size_t len)
{
	json_object	*o;
	size_t		 end;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (c->tok == NULL) {
		if ((c->tok = json_tokener_new_ex(CLIENT_MAX_DEPTH)) == NULL) {
			errno = ENOMEM;
			return (NULL);
		}
		json_tokener_set_flags(c->tok,
		    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	}
	json_tokener_reset(c->tok);
	o = json_tokener_parse_ex(c->tok, line, (int)len);
	if (o == NULL) {
		errno = EBADMSG;
		return (NULL);
	}
	/* Blanks may follow the object; anything else is a second value. */
	for (end = json_tokener_get_parse_end(c->tok); end < len; end++) {
		if (line[end] != ' ' && line[end] != '\t')
			break;
	}
	if (end != len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		errno = EBADMSG;
		return (NULL);
	}
	return (o);
}

json_object *
jobd_recv(struct jobd_client *c)
{
	char	*line, *nl;
	size_t	 avail, linelen;
	int	 r;

	for (;;) {
		line = c->buf + c->off;
		avail = c->len - c->off;
		nl = avail > 0 ? memchr(line, '\n', avail) : NULL;
		if (nl != NULL) {
			linelen = (size_t)(nl - line);
			c->off += linelen + 1;
			if (c->skipping) {
				c->skipping = 0;
				continue;
			}
			if (linelen > c->max_line + 1) {
				errno = EMSGSIZE;
				return (NULL);
			}
			if (linelen == 0 || (linelen == 1 && *line == '\r'))
				continue;
			return (parse_line(c, line, linelen));
		}
		if (avail > c->max_line + 1 || (c->skipping && avail > 0)) {
			/*
			 * Too long: report it now, without waiting for the
			 * end, and drop the rest of it on later calls.
			 */
			c->off = c->len;
			if (!c->skipping) {
				c->skipping = 1;
				errno = EMSGSIZE;
				return (NULL);
			}
			continue;
		}
		if (c->eof) {
			errno = 0;
			return (NULL);
		}
		if ((r = fill(c)) == -1)
			return (NULL);
		if (r == 0) {
			c->eof = 1;
			/* A last line cut short by EOF is not a response. */
			if (c->len > c->off && !c->skipping) {
				c->off = c->len;
				errno = EBADMSG;
				return (NULL);
			}
		}
	}
}

json_object *
jobd_call(struct jobd_client *c, json_object *req)
{
	if (jobd_send(c, req) == -1)
		return (NULL);
	return (jobd_recv(c));
}

unsigned char *
jobd_job_output(json_object *job, const char *stream, size_t *len)
{
	json_object	*data, *enc;
	const char	*s, *e;
	unsigned char	*out;
	char		 key[64];
	size_t		 n;
	int		 slen;

	if (job == NULL || stream == NULL ||
	    !json_object_object_get_ex(job, stream, &data) ||
	    !json_object_is_type(data, json_type_string)) {
		errno = EINVAL;
		return (NULL);
	}
	if ((size_t)snprintf(key, sizeof(key), "%s_encoding", stream) >=
	    sizeof(key)) {
		errno = EINVAL;
		return (NULL);
	}
	e = "utf-8";
	if (json_object_object_get_ex(job, key, &enc)) {
		if (!json_object_is_type(enc, json_type_string)) {
			errno = EBADMSG;
			return (NULL);
		}
		e = json_object_get_string(enc);
	}
	s = json_object_get_string(data);
	slen = json_object_get_string_len(data);
	if (slen < 0) {
		errno = EBADMSG;
		return (NULL);
	}
	if (strcmp(e, "passed") == 0) {
		n = 0;
		if ((out = malloc(1)) == NULL)
			return (NULL);
		out[0] = '\0';
	} else if (strcmp(e, "base64") == 0) {
		if ((out = base64_decode(s, (size_t)slen, &n)) == NULL) {
			if (errno != ENOMEM)
				errno = EBADMSG;
			return (NULL);
		}
	} else if (strcmp(e, "utf-8") == 0) {
		/* The length, not strlen: the bytes may include NULs. */
		n = (size_t)slen;
		if ((out = malloc(n + 1)) == NULL)
			return (NULL);
		memcpy(out, s, n);
		out[n] = '\0';
	} else {
		errno = EBADMSG;
		return (NULL);
	}
	if (len != NULL)
		*len = n;
	return (out);
}
