/*
 * userfile.h - the Dovecot-compatible passwd-file, read and written:
 *   user:password:uid:gid:gecos:home:shell:extra_fields
 * Only user and password are required; later fields are kept verbatim.
 * '#' comments and blank lines are kept when the file is rewritten.
 * Writes are atomic (temp file, fsync, rename, fsync of the directory), mode 0600.
 */
#ifndef POSTERN_AUTH_USERFILE_H
#define POSTERN_AUTH_USERFILE_H

#include <stddef.h>

struct userfile_line {
	char *raw;      /* comment/blank line verbatim, or NULL for an entry */
	char *user;     /* entry: login name as written */
	char *password; /* entry: "{SCHEME}data" or crypt string */
	char
	    *rest; /* entry: everything after the password's ':' ("" if none) */
	int lineno;
};

struct userfile {
	struct userfile_line *lines;
	size_t n;
	size_t cap;
};

/* userfile_load - parse path; a missing file is an empty userfile. 0, or -1 with "path:line: what" in err. */
int userfile_load(
    const char *path, struct userfile *uf, char *err, size_t errlen);

/* userfile_save - atomically replace path with uf (mode 0600); 0 or -1 with err. */
int userfile_save(
    const char *path, const struct userfile *uf, char *err, size_t errlen);

/* userfile_find - the entry for user (ASCII case-insensitive), or NULL. */
struct userfile_line *userfile_find(struct userfile *uf, const char *user);

/* userfile_set - add user or replace its password (other fields kept); 0 or -1 (ENOMEM or bad name). */
int userfile_set(struct userfile *uf, const char *user, const char *password);

/*
 * userfile_set_field - in l's extra fields (the 8th, space separated), replace
 * every "key=..." (key compared ignoring case) with "key=value", or remove
 * them when value is NULL. value must not hold whitespace or ':'. 0 or -1.
 */
int userfile_set_field(
    struct userfile_line *l, const char *key, const char *value);

/* userfile_del - remove user; 0, or -1 if absent. */
int userfile_del(struct userfile *uf, const char *user);

/* userfile_valid_name - 1 if name can be a login: 1..255 octets, no ':', whitespace or control characters. */
int userfile_valid_name(const char *name);

/* userfile_free - wipe password fields and free everything; uf becomes empty. */
void userfile_free(struct userfile *uf);

#endif
