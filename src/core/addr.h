/*
 * addr.h - RFC 5321 §4.1.2 paths and mailboxes (with RFC 6531 UTF-8 when allowed).
 *   Path = "<" [ A-d-l ":" ] Mailbox ">"      (source routes accepted, ignored)
 *   Mailbox = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 * One success exit per validator; anything accepted has no control characters.
 */
#ifndef POSTERN_CORE_ADDR_H
#define POSTERN_CORE_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX  64  /* RFC 5321 §4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255 /* RFC 5321 §4.5.3.1.2 */
#define ADDR_PATH_MAX   256 /* RFC 5321 §4.5.3.1.3, incl. "<" and ">" */

struct mailaddr {
	char local[ADDR_LOCAL_MAX + 1];   /* as sent (quoted form kept) */
	char domain[ADDR_DOMAIN_MAX + 1]; /* as sent; "" for the null path */
};

#define ADDR_F_UTF8                                                            \
	0x01 /* SMTPUTF8 given: allow UTF-8 in local part and domain */
#define ADDR_F_ALLOW_NULL 0x02 /* "<>" is valid (MAIL FROM) */
#define ADDR_F_NO_DOMAIN                                                       \
	0x04 /* "<Postmaster>" form allowed (RCPT TO, RFC 5321 §4.1.1.3) */

/*
 * addr_parse_path - parse a path at s[0..len): must start with '<'.
 * On success fills out and *consumed_r (bytes up to and including '>'), returns 0.
 * Returns -1 on any syntax error or over-long part. A null path gives local = domain = "".
 * "<Postmaster>" (case-insensitive, only with ADDR_F_NO_DOMAIN) gives local "Postmaster", domain "".
 */
int addr_parse_path(const char *s, size_t len, unsigned int flags,
    struct mailaddr *out, size_t *consumed_r);

/* addr_parse_mailbox - parse a bare "local@domain" (no brackets) filling the whole s[0..len); 0 or -1. */
int addr_parse_mailbox(
    const char *s, size_t len, unsigned int flags, struct mailaddr *out);

/* addr_valid_domain - 1 if s is a syntactically valid domain or address literal, else 0. */
int addr_valid_domain(const char *s, unsigned int flags);

/* addr_format - write "local@domain" (or "" for the null path) into out; length or -1. */
long addr_format(const struct mailaddr *a, char *out, size_t outsize);

/* addr_is_null - 1 for the null reverse path "<>". */
int addr_is_null(const struct mailaddr *a);

#endif
