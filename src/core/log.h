/*
 * log.h - one line per event, key=value, to stderr (or syslog later).
 * Lines: "<iso time> postern[<pid>] <role>: <level>: <message>".
 * Untrusted strings go through log_q() so they cannot forge lines or fields.
 */
#ifndef POSTERN_CORE_LOG_H
#define POSTERN_CORE_LOG_H

#include <stddef.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERR,
};

/* log_init - set the process role ("master", "auth", "worker1") and minimum level. */
void log_init(const char *role, enum log_level min);

/* log_set_level - change the minimum level at run time. */
void log_set_level(enum log_level min);

/* log_level_parse - "debug", "info", "warn", "error" to a level; -1 if unknown. */
int log_level_parse(const char *s);

/* log_msg - format and write one line atomically (single write(2)). */
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)

/* fatal - log at error level and exit(1); start-up and broken invariants only. */
noreturn void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), __noreturn__));

/*
 * log_q - render untrusted s (length len, or strlen if len == (size_t)-1) as a
 * log value into out: bare if it has only [A-Za-z0-9._@:/+-=], else
 * double-quoted with \", \\ and \xNN escapes; truncated with "..." to fit.
 * An empty (or NULL) s is rendered as "".
 * Returns out.
 */
const char *log_q(char *out, size_t outlen, const char *s, size_t len);

#endif
