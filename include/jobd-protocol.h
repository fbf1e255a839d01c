/*
 * The jobd wire protocol: newline-delimited JSON over a UNIX stream socket.
 * docs/protocol.md is the reference; these are its constants for C.
 *
 * Don't forget to bump JOBD_PROTOCOL_VERSION if any of these change!
 */
#ifndef JOBD_PROTOCOL_H
#define JOBD_PROTOCOL_H

#define JOBD_PROTOCOL_VERSION	1

/* Error codes: stable strings, documented in docs/protocol.md. */
#define JOBD_E_BAD_JSON		"bad_json"
#define JOBD_E_BAD_REQUEST	"bad_request"
#define JOBD_E_UNKNOWN_OP	"unknown_op"
#define JOBD_E_TOO_LARGE	"too_large"
#define JOBD_E_NOT_FOUND	"not_found"
#define JOBD_E_NOT_RUNNING	"not_running"
#define JOBD_E_DRAINING		"draining"
#define JOBD_E_FORBIDDEN	"forbidden"
#define JOBD_E_INTERNAL		"internal"
#define JOBD_E_LIMIT		"limit"
#define JOBD_E_QUEUE_FULL	"queue_full"

/* Default bound of one request line, without its newline. */
#define JOBD_MAX_LINE_DEFAULT	(1024 * 1024)

/* JSON nesting a request may use: a run request needs 3. */
#define JOBD_MAX_DEPTH		8

/* Durations beyond this are clamped (100 years, in seconds). */
#define JOBD_DURATION_MAX	(100.0 * 365.25 * 86400.0)

/* Default capture bound per stream, and the daemon-wide ceiling. */
#define JOBD_MAX_OUTPUT_DEFAULT	(1024 * 1024)
#define JOBD_MAX_OUTPUT_LIMIT	(16 * 1024 * 1024)

/* A run's priority goes from -JOBD_PRIORITY_MAX to JOBD_PRIORITY_MAX. */
#define JOBD_PRIORITY_MAX	1000
/* Bytes of an idempotency key. */
#define JOBD_KEY_MAX		256
/* Bytes of a user name in run's "user". */
#define JOBD_USER_MAX		256

/* PATH of a job whose request sets none: root's, and everyone else's. */
#define JOBD_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define JOBD_USER_PATH \
	"/usr/local/bin:/usr/bin:/bin"

#endif /* JOBD_PROTOCOL_H */
