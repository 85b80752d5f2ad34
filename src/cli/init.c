/*
 * init.c - "postern init DIR": a complete, runnable instance in one
 * directory: postern.conf (relative paths), a self-signed ECDSA P-256
 * certificate and key, an empty users file, spool/ and mail/.
 * Never overwrites: an existing postern.conf is refused, an existing users
 * file or certificate/key pair is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "core/config.h"

#define CERT_DAYS                                                              \
	825 /* the CA/Browser Forum maximum that Apple still accepts */

struct init_opts {
	const char *dir;
	char hostname[256];
	char domain[256];
	struct config_addr submission;
	struct config_addr smtps;
	struct config_addr mx;
	int with_mx;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: postern init DIR [--hostname H] [--domain D]\n"
	    "                        [--submission ADDR:PORT] [--smtps "
	    "ADDR:PORT]\n"
	    "                        [--mx ADDR:PORT]\n"
	    "\n"
	    "Create DIR (and its parents) holding a complete instance:\n"
	    "postern.conf, a self-signed certificate (cert.pem, key.pem), an\n"
	    "empty users file, spool/ and mail/.\n"
	    "\n"
	    "  --hostname H            server name and certificate name "
	    "(localhost)\n"
	    "  --domain D              local domain to accept mail for "
	    "(example.test)\n"
	    "  --submission ADDR:PORT  STARTTLS submission listener "
	    "(127.0.0.1:5870)\n"
	    "  --smtps ADDR:PORT       implicit-TLS submission listener "
	    "(127.0.0.1:4650)\n"
	    "  --mx ADDR:PORT          also an MX listener: no AUTH, local "
	    "domains only\n"
	    "  -h, --help              this text\n");
}

/* ssl_error - the last OpenSSL error as text (or "unknown error"). */
static const char *
ssl_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* mkdir_p - create path and missing parents with mode; 0 or -1 (errno). */
static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);
	struct stat st;

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0) {
			if (errno != EEXIST)
				return -1;
			if (stat(buf, &st) != 0)
				return -1;
			if (!S_ISDIR(st.st_mode)) {
				errno = ENOTDIR;
				return -1;
			}
		}
		if (i < n)
			buf[i] = '/';
	}
	return 0;
}

/* join - "dir/name" into out; -1 if it does not fit. */
static int
join(char *out, size_t outsize, const char *dir, const char *name)
{
	int n = snprintf(out, outsize, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= outsize ? -1 : 0;
}

/* open_new - fdopen a file that must not exist yet, with mode. */
static FILE *
open_new(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (f == NULL) {
		int saved = errno;

		(void)close(fd);
		(void)unlink(path);
		errno = saved;
	}
	return f;
}

/* close_synced - flush, fsync and close f; 0 or -1 (errno). */
static int
close_synced(FILE *f)
{
	int rc = 0, saved = 0;

	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = -1;
		saved = errno;
	}
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc < 0)
		errno = saved;
	return rc;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* make_cert - a self-signed ECDSA P-256 server certificate for hostname. */
static X509 *
make_cert(EVP_PKEY *pkey, const char *hostname)
{
	char san[300];
	X509 *x = X509_new();
	X509_NAME *name;
	BIGNUM *bn = BN_new();
	int ok = 0;

	if (x == NULL || bn == NULL)
		goto out;
	if (strcmp(hostname, "localhost") == 0)
		(void)snprintf(
		    san, sizeof(san), "DNS:%s,IP:127.0.0.1", hostname);
	else
		(void)snprintf(san, sizeof(san), "DNS:%s", hostname);
	/* a positive 159-bit random serial (RFC 5280 §4.1.2.2: <= 20 octets) */
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), CERT_DAYS * 86400L) ==
	        NULL ||
	    X509_set_pubkey(x, pkey) != 1)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	        (const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto out;
	if (add_ext(x, NID_subject_alt_name, san) < 0 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0)
		goto out;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto out;
	ok = 1;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/*
 * write_cert_and_key - generate key.pem (0600, O_EXCL) and cert.pem.
 * Returns 0 (created), 1 (both existed: kept) or -1 (message printed).
 */
static int
write_cert_and_key(const char *dir, const char *hostname)
{
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	FILE *f = NULL;
	int have_cert, have_key, rc = -1;

	if (join(cert_path, sizeof(cert_path), dir, "cert.pem") < 0 ||
	    join(key_path, sizeof(key_path), dir, "key.pem") < 0) {
		fprintf(stderr, "postern init: %s: path too long\n", dir);
		return -1;
	}
	have_cert = access(cert_path, F_OK) == 0;
	have_key = access(key_path, F_OK) == 0;
	if (have_cert && have_key)
		return 1;
	if (have_cert || have_key) {
		fprintf(stderr,
		    "postern init: %s exists without %s; remove it or add the "
		    "other\n",
		    have_cert ? cert_path : key_path,
		    have_cert ? key_path : cert_path);
		return -1;
	}

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL) {
		fprintf(stderr, "postern init: cannot generate a key: %s\n",
		    ssl_error());
		goto out;
	}
	x = make_cert(pkey, hostname);
	if (x == NULL) {
		fprintf(stderr, "postern init: cannot make a certificate: %s\n",
		    ssl_error());
		goto out;
	}

	f = open_new(key_path, 0600);
	if (f == NULL) {
		fprintf(stderr, "postern init: cannot create %s: %s\n",
		    key_path, strerror(errno));
		goto out;
	}
	if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		fprintf(stderr, "postern init: cannot write %s: %s\n", key_path,
		    ssl_error());
		(void)fclose(f);
		(void)unlink(key_path);
		goto out;
	}
	if (close_synced(f) < 0) {
		fprintf(stderr, "postern init: cannot write %s: %s\n", key_path,
		    strerror(errno));
		(void)unlink(key_path);
		goto out;
	}

	f = open_new(cert_path, 0644);
	if (f == NULL) {
		fprintf(stderr, "postern init: cannot create %s: %s\n",
		    cert_path, strerror(errno));
		(void)unlink(key_path);
		goto out;
	}
	if (PEM_write_X509(f, x) != 1 || close_synced(f) < 0) {
		fprintf(stderr, "postern init: cannot write %s\n", cert_path);
		(void)unlink(cert_path);
		(void)unlink(key_path);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

/* write_users - an empty users file (0600); 0 created, 1 kept, -1 error. */
static int
write_users(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;

	if (join(path, sizeof(path), dir, "users") < 0)
		return -1;
	f = open_new(path, 0600);
	if (f == NULL) {
		if (errno == EEXIST)
			return 1;
		fprintf(stderr, "postern init: cannot create %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (close_synced(f) < 0) {
		fprintf(stderr, "postern init: cannot write %s: %s\n", path,
		    strerror(errno));
		(void)unlink(path);
		return -1;
	}
	return 0;
}

static int
make_subdir(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (join(path, sizeof(path), dir, name) < 0 ||
	    (mkdir(path, 0700) != 0 && errno != EEXIST)) {
		fprintf(stderr, "postern init: cannot create %s/%s: %s\n", dir,
		    name, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_conf(const char *path, const struct init_opts *o)
{
	FILE *f = open_new(path, 0644);
	int ok;

	if (f == NULL) {
		fprintf(stderr, "postern init: cannot create %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	ok =
	    fprintf(f,
	        "; postern.conf - written by \"postern init\".\n"
	        "; Relative paths are resolved against this file's directory.\n"
	        "; After a change, run: postern check -c postern.conf\n"
	        "\n"
	        "[server]\n"
	        "hostname = %s\n"
	        "spool = spool\n"
	        "; user = postern            ; drop privileges after binding "
	        "(when root)\n"
	        "; log_level = info          ; debug | info | warn | error\n"
	        "; max_message_size = 35M\n"
	        "\n"
	        "[tls]\n"
	        "; self-signed by postern init: replace both with a real "
	        "certificate\n"
	        "certificate = cert.pem\n"
	        "key = key.pem\n"
	        "; min_version = TLSv1.2\n"
	        "\n"
	        "[auth]\n"
	        "mechanisms = SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN\n"
	        "; manage users with: postern user add|passwd|del|list -c "
	        "postern.conf\n"
	        "passdb = passwd-file:users\n"
	        "; failure_delay = 1s\n"
	        "\n"
	        "[delivery]\n"
	        "local_domains = %s\n"
	        "; %%d = recipient domain, %%n = local part\n"
	        "maildir = mail/%%d/%%n\n"
	        "\n"
	        "; message submission with STARTTLS (RFC 6409; port 587 in "
	        "production)\n"
	        "[listener submission]\n"
	        "address = %s\n"
	        "tls = starttls\n"
	        "auth = required\n"
	        "\n"
	        "; message submission over implicit TLS (RFC 8314; port 465 in "
	        "production)\n"
	        "[listener submissions]\n"
	        "address = %s\n"
	        "tls = implicit\n"
	        "auth = required\n",
	        o->hostname, o->domain, o->submission.text, o->smtps.text) >= 0;
	if (ok && o->with_mx)
		ok = fprintf(f,
		         "\n"
		         "; incoming mail for the local domains: no AUTH (port "
		         "25 in production)\n"
		         "[listener mx]\n"
		         "address = %s\n"
		         "tls = starttls\n"
		         "auth = off\n",
		         o->mx.text) >= 0;
	if (!ok || close_synced(f) < 0) {
		fprintf(stderr, "postern init: cannot write %s: %s\n", path,
		    strerror(errno));
		(void)unlink(path);
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
	    {"hostname", required_argument, NULL, 'H'},
	    {"domain", required_argument, NULL, 'd'},
	    {"submission", required_argument, NULL, 's'},
	    {"smtps", required_argument, NULL, 'S'},
	    {"mx", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sub = "127.0.0.1:5870", *smtps = "127.0.0.1:4650";
	const char *mx = NULL, *host = "localhost", *dom = "example.test";
	size_t i;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'd':
			dom = optarg;
			break;
		case 's':
			sub = optarg;
			break;
		case 'S':
			smtps = optarg;
			break;
		case 'm':
			mx = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "postern init: %s\n",
		    optind >= argc ? "missing DIR" : "too many arguments");
		usage(stderr);
		return -1;
	}
	o->dir = argv[optind];
	if (o->dir[0] == '\0') {
		fprintf(stderr, "postern init: empty DIR\n");
		return -1;
	}
	if (!addr_valid_domain(host, 0) || strchr(host, '[') != NULL ||
	    strlen(host) >= sizeof(o->hostname)) {
		fprintf(stderr, "postern init: '%s' is not a valid host name\n",
		    host);
		return -1;
	}
	if (!addr_valid_domain(dom, 0) || strchr(dom, '[') != NULL ||
	    strlen(dom) >= sizeof(o->domain)) {
		fprintf(
		    stderr, "postern init: '%s' is not a valid domain\n", dom);
		return -1;
	}
	(void)snprintf(o->hostname, sizeof(o->hostname), "%s", host);
	(void)snprintf(o->domain, sizeof(o->domain), "%s", dom);
	/* DNS names are case-insensitive: write them in the usual lower case */
	for (i = 0; o->domain[i] != '\0'; i++)
		if (o->domain[i] >= 'A' && o->domain[i] <= 'Z')
			o->domain[i] = (char)(o->domain[i] - 'A' + 'a');
	for (i = 0; o->hostname[i] != '\0'; i++)
		if (o->hostname[i] >= 'A' && o->hostname[i] <= 'Z')
			o->hostname[i] = (char)(o->hostname[i] - 'A' + 'a');
	if (config_parse_hostport(sub, &o->submission) < 0 ||
	    config_parse_hostport(smtps, &o->smtps) < 0 ||
	    (mx != NULL && config_parse_hostport(mx, &o->mx) < 0)) {
		fprintf(stderr,
		    "postern init: addresses are ADDRESS:PORT, like "
		    "127.0.0.1:587, [::1]:587 or *:587\n");
		return -1;
	}
	o->with_mx = mx != NULL;
	if (strcmp(o->submission.text, o->smtps.text) == 0 ||
	    (o->with_mx &&
	        (strcmp(o->mx.text, o->submission.text) == 0 ||
	            strcmp(o->mx.text, o->smtps.text) == 0))) {
		fprintf(stderr, "postern init: two listeners on one address\n");
		return -1;
	}
	return 0;
}

int
cli_init(int argc, char **argv)
{
	struct init_opts o;
	char conf[PATH_MAX], err[4096];
	struct config *c;
	struct stat st;
	int rc, cert_rc, users_rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (join(conf, sizeof(conf), o.dir, "postern.conf") < 0) {
		fprintf(stderr, "postern init: %s: path too long\n", o.dir);
		return CLI_EXIT_USAGE;
	}
	if (lstat(conf, &st) == 0) {
		fprintf(stderr,
		    "postern init: %s already exists; not touching this "
		    "instance\n",
		    conf);
		return CLI_EXIT_USAGE;
	}
	if (mkdir_p(o.dir, 0755) < 0) {
		fprintf(stderr, "postern init: cannot create %s: %s\n", o.dir,
		    strerror(errno));
		return CLI_EXIT_RUNTIME;
	}

	cert_rc = write_cert_and_key(o.dir, o.hostname);
	if (cert_rc < 0)
		return CLI_EXIT_RUNTIME;
	users_rc = write_users(o.dir);
	if (users_rc < 0 || make_subdir(o.dir, "spool") < 0 ||
	    make_subdir(o.dir, "mail") < 0)
		return CLI_EXIT_RUNTIME;
	/* the configuration last: an interrupted init can simply be rerun */
	if (write_conf(conf, &o) < 0)
		return CLI_EXIT_RUNTIME;

	c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "postern init: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	if (config_load(conf, c, err, sizeof(err)) < 0) {
		fprintf(stderr,
		    "postern init: the written configuration does not load (a "
		    "bug):\n%s\n",
		    err);
		free(c);
		return CLI_EXIT_RUNTIME;
	}

	printf("created %s\n", conf);
	printf("%s %s/cert.pem and %s/key.pem (%s)\n",
	    cert_rc == 0 ? "created" : "kept existing", o.dir, o.dir,
	    cert_rc == 0 ? "self-signed ECDSA P-256" : "not checked");
	printf("%s %s/users\n", users_rc == 0 ? "created" : "kept existing",
	    o.dir);
	printf("created %s/spool/ and %s/mail/\n", o.dir, o.dir);
	printf("\nlisteners: submission %s (STARTTLS), submissions %s "
	       "(implicit TLS)%s%s\n",
	    o.submission.text, o.smtps.text, o.with_mx ? ", mx " : "",
	    o.with_mx ? o.mx.text : "");
	printf("\nnext steps:\n"
	       "  postern user add -c %s user@%s\n"
	       "  postern check -c %s\n"
	       "  postern serve -c %s\n",
	    conf, o.domain, conf, conf);
	free(c);
	return CLI_EXIT_OK;
}
