/*
 * user_db.h - "postern user" beyond the passwd-file (user_db.c): the SQLite
 * passdb, app passwords, generated passwords and the password policy.
 * reader is user.c's password prompt (stdin line or twice on the tty).
 */
#ifndef POSTERN_CLI_USER_DB_H
#define POSTERN_CLI_USER_DB_H

struct config;
struct secret;
struct userfile_line;

/* cli_new_password - generated (printed once) or read and checked by the policy; NULL on refusal. */
struct secret *cli_new_password(int from_stdin, int generate, int force,
    const char *login, const struct config *c,
    struct secret *(*reader)(int from_stdin));

/* cli_user_uses_sqlite - 1 when "postern user" should manage the SQLite passdb of c. */
int cli_user_uses_sqlite(const struct config *c);

/* cli_user_sqlite - action (add, passwd, del, list, show, disable, enable) on the SQLite passdb. */
int cli_user_sqlite(const char *action, const struct config *c,
    const char *name, const char *scheme, int from_stdin, int generate,
    int force, struct secret *(*reader)(int from_stdin));

/* cli_user_app - "postern user app add|list|revoke ..." (argv[0] = "app"). */
int cli_user_app(
    int argc, char **argv, struct secret *(*reader)(int from_stdin));

/* cli_userfile_set_disabled - set or clear "disabled=y" in a passwd-file line; 0 or -1. */
int cli_userfile_set_disabled(struct userfile_line *l, int disabled);

/* cli_userfile_show - print a passwd-file user (no secrets). */
void cli_userfile_show(const struct userfile_line *l);

#endif
