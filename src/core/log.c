/*
 * log.c - "<iso time> postern[<pid>] <role>: <level>: <message>" lines to
 * stderr. Each line is formatted in a local buffer and written with a single
 * write(2), so lines from threads and processes sharing stderr never mix.
 * Control bytes in the formatted message are replaced so no caller can
 * split a line; untrusted values should still go through log_q().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"

#define LOG_LINE_MAX 2048
#define LOG_ROLE_MAX 32

static char log_role[LOG_ROLE_MAX] = "postern";
static atomic_int log_min = LOG_LEVEL_INFO;

static const char *const log_words[] = {
    [LOG_LEVEL_DEBUG] = "debug",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_ERR] = "error",
};

void
log_init(const char *role, enum log_level min)
{
	str_copy(log_role, role, sizeof(log_role));
	atomic_store(&log_min, (int)min);
}

void
log_set_level(enum log_level min)
{
	atomic_store(&log_min, (int)min);
}

int
log_level_parse(const char *s)
{
	int i;

	for (i = 0; i < (int)(sizeof(log_words) / sizeof(log_words[0])); i++) {
		if (strcmp(s, log_words[i]) == 0)
			return i;
	}
	return -1;
}

/* log_vwrite - format one line and write it with one write(2). */
static void log_vwrite(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t hdr, len, i;
	int n;

	if ((int)lvl < LOG_LEVEL_DEBUG || lvl > LOG_LEVEL_ERR)
		lvl = LOG_LEVEL_ERR;
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL) {
		memset(&tm, 0, sizeof(tm));
		ts.tv_nsec = 0;
	}
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ postern[%ld] %s: %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000L, (long)getpid(), log_role,
	    log_words[lvl]);
	if (n < 0)
		return;
	hdr = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	/* Leave room for "\n" at the end of the line. */
	n = vsnprintf(line + hdr, sizeof(line) - hdr - 1, fmt, ap);
	if (n < 0)
		n = 0;
	len = hdr + (size_t)n;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		/* line is counted by len, never a C string
		 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(line + len - 3, "...", 3);
	}
	for (i = hdr; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	}
	line[len++] = '\n';
	while (write(STDERR_FILENO, line, len) == -1 && errno == EINTR)
		;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl < atomic_load(&log_min))
		return;
	va_start(ap, fmt);
	log_vwrite(lvl, fmt, ap);
	va_end(ap);
}

noreturn void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

/* log_bare - characters that may appear in an unquoted value. */
static int
log_bare(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
	    c == ':' || c == '/' || c == '+' || c == '-' || c == '=';
}

/* log_escape - the quoted form of c into tmp (NUL-terminated); its length. */
static size_t
log_escape(unsigned char c, char tmp[5])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		tmp[2] = '\0';
		return 2;
	}
	if (c < 0x20 || c >= 0x7f) {
		tmp[0] = '\\';
		tmp[1] = 'x';
		tmp[2] = hex[c >> 4];
		tmp[3] = hex[c & 0xf];
		tmp[4] = '\0';
		return 4;
	}
	tmp[0] = (char)c;
	tmp[1] = '\0';
	return 1;
}

/*
 * log_q - an empty or NULL value is rendered as "" so that "key=" never
 * appears; the result always fits outlen (NUL included) and ends in "..."
 * (inside the quotes) when cut.
 */
const char *
log_q(char *out, size_t outlen, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, full, pos, k;
	int bare;
	char tmp[5];

	if (outlen == 0)
		return out;
	if (s == NULL) {
		s = "";
		p = (const unsigned char *)s;
		len = 0;
	}
	if (len == (size_t)-1)
		len = strlen(s);
	bare = len > 0;
	full = 2;
	for (i = 0; i < len; i++) {
		if (!log_bare(p[i]))
			bare = 0;
		full += log_escape(p[i], tmp);
	}
	if (bare) {
		if (len < outlen) {
			memcpy(out, s, len);
			out[len] = '\0';
		} else if (outlen > 3) {
			memcpy(out, s, outlen - 4);
			memcpy(out + outlen - 4, "...", 4);
		} else {
			out[0] = '\0';
		}
		return out;
	}
	/* Too small even for `"..."`: give nothing rather than a broken quote. */
	if (outlen < 6) {
		out[0] = '\0';
		return out;
	}
	pos = 0;
	out[pos++] = '"';
	for (i = 0; i < len; i++) {
		k = log_escape(p[i], tmp);
		/* whole value fits: room for the closing quote and NUL */
		if (full < outlen) {
			memcpy(out + pos, tmp, k);
			pos += k;
			continue;
		}
		/* cut: keep room for `..."` and the NUL */
		if (pos + k + 5 > outlen)
			break;
		memcpy(out + pos, tmp, k);
		pos += k;
	}
	if (full >= outlen) {
		memcpy(out + pos, "...", 3);
		pos += 3;
	}
	out[pos++] = '"';
	out[pos] = '\0';
	return out;
}
