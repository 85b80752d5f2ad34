/*
 * msg.h - typed messages between processes. A frame is
 *   u32 length (of type + payload, big-endian) | u16 type | payload
 * and payload fields are written and read by the per-field helpers below,
 * never by copying structs. A reader fails on short data and, at msg_end(),
 * on trailing bytes: a compromised worker cannot confuse the auth service.
 */
#ifndef POSTERN_IPC_MSG_H
#define POSTERN_IPC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define MSG_FRAME_MAX (64 * 1024) /* type + payload */
#define MSG_HDR_LEN   6

/* msg_begin - reset b and write a frame header for type (length patched by msg_finish). */
int msg_begin(struct buf *b, uint16_t type);
int msg_put_u8(struct buf *b, uint8_t v);
int msg_put_u32(struct buf *b, uint32_t v);
int msg_put_u64(struct buf *b, uint64_t v);
/* msg_put_str - u32 length + bytes; s may be NULL (sent as empty). */
int msg_put_str(struct buf *b, const char *s);
/* msg_put_blob - u32 length + bytes. */
int msg_put_blob(struct buf *b, const void *p, size_t n);
/* msg_finish - patch the length; 0, or -1 if any put failed or the frame is too big. */
int msg_finish(struct buf *b);

struct msg_reader {
	const unsigned char *p; /* payload */
	size_t len;
	size_t off;
	int err; /* sticky: any failed get sets it */
	uint16_t type;
};

/*
 * msg_frame_len - given the first avail bytes of a stream, the total frame
 * size (header included) if the header is complete, 0 if more is needed,
 * -1 if the announced length is invalid.
 */
long msg_frame_len(const unsigned char *p, size_t avail);

/* msg_reader_init - start reading the complete frame at p (n bytes); 0 or -1. */
int msg_reader_init(struct msg_reader *r, const unsigned char *p, size_t n);
uint8_t msg_get_u8(struct msg_reader *r);
uint32_t msg_get_u32(struct msg_reader *r);
uint64_t msg_get_u64(struct msg_reader *r);
/* msg_get_str - copy a string into out (NUL-terminated); fails (err) if it has NUL or does not fit. */
void msg_get_str(struct msg_reader *r, char *out, size_t outsize);
/* msg_get_blob - pointer into the frame and length; NULL on error. */
const unsigned char *msg_get_blob(struct msg_reader *r, size_t *len_r);
/* msg_end - 0 if every get succeeded and no byte is left, else -1. */
int msg_end(const struct msg_reader *r);

#endif
