/* OpenBSD-style logging to stderr (the journal under systemd) or syslog. */
#ifndef JOBD_LOG_H
#define JOBD_LOG_H

#include <stdarg.h>

#define LOG_LVL_ERROR	0
#define LOG_LVL_WARN	1
#define LOG_LVL_INFO	2
#define LOG_LVL_DEBUG	3

#define LOG_TO_STDERR	0
#define LOG_TO_SYSLOG	1

void	log_init(int verbose);
void	log_setverbose(int);
int	log_getverbose(void);
/* "error", "warning", "info", "debug": the level, or -1. */
int	log_parse_level(const char *);
const char *log_level_name(int);
/* "stderr", "syslog": LOG_TO_*, or -1. */
int	log_parse_target(const char *);
void	log_set_target(int);
int	log_get_target(void);
/* The command line's say: -v raises the level, -l forces the target (-1:
 * the configuration's). log_apply() combines them with the configuration. */
void	log_cmdline(int raise, int target);
void	log_apply(int level, int target);
void	log_at(int level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vat(int level, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* Escape untrusted text (argv, client strings) for one log line. */
char	*log_escape(const char *, size_t);

#endif
