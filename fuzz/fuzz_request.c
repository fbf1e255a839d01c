/*
 * libFuzzer harness for the request decoder: the input is one request line,
 * taken through what jobd runs on a line before it touches any job,
 * connection or the store (proto_parse_line with its depth and UTF-8 rules,
 * the op table and its field checks, each op's decoding, run's request
 * decoder and the text the store would keep). Nothing is started, nothing
 * is sent; everything is freed, so LeakSanitizer sees what a request leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	config_defaults(&cfg);
	log_init(-1);		/* errors only: keep the fuzzer's output clean */
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_err	 e;
	json_object		*req;

	/* conn.c hands over at most max_line bytes, without the newline. */
	if (size > cfg.max_line || memchr(data, '\n', size) != NULL)
		return (-1);
	memset(&e, 0, sizeof(e));
	if ((req = proto_parse_line((const char *)data, size, &e)) == NULL) {
		if (e.code == NULL || e.msg[0] == '\0')
			abort();	/* every failure says why */
		return (0);
	}
	if (ops_decode(req, &e) == -1 && (e.code == NULL || e.msg[0] == '\0'))
		abort();
	json_object_put(req);
	return (0);
}
