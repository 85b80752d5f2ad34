/*
 * privsep.c - dropping root: children of the master (the auth service and
 * the SMTP workers) run as [server] user when the server starts as root.
 */
#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/log.h"
#include "master/privsep.h"

int
privsep_drop(const char *user)
{
	struct passwd *pw;

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		log_err(
		    "event=privsep-error user=%s reason=unknown-user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_err(
		    "event=privsep-error user=%s reason=setuid-failed", user);
		return -1;
	}
	/* Paranoia: regaining root must fail now. */
	if (setuid(0) == 0) {
		log_err("event=privsep-error reason=root-regained");
		return -1;
	}
	return 0;
}

int
privsep_chown(const char *path, const char *user)
{
	struct passwd *pw;

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL)
		return -1;
	return chown(path, pw->pw_uid, pw->pw_gid);
}
