/*
 * fuzz_msg.c - the IPC reader against a compromised peer: arbitrary bytes
 * as a frame, read with a field list chosen by the frame type (the shapes
 * of ipc/proto.h). It must never read outside the frame, and whatever it
 * accepts must re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "ipc/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELD_MAX 32

struct field {
	char kind; /* 'b' u8, 'w' u32, 'q' u64, 's' str, 'x' blob */
	uint64_t v;
	const unsigned char *p;
	size_t n;
	char s[256];
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* field lists of ipc/proto.h, by type; others take one by modulo */
	static const struct {
		uint16_t type;
		const char *shape;
	} shapes[] = {
	    {1, "qssbxsbsxxsb"}, /* PROTO_AUTH_START */
	    {2, "qx"},           /* PROTO_AUTH_STEP */
	    {3, "q"},            /* PROTO_AUTH_CANCEL */
	    {4, "qss"},          /* PROTO_RCPT_LOOKUP */
	    {101, "qbxss"},      /* PROTO_AUTH_RESULT */
	    {102, "qbs"},        /* PROTO_RCPT_RESULT */
	    {103, "wswsw"},      /* PROTO_MECHS with n = 2 */
	    {0, ""},
	};
	const size_t nshapes = sizeof(shapes) / sizeof(shapes[0]);
	struct field f[FIELD_MAX];
	struct msg_reader r;
	struct buf b;
	const char *shape;
	unsigned char *copy;
	size_t i, nf;
	long flen;

	if (size > MSG_FRAME_MAX + MSG_HDR_LEN + 16)
		return 0;
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);

	flen = msg_frame_len(copy, size);
	if (flen > 0 && (size_t)flen > MSG_FRAME_MAX + 4)
		abort();
	if (flen > 0 && (size_t)flen <= size &&
	    msg_reader_init(&r, copy, (size_t)flen) == 0) {
		shape = shapes[r.type % nshapes].shape;
		for (i = 0; i < nshapes; i++) {
			if (shapes[i].type == r.type)
				shape = shapes[i].shape;
		}
		nf = strlen(shape);
		for (i = 0; i < nf; i++) {
			f[i].kind = shape[i];
			switch (shape[i]) {
			case 'b':
				f[i].v = msg_get_u8(&r);
				break;
			case 'w':
				f[i].v = msg_get_u32(&r);
				break;
			case 'q':
				f[i].v = msg_get_u64(&r);
				break;
			case 's':
				msg_get_str(&r, f[i].s, sizeof(f[i].s));
				if (strlen(f[i].s) >= sizeof(f[i].s))
					abort();
				break;
			default:
				f[i].p = msg_get_blob(&r, &f[i].n);
				if (f[i].p != NULL &&
				    (f[i].p < copy ||
				        f[i].p + f[i].n > copy + (size_t)flen))
					abort();
				break;
			}
		}
		if (msg_end(&r) == 0) {
			buf_init(&b, MSG_FRAME_MAX + MSG_HDR_LEN);
			if (msg_begin(&b, r.type) != 0)
				abort();
			for (i = 0; i < nf; i++) {
				switch (f[i].kind) {
				case 'b':
					msg_put_u8(&b, (uint8_t)f[i].v);
					break;
				case 'w':
					msg_put_u32(&b, (uint32_t)f[i].v);
					break;
				case 'q':
					msg_put_u64(&b, f[i].v);
					break;
				case 's':
					msg_put_str(&b, f[i].s);
					break;
				default:
					msg_put_blob(&b, f[i].p, f[i].n);
					break;
				}
			}
			if (msg_finish(&b) != 0 || b.len != (size_t)flen ||
			    memcmp(b.data, copy, b.len) != 0)
				abort();
			buf_free(&b);
		}
	}
	free(copy);
	return 0;
}
