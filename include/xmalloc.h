/* Allocation for internal sizes only: fatal on OOM. Client-fed sizes are
 * checked against their bounds before they reach these. */
#ifndef JOBD_XMALLOC_H
#define JOBD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
