/*
 * RFC 4648 base64 with padding. jobd encodes captured output that is not
 * UTF-8 with it; clients decode it. Both return malloc'd buffers.
 */
#ifndef JOBD_BASE64_H
#define JOBD_BASE64_H

#include <stddef.h>

/* NUL-terminated; NULL on overflow or out of memory. */
char		*base64_encode(const void *, size_t, size_t *outlen);
/* NUL-terminated too; NULL (errno EINVAL) on anything but canonical base64. */
unsigned char	*base64_decode(const char *, size_t, size_t *outlen);

#endif /* JOBD_BASE64_H */
