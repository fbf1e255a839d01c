/*
 * Base64 (RFC 4648, section 4: standard alphabet, with padding).
 *
 * The decoder is strict: jobd is the only producer, so anything other than
 * what an encoder writes (whitespace, a missing or misplaced pad, non-zero
 * unused bits) means corruption, and silently accepting it could hand a
 * client different bytes than the job wrote.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"

static int	b64_value(unsigned char);

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
base64_encode(const void *src, size_t len, size_t *outlen)
{
	const unsigned char	*in = src;
	char			*out, *p;
	size_t			 groups, i;
	uint32_t		 v;

	groups = len / 3 + (len % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4) {
		errno = ENOMEM;
		return (NULL);
	}
	if ((out = malloc(groups * 4 + 1)) == NULL)
		return (NULL);
	p = out;
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		*p++ = b64_alphabet[v >> 18 & 0x3f];
		*p++ = b64_alphabet[v >> 12 & 0x3f];
		*p++ = b64_alphabet[v >> 6 & 0x3f];
		*p++ = b64_alphabet[v & 0x3f];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		*p++ = b64_alphabet[v >> 18 & 0x3f];
		*p++ = b64_alphabet[v >> 12 & 0x3f];
		*p++ = '=';
		*p++ = '=';
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = b64_alphabet[v >> 18 & 0x3f];
		*p++ = b64_alphabet[v >> 12 & 0x3f];
		*p++ = b64_alphabet[v >> 6 & 0x3f];
		*p++ = '=';
	}
	*p = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(p - out);
	return (out);
}

/* The 6-bit value of an alphabet character, -1 for anything else. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

unsigned char *
base64_decode(const char *src, size_t len, size_t *outlen)
{
	const unsigned char	*in = (const unsigned char *)src;
	unsigned char		*out, *p;
	size_t			 i, j, pad = 0;
	uint32_t		 v;
	int			 d;

	if (len % 4 != 0)
		goto bad;
	if (len > 0 && in[len - 1] == '=')
		pad = (len > 1 && in[len - 2] == '=') ? 2 : 1;
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return (NULL);
	p = out;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			/* Pads are only allowed as the last 1 or 2 chars. */
			if (i + 4 == len && j + pad >= 4) {
				v <<= 6;
				continue;
			}
			if ((d = b64_value(in[i + j])) == -1) {
				free(out);
				goto bad;
			}
			v = v << 6 | (uint32_t)d;
		}
		/* Bits an encoder would have left zero must be zero. */
		if ((pad == 1 && i + 4 == len && (v & 0xff) != 0) ||
		    (pad == 2 && i + 4 == len && (v & 0xffff) != 0)) {
			free(out);
			goto bad;
		}
		*p++ = v >> 16 & 0xff;
		if (i + 4 < len || pad < 2)
			*p++ = v >> 8 & 0xff;
		if (i + 4 < len || pad < 1)
			*p++ = v & 0xff;
	}
	*p = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(p - out);
	return (out);

bad:
	errno = EINVAL;
	return (NULL);
}
