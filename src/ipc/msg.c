/*
 * msg.c - framed, typed messages between processes (see msg.h).
 *   frame = u32 length (big-endian, of type + payload) | u16 type | payload
 * Writers: a failed put poisons the frame (the length placeholder becomes
 * all ones) so msg_finish() reports it without a field in struct buf.
 * Readers: every get checks the bytes left first; errors are sticky, and
 * msg_end() also fails on trailing bytes.
 */
#include <string.h>

#include "ipc/msg.h"

#define MSG_POISON 0xffffffffu

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* msg_poison - mark the frame in b as failed; msg_finish() will refuse it. */
static void
msg_poison(struct buf *b)
{
	if (b->data != NULL && b->len >= 4)
		put_be32((unsigned char *)b->data, MSG_POISON);
}

/* msg_put - append n bytes if the frame stays within MSG_FRAME_MAX. */
static int
msg_put(struct buf *b, const void *p, size_t n)
{
	if (b->data == NULL || b->len < MSG_HDR_LEN ||
	    get_be32((const unsigned char *)b->data) == MSG_POISON)
		return -1;
	if (n > MSG_FRAME_MAX || b->len - 4 > MSG_FRAME_MAX - n ||
	    buf_append(b, p, n) == -1) {
		msg_poison(b);
		return -1;
	}
	return 0;
}

int
msg_begin(struct buf *b, uint16_t type)
{
	unsigned char hdr[MSG_HDR_LEN];

	buf_reset(b);
	put_be32(hdr, 0);
	hdr[4] = (unsigned char)(type >> 8);
	hdr[5] = (unsigned char)type;
	return buf_append(b, hdr, sizeof(hdr));
}

int
msg_put_u8(struct buf *b, uint8_t v)
{
	return msg_put(b, &v, 1);
}

int
msg_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	put_be32(p, v);
	return msg_put(b, p, sizeof(p));
}

int
msg_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];

	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
	return msg_put(b, p, sizeof(p));
}

int
msg_put_str(struct buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	return msg_put_blob(b, s, strlen(s));
}

int
msg_put_blob(struct buf *b, const void *p, size_t n)
{
	if (n > MSG_FRAME_MAX) {
		msg_poison(b);
		return -1;
	}
	if (msg_put_u32(b, (uint32_t)n) == -1)
		return -1;
	if (n == 0)
		return 0;
	return msg_put(b, p, n);
}

int
msg_finish(struct buf *b)
{
	size_t flen;

	if (b->data == NULL || b->len < MSG_HDR_LEN)
		return -1;
	if (get_be32((const unsigned char *)b->data) != 0)
		return -1;
	flen = b->len - 4;
	if (flen > MSG_FRAME_MAX)
		return -1;
	put_be32((unsigned char *)b->data, (uint32_t)flen);
	return 0;
}

long
msg_frame_len(const unsigned char *p, size_t avail)
{
	uint32_t flen;

	if (avail < 4)
		return 0;
	flen = get_be32(p);
	if (flen < MSG_HDR_LEN - 4 || flen > MSG_FRAME_MAX)
		return -1;
	if (avail < MSG_HDR_LEN)
		return 0;
	return (long)flen + 4;
}

int
msg_reader_init(struct msg_reader *r, const unsigned char *p, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->err = 1;
	if (n < MSG_HDR_LEN || msg_frame_len(p, n) != (long)n)
		return -1;
	r->type = (uint16_t)(p[4] << 8 | p[5]);
	r->p = p + MSG_HDR_LEN;
	r->len = n - MSG_HDR_LEN;
	r->off = 0;
	r->err = 0;
	return 0;
}

/* msg_take - the next n bytes of the payload, or NULL (and err) if short. */
static const unsigned char *
msg_take(struct msg_reader *r, size_t n)
{
	const unsigned char *p;

	if (r->err || n > r->len - r->off) {
		r->err = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t
msg_get_u8(struct msg_reader *r)
{
	const unsigned char *p;

	p = msg_take(r, 1);
	if (p == NULL)
		return 0;
	return p[0];
}

uint32_t
msg_get_u32(struct msg_reader *r)
{
	const unsigned char *p;

	p = msg_take(r, 4);
	if (p == NULL)
		return 0;
	return get_be32(p);
}

uint64_t
msg_get_u64(struct msg_reader *r)
{
	const unsigned char *p;

	p = msg_take(r, 8);
	if (p == NULL)
		return 0;
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void
msg_get_str(struct msg_reader *r, char *out, size_t outsize)
{
	const unsigned char *p;
	size_t n;

	if (outsize > 0)
		out[0] = '\0';
	p = msg_get_blob(r, &n);
	if (p == NULL)
		return;
	if (n >= outsize || memchr(p, '\0', n) != NULL) {
		r->err = 1;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

const unsigned char *
msg_get_blob(struct msg_reader *r, size_t *len_r)
{
	const unsigned char *p;
	uint32_t n;

	*len_r = 0;
	n = msg_get_u32(r);
	p = msg_take(r, n);
	if (p == NULL)
		return NULL;
	*len_r = n;
	return p;
}

int
msg_end(const struct msg_reader *r)
{
	if (r->err || r->off != r->len)
		return -1;
	return 0;
}
