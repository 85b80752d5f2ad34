/*
 * accounts.h - the client accounts file of postern send / postern sendmail
 * (~/.config/postern/accounts, like msmtp's .msmtprc): named sections
 * "[account NAME]" with server, TLS, identity and where the password comes
 * from. Strict: an unknown key, a duplicate or a bad value is an error with
 * file:line. A file that holds a password itself must not be readable by
 * group or others. Public names: accounts_*, account_*.
 */
#ifndef POSTERN_CLI_ACCOUNTS_H
#define POSTERN_CLI_ACCOUNTS_H

#include <limits.h>
#include <stddef.h>

struct secret;

#define ACCOUNT_NAME_MAX 64

struct account {
	char name[ACCOUNT_NAME_MAX];
	char file[PATH_MAX]; /* where it was read */
	int line;            /* of its section header */
	char server[300];    /* host[:port] */
	char tls[16];        /* "", "starttls", "implicit", "none" */
	char tls_name[256];  /* certificate name to verify, "" = host */
	char user[256];
	char authzid[256];
	char auth[256]; /* mechanisms, "" = automatic */
	char cafile[PATH_MAX];
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char from[512];
	char helo[256];
	char password_command[1024];
	char password_file[PATH_MAX];
	char oauth2_token_command[1024];
	struct secret *password; /* "password =" in the file itself */
};

/*
 * accounts_default_path - the file to read: $POSTERN_ACCOUNTS, else
 * $XDG_CONFIG_HOME/postern/accounts or ~/.config/postern/accounts if it
 * exists, else /etc/postern/accounts if it exists. 1 with out set, 0 if
 * there is none.
 */
int accounts_default_path(char *out, size_t outlen);

/*
 * accounts_load - account name (NULL: the one that "default = NAME" at the
 * top of the file names, or "[account default]") of file path into a.
 * 1 found, 0 no such account (err says so), -1 error (err has file:line).
 * A loaded account must be released with account_clear().
 */
int accounts_load(const char *path, const char *name, struct account *a,
    char *err, size_t errlen);

/* account_clear - wipe the password and reset a. */
void account_clear(struct account *a);

#endif
