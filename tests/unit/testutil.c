/*
 * testutil.c - helpers shared by unit tests (testutil.h).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

int
test_rm_tree(const char *path)
{
	struct stat st;
	struct dirent *e;
	char sub[PATH_MAX];
	DIR *d;

	if (lstat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) <
		    (int)sizeof(sub))
			(void)test_rm_tree(sub);
	}
	closedir(d);
	return rmdir(path);
}
