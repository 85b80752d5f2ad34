/*
 * test_log.c - log.h: line format, levels, one line per call, log_q().
 * stderr is redirected to a temporary file for the checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <regex.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

static int saved_fd = -1;
static FILE *capture;

/* start_capture - point fd 2 at a fresh temporary file. */
static void
start_capture(void)
{
	capture = tmpfile();
	assert_non_null(capture);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

/* end_capture - restore stderr and return what was written (malloc'd). */
static char *
end_capture(size_t *len_r)
{
	char *p;
	long n;

	assert_true(dup2(saved_fd, STDERR_FILENO) >= 0);
	close(saved_fd);
	fseek(capture, 0, SEEK_END);
	n = ftell(capture);
	assert_true(n >= 0);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	rewind(capture);
	assert_int_equal(fread(p, 1, (size_t)n, capture), (size_t)n);
	p[n] = '\0';
	fclose(capture);
	*len_r = (size_t)n;
	return p;
}

static void
test_format(void **state)
{
	regex_t re;
	char *out, want[256];
	size_t len;

	log_init("worker1", LOG_LEVEL_DEBUG);
	start_capture();
	log_info("session=%s event=%s", "abc", "connect");
	out = end_capture(&len);
	snprintf(want, sizeof(want),
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
	    "Z "
	    "postern\\[%ld\\] worker1: info: session=abc event=connect\n$",
	    (long)getpid());
	assert_int_equal(regcomp(&re, want, REG_EXTENDED), 0);
	if (regexec(&re, out, 0, NULL, 0) != 0)
		fail_msg("line does not match: %s", out);
	regfree(&re);
	free(out);
}

static void
test_levels(void **state)
{
	static const struct {
		enum log_level min;
		const char *want;
	} cases[] = {
	    {LOG_LEVEL_DEBUG, "debug: d|info: i|warn: w|error: e|"},
	    {LOG_LEVEL_INFO, "info: i|warn: w|error: e|"},
	    {LOG_LEVEL_WARN, "warn: w|error: e|"},
	    {LOG_LEVEL_ERR, "error: e|"},
	};
	char got[256], *out, *line, *save;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_init("t", LOG_LEVEL_DEBUG);
		log_set_level(cases[i].min);
		start_capture();
		log_debug("d");
		log_info("i");
		log_warn("w");
		log_err("e");
		out = end_capture(&len);
		got[0] = '\0';
		for (line = strtok_r(out, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			strcat(got, strstr(line, " t: ") + 4);
			strcat(got, "|");
		}
		assert_string_equal(got, cases[i].want);
		free(out);
	}
}

static void
test_level_parse(void **state)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
	    {"debug", LOG_LEVEL_DEBUG},
	    {"info", LOG_LEVEL_INFO},
	    {"warn", LOG_LEVEL_WARN},
	    {"error", LOG_LEVEL_ERR},
	    {"ERROR", -1},
	    {"warning", -1},
	    {"", -1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(log_level_parse(cases[i].s), cases[i].want);
}

static void
test_long_and_control(void **state)
{
	char big[5000], *out;
	size_t len;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init("t", LOG_LEVEL_DEBUG);
	start_capture();
	log_info("v=%s", big);
	log_info("a\nfake: error: injected\rb\x1b[0m");
	out = end_capture(&len);
	/* first line cut to 2047 bytes + "\n", ends in "..." */
	assert_non_null(strchr(out, '\n'));
	assert_int_equal((size_t)(strchr(out, '\n') - out), 2046);
	assert_memory_equal(strchr(out, '\n') - 3, "...", 3);
	/* second line: controls replaced, still one line */
	assert_non_null(strstr(out, "info: a?fake: error: injected?b?[0m\n"));
	assert_int_equal(out[len - 1], '\n');
	assert_ptr_equal(strchr(strchr(out, '\n') + 1, '\n'), out + len - 1);
	free(out);
}

static void
test_q(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		size_t outlen;
		const char *want;
	} cases[] = {
	    {"alice@example.com", (size_t)-1, 64, "alice@example.com"},
	    {"a.b_c:d/e+f-g=h", (size_t)-1, 64, "a.b_c:d/e+f-g=h"},
	    {"", (size_t)-1, 64, "\"\""},
	    {"two words", (size_t)-1, 64, "\"two words\""},
	    {"a\"b\\c", (size_t)-1, 64, "\"a\\\"b\\\\c\""},
	    {"x\r\ny=1", (size_t)-1, 64, "\"x\\x0d\\x0ay=1\""},
	    {"\xc3\xa9", (size_t)-1, 64, "\"\\xc3\\xa9\""},
	    {"a\0b", 3, 64, "\"a\\x00b\""},
	    {"abcdef", 3, 64, "abc"},
	    /* truncation: bare */
	    {"abcdefghij", (size_t)-1, 11, "abcdefghij"},
	    {"abcdefghij", (size_t)-1, 10, "abcdef..."},
	    /* truncation: quoted keeps the closing quote */
	    {"a b", (size_t)-1, 6, "\"a b\""},
	    {"a bcdefgh", (size_t)-1, 10, "\"a bc...\""},
	    {"a\nbcdefgh", (size_t)-1, 10, "\"a...\""},
	    {"a bcdefgh", (size_t)-1, 5, ""},
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'Z', sizeof(out));
		assert_ptr_equal(
		    log_q(out, cases[i].outlen, cases[i].in, cases[i].len),
		    out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("log_q case %zu: got [%s] want [%s]", i, out,
			    cases[i].want);
		assert_true(strlen(out) < cases[i].outlen);
	}
	assert_string_equal(log_q(out, sizeof(out), NULL, 0), "\"\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_level_parse),
	    cmocka_unit_test(test_long_and_control),
	    cmocka_unit_test(test_q),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
