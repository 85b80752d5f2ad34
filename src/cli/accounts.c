/*
 * accounts.c - parser of the client accounts file (see accounts.h).
 *
 *   file    = *( line )
 *   line    = blank / comment / "default" "=" NAME / section / key "=" value
 *   section = "[" "account" 1*SP NAME "]"
 *   comment = ( "#" / ";" ) *CHAR          (whole lines only: a value may
 *                                          contain "#", e.g. in a command)
 *
 * Every account is checked, not only the one asked for, so a mistake is
 * found the first time the file is used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/accounts.h"
#include "core/secret.h"
#include "core/str.h"

#define ACCOUNTS_LINE_MAX 4096
#define ACCOUNTS_MAX      256

struct key_def {
	const char *name;
	size_t off;
	size_t size;
};

#define KEY(n, field)                                                          \
	{                                                                      \
		n, offsetof(struct account, field),                            \
		    sizeof(((struct account *)0)->field)                       \
	}

static const struct key_def keys[] = {
    KEY("server", server),
    KEY("tls", tls),
    KEY("tls_name", tls_name),
    KEY("user", user),
    KEY("authzid", authzid),
    KEY("auth", auth),
    KEY("cafile", cafile),
    KEY("cert", cert),
    KEY("key", key),
    KEY("from", from),
    KEY("helo", helo),
    KEY("password_command", password_command),
    KEY("password_file", password_file),
    KEY("oauth2_token_command", oauth2_token_command),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

int
accounts_default_path(char *out, size_t outlen)
{
	const char *env = getenv("POSTERN_ACCOUNTS");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env != NULL && env[0] != '\0') {
		str_copy(out, env, outlen);
		return 1;
	}
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, outlen, "%s/postern/accounts", xdg);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(out, outlen, "%s/.config/postern/accounts", home);
	else
		n = -1;
	if (n > 0 && (size_t)n < outlen && access(out, F_OK) == 0)
		return 1;
	if (access("/etc/postern/accounts", F_OK) == 0) {
		str_copy(out, "/etc/postern/accounts", outlen);
		return 1;
	}
	return 0;
}

void
account_clear(struct account *a)
{
	secret_free(a->password);
	memset(a, 0, sizeof(*a));
}

/* name_ok - an account name: 1-63 of [A-Za-z0-9._-]. */
static int
name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= ACCOUNT_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		        ch == '-'))
			return 0;
	}
	return 1;
}

/* check_account - an account, once its whole section is read. */
static int
check_account(
    const struct account *a, const char *path, char *err, size_t errlen)
{
	if (a->server[0] == '\0') {
		snprintf(err, errlen, "%s:%d: account %s has no server", path,
		    a->line, a->name);
		return -1;
	}
	if (a->tls[0] != '\0' && strcmp(a->tls, "starttls") != 0 &&
	    strcmp(a->tls, "implicit") != 0 && strcmp(a->tls, "none") != 0) {
		snprintf(err, errlen,
		    "%s:%d: account %s: tls must be starttls, implicit or none",
		    path, a->line, a->name);
		return -1;
	}
	return 0;
}

/* unquote - a value in double quotes loses them (to keep spaces). */
static char *
unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

struct parse {
	const char *path;
	const char *want; /* NULL: the default */
	char deflt[ACCOUNT_NAME_MAX];
	char names[ACCOUNTS_MAX][ACCOUNT_NAME_MAX];
	size_t nnames;
	struct account cur;
	int in_section;
	unsigned int seen; /* bit per key of the current section */
	int has_password;
	int found;
	struct account *out;
};

/* end_section - check the account just read; keep it if it is wanted. */
static int
end_section(struct parse *p, char *err, size_t errlen)
{
	const char *want = p->want != NULL ? p->want
	    : p->deflt[0] != '\0'          ? p->deflt
	                                   : "default";

	if (!p->in_section)
		return 0;
	p->in_section = 0;
	if (check_account(&p->cur, p->path, err, errlen) < 0)
		return -1;
	if (strcmp(p->cur.name, want) == 0) {
		*p->out = p->cur;
		p->cur.password = NULL; /* moved */
		p->found = 1;
	}
	account_clear(&p->cur);
	return 0;
}

static int
parse_line(struct parse *p, char *line, int lineno, char *err, size_t errlen)
{
	char *s = str_trim(line), *eq, *k, *v;
	size_t i;

	if (s[0] == '\0' || s[0] == '#' || s[0] == ';')
		return 0;
	if (s[0] == '[') {
		size_t n = strlen(s);
		char *name;

		if (end_section(p, err, errlen) < 0)
			return -1;
		if (s[n - 1] != ']' || strncmp(s, "[account", 8) != 0 ||
		    (s[8] != ' ' && s[8] != '\t')) {
			snprintf(err, errlen, "%s:%d: expected [account NAME]",
			    p->path, lineno);
			return -1;
		}
		s[n - 1] = '\0';
		name = str_trim(s + 9);
		if (!name_ok(name)) {
			snprintf(err, errlen, "%s:%d: bad account name",
			    p->path, lineno);
			return -1;
		}
		for (i = 0; i < p->nnames; i++) {
			if (strcmp(p->names[i], name) == 0) {
				snprintf(err, errlen,
				    "%s:%d: account %s is defined twice",
				    p->path, lineno, name);
				return -1;
			}
		}
		if (p->nnames >= ACCOUNTS_MAX) {
			snprintf(err, errlen, "%s:%d: too many accounts",
			    p->path, lineno);
			return -1;
		}
		str_copy(p->names[p->nnames++], name, ACCOUNT_NAME_MAX);
		memset(&p->cur, 0, sizeof(p->cur));
		str_copy(p->cur.name, name, sizeof(p->cur.name));
		str_copy(p->cur.file, p->path, sizeof(p->cur.file));
		p->cur.line = lineno;
		p->in_section = 1;
		p->seen = 0;
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "%s:%d: expected key = value", p->path,
		    lineno);
		return -1;
	}
	*eq = '\0';
	k = str_trim(s);
	v = unquote(str_trim(eq + 1));
	if (!p->in_section) {
		if (strcmp(k, "default") != 0 || !name_ok(v) ||
		    p->deflt[0] != '\0') {
			snprintf(err, errlen,
			    "%s:%d: only \"default = NAME\" may come before "
			    "the first [account NAME]",
			    p->path, lineno);
			return -1;
		}
		str_copy(p->deflt, v, sizeof(p->deflt));
		return 0;
	}
	if (strcmp(k, "password") == 0) {
		if (p->cur.password != NULL || v[0] == '\0') {
			snprintf(err, errlen, "%s:%d: %s", p->path, lineno,
			    v[0] == '\0' ? "empty password"
			                 : "password given twice");
			return -1;
		}
		p->cur.password = secret_new(v, strlen(v));
		secret_wipe(v, strlen(v));
		if (p->cur.password == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p->has_password = 1;
		return 0;
	}
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(k, keys[i].name) != 0)
			continue;
		if ((p->seen & (1u << i)) != 0) {
			snprintf(err, errlen, "%s:%d: %s given twice", p->path,
			    lineno, k);
			return -1;
		}
		p->seen |= 1u << i;
		if (strlen(v) >= keys[i].size) {
			snprintf(err, errlen, "%s:%d: %s is too long", p->path,
			    lineno, k);
			return -1;
		}
		str_copy((char *)&p->cur + keys[i].off, v, keys[i].size);
		return 0;
	}
	snprintf(err, errlen, "%s:%d: unknown key '%s'", p->path, lineno, k);
	return -1;
}

int
accounts_load(const char *path, const char *name, struct account *a, char *err,
    size_t errlen)
{
	struct parse *p;
	struct stat st;
	char line[ACCOUNTS_LINE_MAX];
	FILE *f;
	int lineno = 0, rc = -1;

	memset(a, 0, sizeof(*a));
	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		fclose(f);
		return -1;
	}
	p->path = path;
	p->want = name;
	p->out = a;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(
			    err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		if (parse_line(p, line, lineno, err, errlen) < 0)
			goto out;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (end_section(p, err, errlen) < 0)
		goto out;
	if (p->deflt[0] != '\0' && name == NULL && !p->found) {
		snprintf(err, errlen, "%s: default account %s is not defined",
		    path, p->deflt);
		goto out;
	}
	if (p->has_password &&
	    (fstat(fileno(f), &st) == -1 || (st.st_mode & 077) != 0)) {
		snprintf(err, errlen,
		    "%s contains a password but others can read it "
		    "(chmod 600 %s, or use password_command)",
		    path, path);
		goto out;
	}
	if (!p->found) {
		snprintf(err, errlen, "%s: no account %s", path,
		    name != NULL ? name : "default");
		rc = 0;
		goto out;
	}
	rc = 1;
out:
	secret_wipe(line, sizeof(line));
	if (rc != 1)
		account_clear(a);
	account_clear(&p->cur);
	free(p);
	fclose(f);
	return rc;
}
