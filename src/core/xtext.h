/*
 * xtext.h - RFC 3461 §4 xtext, used by AUTH= (RFC 4954 §5) and DSN ENVID/ORCPT.
 *   xtext = *( xchar / hexchar ); xchar = "!".."~" except "+" and "=";
 *   hexchar = "+" 2(%x30-39 / %x41-46)   (upper-case hex only)
 */
#ifndef POSTERN_CORE_XTEXT_H
#define POSTERN_CORE_XTEXT_H

#include <stddef.h>

/* xtext_decode - decode in[0..n) into out (NUL-terminated); length, or -1 invalid/too small. */
/* ("+00" is rejected as invalid: the output is a C string.) */
long xtext_decode(const char *in, size_t n, char *out, size_t outsize);

/* xtext_encode - encode in[0..n) into out (NUL-terminated); length, or -1 too small. */
long xtext_encode(const char *in, size_t n, char *out, size_t outsize);

#endif
