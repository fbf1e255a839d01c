/*
 * libjobdclient: talk to jobd from C. jobctl is a thin front over this.
 *
 * A connection carries newline-delimited JSON (docs/protocol.md). Requests and
 * responses are json-c objects; the library does the framing, bounds every
 * line it reads, and never leaves a raw newline inside a frame it writes.
 */
#ifndef JOBD_CLIENT_H
#define JOBD_CLIENT_H

#include <stddef.h>
#include <json-c/json.h>

struct jobd_client;

/*
 * Default socket path: $JOBD_SOCKET, else /run/jobd/jobd.sock for root, else
 * $XDG_RUNTIME_DIR/jobd/jobd.sock, else /tmp/jobd-$UID/jobd.sock.
 * Returns buf, or NULL if the path does not fit.
 */
char		*jobd_socket_path(char *buf, size_t len);

/*
 * Connect to jobd at path (NULL: the default). On failure returns NULL and
 * writes a message naming the path and the cause into err.
 */
struct jobd_client *jobd_connect(const char *path, char *err, size_t errlen);
void		 jobd_close(struct jobd_client *);
int		 jobd_client_fd(struct jobd_client *);

/* Bound on one response line (default 256 MiB: a result holds output). */
void		 jobd_set_max_line(struct jobd_client *, size_t);

/* Send one request object as one line. 0 on success, -1 with errno set. */
int		 jobd_send(struct jobd_client *, json_object *req);

/*
 * As jobd_send, and pass nfds descriptors (at most JOBD_CLIENT_MAX_FDS) with
 * the line's first byte (SCM_RIGHTS), as a run request's "fds" names them.
 * The descriptors stay open here: jobd receives copies.
 */
#define JOBD_CLIENT_MAX_FDS	3
int		 jobd_send_fds(struct jobd_client *, json_object *req,
		    const int *fds, int nfds);

/*
 * Bytes already read from the socket that jobd_recv has not returned yet. A
 * caller that polls the socket must call jobd_recv while this is not 0: the
 * next response may already be here, and poll() would not say so.
 */
size_t		 jobd_pending(struct jobd_client *);

/*
 * Read the next response object; blocks. Returns a new reference, or NULL on
 * EOF (errno 0), on an I/O error (errno set), or on a malformed or too long
 * line (errno EBADMSG or EMSGSIZE).
 */
json_object	*jobd_recv(struct jobd_client *);

/* Send req and read one response. */
json_object	*jobd_call(struct jobd_client *, json_object *req);

/*
 * Durations as timeout(1) takes them: "10", "1.5", "250ms", "30s", "5m", "1h",
 * "2d". Huge values clamp to JOBD_DURATION_MAX. Returns 0 and sets *secs, or -1
 * for a negative or malformed duration.
 */
int		 jobd_parse_duration(const char *, double *secs);

/* "TERM", "SIGTERM", "term" or "15" -> 15; -1 if unknown or out of 1..64. */
int		 jobd_signal_number(const char *);
/* 15 -> "TERM"; NULL if the number has no name. */
const char	*jobd_signal_name(int);

/*
 * Decode a job object's "stdout"/"stderr" per its *_encoding into buf/len.
 * Returns a malloc'd buffer (caller frees) or NULL on error. A stream that
 * was passed to the job as a descriptor (encoding "passed") gives an empty
 * buffer: its bytes went straight to that descriptor.
 */
unsigned char	*jobd_job_output(json_object *job, const char *stream,
		    size_t *len);

#endif /* JOBD_CLIENT_H */
