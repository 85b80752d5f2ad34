/*
 * test_msg.c - ipc/msg.h: exact wire bytes, round trips, and a reader that
 * refuses short, oversized, NUL-carrying and over-long frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "ipc/msg.h"

static void
test_wire_bytes(void **state)
{
	static const unsigned char want[] = {
	    0x00, 0x00, 0x00, 0x19,                         /* length: 2 + 23 */
	    0x01, 0x02,                                     /* type 0x0102 */
	    0x7f,                                           /* u8 */
	    0xde, 0xad, 0xbe, 0xef,                         /* u32 */
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* u64 */
	    0x00, 0x00, 0x00, 0x02, 'h', 'i',               /* str */
	    0x00, 0x00, 0x00, 0x00,                         /* NULL str */
	};
	struct buf b;

	buf_init(&b, MSG_FRAME_MAX + MSG_HDR_LEN);
	assert_int_equal(msg_begin(&b, 0x0102), 0);
	assert_int_equal(msg_put_u8(&b, 0x7f), 0);
	assert_int_equal(msg_put_u32(&b, 0xdeadbeef), 0);
	assert_int_equal(msg_put_u64(&b, 0x0102030405060708ULL), 0);
	assert_int_equal(msg_put_str(&b, "hi"), 0);
	assert_int_equal(msg_put_str(&b, NULL), 0);
	assert_int_equal(msg_finish(&b), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(msg_frame_len(want, sizeof(want)), (long)sizeof(want));
	buf_free(&b);
}

static void
test_roundtrip(void **state)
{
	struct msg_reader r;
	struct buf b;
	char s[16], empty[4];
	const unsigned char *blob;
	size_t blen;

	buf_init(&b, 1024);
	assert_int_equal(msg_begin(&b, 101), 0);
	assert_int_equal(msg_put_u64(&b, ~0ULL), 0);
	assert_int_equal(msg_put_u8(&b, 3), 0);
	assert_int_equal(msg_put_blob(&b, "\0\1\2", 3), 0);
	assert_int_equal(msg_put_str(&b, "alice"), 0);
	assert_int_equal(msg_put_str(&b, ""), 0);
	assert_int_equal(msg_put_blob(&b, NULL, 0), 0);
	assert_int_equal(msg_put_u32(&b, 7), 0);
	assert_int_equal(msg_finish(&b), 0);

	assert_int_equal(
	    msg_reader_init(&r, (const unsigned char *)b.data, b.len), 0);
	assert_int_equal(r.type, 101);
	assert_true(msg_get_u64(&r) == ~0ULL);
	assert_int_equal(msg_get_u8(&r), 3);
	blob = msg_get_blob(&r, &blen);
	assert_non_null(blob);
	assert_int_equal(blen, 3);
	assert_memory_equal(blob, "\0\1\2", 3);
	msg_get_str(&r, s, sizeof(s));
	assert_string_equal(s, "alice");
	msg_get_str(&r, empty, sizeof(empty));
	assert_string_equal(empty, "");
	blob = msg_get_blob(&r, &blen);
	assert_non_null(blob);
	assert_int_equal(blen, 0);
	assert_int_equal(msg_end(&r), -1); /* the u32 is still unread */
	assert_int_equal(msg_get_u32(&r), 7);
	assert_int_equal(msg_end(&r), 0);
	/* reading past the end fails and sticks */
	assert_int_equal(msg_get_u8(&r), 0);
	assert_int_equal(msg_end(&r), -1);
	buf_free(&b);
}

/* frame - build raw bytes: length, type, payload. */
static size_t
frame(unsigned char *out, uint32_t len, const void *payload, size_t plen)
{
	out[0] = (unsigned char)(len >> 24);
	out[1] = (unsigned char)(len >> 16);
	out[2] = (unsigned char)(len >> 8);
	out[3] = (unsigned char)len;
	out[4] = 0;
	out[5] = 9;
	memcpy(out + 6, payload, plen);
	return 6 + plen;
}

static void
test_reader_rejects(void **state)
{
	static const struct {
		const char *name;
		const char *payload;
		size_t plen;
		int str_outsize; /* 0: read a u32 instead */
		int init_rc;
		int end_rc;
	} cases[] = {
	    {"ok str", "\0\0\0\2ab", 6, 8, 0, 0},
	    {"str with NUL", "\0\0\0\2a\0", 6, 8, 0, -1},
	    {"str too long for out", "\0\0\0\3abc", 7, 3, 0, -1},
	    {"str fits exactly", "\0\0\0\3abc", 7, 4, 0, 0},
	    {"str length past end", "\0\0\0\5abc", 7, 8, 0, -1},
	    {"str huge length",
	        "\xff\xff\xff\xff"
	        "abc",
	        7, 8, 0, -1},
	    {"short u32", "\0\0\0", 3, 0, 0, -1},
	    {"trailing byte", "\0\0\0\1x", 5, 0, 0, -1},
	    {"exact u32", "\0\0\0\1", 4, 0, 0, 0},
	};
	unsigned char raw[64];
	struct msg_reader r;
	char out[8];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = frame(raw, (uint32_t)(2 + cases[i].plen), cases[i].payload,
		    cases[i].plen);
		assert_int_equal(msg_reader_init(&r, raw, n), cases[i].init_rc);
		if (cases[i].str_outsize > 0) {
			msg_get_str(&r, out, (size_t)cases[i].str_outsize);
			if (cases[i].end_rc != 0)
				assert_string_equal(out, "");
		} else {
			(void)msg_get_u32(&r);
		}
		if (msg_end(&r) != cases[i].end_rc)
			fail_msg("case %s", cases[i].name);
	}
}

static void
test_frame_len(void **state)
{
	static const struct {
		const char *name;
		unsigned char hdr[6];
		size_t avail;
		long want;
	} cases[] = {
	    {"empty", {0}, 0, 0},
	    {"3 bytes", {0, 0, 0}, 3, 0},
	    {"len 2, 4 bytes", {0, 0, 0, 2}, 4, 0},
	    {"len 2, header", {0, 0, 0, 2, 0, 1}, 6, 6},
	    {"len 100", {0, 0, 0, 100, 0, 1}, 6, 104},
	    {"len 0", {0, 0, 0, 0, 0, 1}, 6, -1},
	    {"len 1", {0, 0, 0, 1, 0, 1}, 6, -1},
	    {"len 1 early", {0, 0, 0, 1}, 4, -1},
	    {"max", {0, 1, 0, 0, 0, 1}, 6, MSG_FRAME_MAX + 4},
	    {"max+1", {0, 1, 0, 1, 0, 1}, 6, -1},
	    {"huge", {0xff, 0xff, 0xff, 0xff, 0, 1}, 6, -1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (msg_frame_len(cases[i].hdr, cases[i].avail) !=
		    cases[i].want)
			fail_msg("case %s", cases[i].name);
	}
}

static void
test_reader_init(void **state)
{
	unsigned char raw[16];
	struct msg_reader r;

	/* length field disagrees with n */
	frame(raw, 6, "abcd", 4);
	assert_int_equal(msg_reader_init(&r, raw, 10), 0);
	assert_int_equal(msg_reader_init(&r, raw, 9), -1);
	assert_int_equal(msg_end(&r), -1);
	assert_int_equal(msg_reader_init(&r, raw, 11), -1);
	assert_int_equal(msg_reader_init(&r, raw, 5), -1);
	/* empty payload */
	frame(raw, 2, "", 0);
	assert_int_equal(msg_reader_init(&r, raw, 6), 0);
	assert_int_equal(msg_end(&r), 0);
}

static void
test_writer_limits(void **state)
{
	struct buf b;
	char *big;

	big = calloc(1, MSG_FRAME_MAX + 1);
	assert_non_null(big);
	/* a frame of exactly MSG_FRAME_MAX: type (2) + u32 (4) + blob */
	buf_init(&b, 2 * MSG_FRAME_MAX);
	assert_int_equal(msg_begin(&b, 1), 0);
	assert_int_equal(msg_put_blob(&b, big, MSG_FRAME_MAX - 6), 0);
	assert_int_equal(msg_finish(&b), 0);
	assert_int_equal(
	    msg_frame_len((const unsigned char *)b.data, b.len), (long)b.len);
	/* one byte more fails, and the failure sticks to finish */
	assert_int_equal(msg_begin(&b, 1), 0);
	assert_int_equal(msg_put_blob(&b, big, MSG_FRAME_MAX - 5), -1);
	assert_int_equal(msg_put_u8(&b, 1), -1);
	assert_int_equal(msg_finish(&b), -1);
	/* a later frame on the same buffer is fine again */
	assert_int_equal(msg_begin(&b, 1), 0);
	assert_int_equal(msg_put_u8(&b, 1), 0);
	assert_int_equal(msg_finish(&b), 0);
	buf_free(&b);

	/* the buf cap also poisons the frame */
	buf_init(&b, 10);
	assert_int_equal(msg_begin(&b, 1), 0);
	assert_int_equal(msg_put_u32(&b, 1), 0);
	assert_int_equal(msg_put_u8(&b, 1), -1);
	assert_int_equal(msg_finish(&b), -1);
	buf_free(&b);

	/* puts without begin fail */
	buf_init(&b, 100);
	assert_int_equal(msg_put_u8(&b, 1), -1);
	assert_int_equal(msg_finish(&b), -1);
	buf_free(&b);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_bytes),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_reader_rejects),
	    cmocka_unit_test(test_frame_len),
	    cmocka_unit_test(test_reader_init),
	    cmocka_unit_test(test_writer_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
