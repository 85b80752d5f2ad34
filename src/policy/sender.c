/*
 * sender.c - sender ownership (see sender.h). The map is an array sorted by
 * address, searched with bsearch; each entry keeps its logins as one
 * lower-cased, comma-separated string. Bounded: line count and file size
 * are capped, over-long fields are errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/str.h"
#include "policy/sender.h"

#define FIELD_MAX 1024

struct sender_entry {
	char *address; /* lower-cased; "@domain" for a domain grant */
	char *logins;  /* lower-cased, ",login,login," (fenced) */
};

struct sender_map {
	struct sender_entry *v;
	size_t n;
};

const char *
sender_via_name(enum sender_via v)
{
	switch (v) {
	case SENDER_VIA_LOGIN:
		return "login";
	case SENDER_VIA_ALIAS:
		return "alias";
	case SENDER_VIA_DOMAIN:
		return "domain";
	case SENDER_VIA_MAP:
		return "map";
	case SENDER_VIA_NULL:
		return "null";
	case SENDER_DENIED:
	default:
		return "denied";
	}
}

/* domain_of - the part after the last '@' of address, or NULL. */
static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL && at != address && at[1] != '\0' ? at + 1 : NULL;
}

enum sender_via
sender_check(const char *login, const char *const *senders,
    const struct sender_map *map, int allow_null, const char *address)
{
	const char *dom;
	size_t i;

	if (address[0] == '\0')
		return allow_null ? SENDER_VIA_NULL : SENDER_DENIED;
	dom = domain_of(address);
	if (dom == NULL)
		return SENDER_DENIED;
	if (login != NULL && str_ieq(login, address))
		return SENDER_VIA_LOGIN;
	for (i = 0; senders != NULL && senders[i] != NULL; i++) {
		const char *e = senders[i];

		if (e[0] == '@' && str_ieq(e + 1, dom))
			return SENDER_VIA_DOMAIN;
		if (e[0] != '@' && str_ieq(e, address))
			return SENDER_VIA_ALIAS;
	}
	if (map != NULL && login != NULL &&
	    sender_map_permits(map, login, address))
		return SENDER_VIA_MAP;
	return SENDER_DENIED;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sender_entry *)a)->address,
	    ((const struct sender_entry *)b)->address);
}

void
sender_map_free(struct sender_map *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].address);
		free(m->v[i].logins);
	}
	free(m->v);
	free(m);
}

static void
set_err(char *err, size_t errlen, size_t line, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "line %zu: %s", line, what);
}

/* parse_logins - "a, b,c" -> ",a,b,c," lower-cased; NULL on error. */
static char *
parse_logins(const char *p, size_t n)
{
	char *out = malloc(n + 3), *w;
	size_t i, words = 0;
	int in_word = 0;

	if (out == NULL)
		return NULL;
	w = out;
	*w++ = ',';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ',' || c == ' ' || c == '\t') {
			if (in_word)
				*w++ = ',';
			in_word = 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			free(out);
			return NULL;
		}
		if (!in_word)
			words++;
		in_word = 1;
		*w++ = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	if (in_word)
		*w++ = ',';
	*w = '\0';
	if (words == 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int
valid_key(const char *k)
{
	struct mailaddr a;

	if (k[0] == '@')
		return addr_valid_domain(k + 1, ADDR_F_UTF8);
	return addr_parse_mailbox(k, strlen(k), ADDR_F_UTF8, &a) == 0;
}

struct sender_map *
sender_map_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct sender_map *m = calloc(1, sizeof(*m));
	size_t cap = 0, line = 0, off = 0;

	if (m == NULL) {
		set_err(err, errlen, 0, "out of memory");
		return NULL;
	}
	while (off < len) {
		const char *p = text + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - off;
		char key[FIELD_MAX];
		size_t k;

		off += n + (nl != NULL ? 1 : 0);
		if (++line > SENDER_MAP_MAX_LINES) {
			set_err(err, errlen, line, "too many lines");
			goto fail;
		}
		if (n > 0 && p[n - 1] == '\r')
			n--;
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n == 0 || *p == '#')
			continue;
		k = 0;
		while (k < n && p[k] != ' ' && p[k] != '\t')
			k++;
		if (k >= sizeof(key) || n >= FIELD_MAX * 8) {
			set_err(err, errlen, line, "line too long");
			goto fail;
		}
		memcpy(key, p, k);
		key[k] = '\0';
		str_lower(key);
		if (!valid_key(key)) {
			set_err(err, errlen, line,
			    "expected an address or @domain first");
			goto fail;
		}
		if (m->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct sender_entry *v =
			    reallocarray(m->v, nc, sizeof(*v));

			if (v == NULL) {
				set_err(err, errlen, line, "out of memory");
				goto fail;
			}
			m->v = v;
			cap = nc;
		}
		m->v[m->n].logins = parse_logins(p + k, n - k);
		if (m->v[m->n].logins == NULL) {
			set_err(err, errlen, line,
			    "expected 'address login[,login...]'");
			goto fail;
		}
		m->v[m->n].address = strdup(key);
		if (m->v[m->n].address == NULL) {
			free(m->v[m->n].logins);
			set_err(err, errlen, line, "out of memory");
			goto fail;
		}
		m->n++;
	}
	if (m->n > 0) /* an empty map has m->v == NULL: not for qsort */
		qsort(m->v, m->n, sizeof(*m->v), entry_cmp);
	for (off = 1; off < m->n; off++) {
		if (strcmp(m->v[off - 1].address, m->v[off].address) == 0) {
			char what[FIELD_MAX + 32];

			snprintf(what, sizeof(what), "%s listed twice",
			    m->v[off].address);
			set_err(err, errlen, 0, what);
			goto fail;
		}
	}
	return m;
fail:
	sender_map_free(m);
	return NULL;
}

struct sender_map *
sender_map_load(const char *path, char *err, size_t errlen)
{
	struct sender_map *m;
	struct stat sb;
	char *text;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (sb.st_size < 0 ||
	    (unsigned long long)sb.st_size > SENDER_MAP_FILE_MAX) {
		snprintf(err, errlen, "%s: too big", path);
		close(fd);
		return NULL;
	}
	text = malloc((size_t)sb.st_size + 1);
	if (text == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, text + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	m = sender_map_parse(text, got, err, errlen);
	free(text);
	return m;
}

static const struct sender_entry *
map_find(const struct sender_map *m, const char *key)
{
	struct sender_entry probe;

	if (m->n == 0) /* m->v is NULL: not for bsearch */
		return NULL;
	probe.address = (char *)(uintptr_t)key;
	probe.logins = NULL;
	return bsearch(&probe, m->v, m->n, sizeof(*m->v), entry_cmp);
}

/* logins_have - 1 if the fenced list ",a,b," holds login (lower-cased). */
static int
logins_have(const char *list, const char *login)
{
	size_t n = strlen(login);
	const char *p = list;

	while ((p = strstr(p, login)) != NULL) {
		if (p > list && p[-1] == ',' && p[n] == ',')
			return 1;
		p++;
	}
	return 0;
}

int
sender_map_permits(
    const struct sender_map *m, const char *login, const char *address)
{
	char a[ADDR_PATH_MAX + 2], l[ADDR_PATH_MAX + 2];
	const struct sender_entry *e;
	const char *dom;

	if (m == NULL || m->n == 0 || login[0] == '\0' ||
	    str_copy(a, address, sizeof(a)) >= sizeof(a) ||
	    str_copy(l, login, sizeof(l)) >= sizeof(l) ||
	    strchr(l, ',') != NULL)
		return 0;
	str_lower(a);
	str_lower(l);
	e = map_find(m, a);
	if (e != NULL && logins_have(e->logins, l))
		return 1;
	dom = domain_of(a);
	if (dom == NULL)
		return 0;
	e = map_find(m, dom - 1); /* "@domain" */
	return e != NULL && logins_have(e->logins, l);
}

size_t
sender_map_grants(
    const struct sender_map *m, const char *login, const char **out, size_t max)
{
	char l[ADDR_PATH_MAX + 2];
	size_t i, n = 0;

	if (m == NULL || str_copy(l, login, sizeof(l)) >= sizeof(l))
		return 0;
	str_lower(l);
	for (i = 0; i < m->n && n < max; i++)
		if (logins_have(m->v[i].logins, l))
			out[n++] = m->v[i].address;
	return n;
}

size_t
sender_map_size(const struct sender_map *m)
{
	return m != NULL ? m->n : 0;
}
