/*
 * pss.c - proportional set size of process trees, from
 * /proc/PID/smaps_rollup (Linux 4.14+). Shared pages are split between the
 * processes that map them, so the sum over a server's processes is what
 * the server costs, and its growth per held session is what a session
 * costs. Reading another user's smaps needs the same uid or root.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

#define PSS_MAX_PROCS 8192

/* parent_of - ppid of pid from /proc/PID/stat, -1 if gone. */
static pid_t
parent_of(pid_t pid)
{
	char path[64], line[1024];
	const char *rp;
	FILE *f;
	long ppid = -1;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL) {
		/* "pid (comm) S ppid ..."; comm may hold spaces and ')' */
		rp = strrchr(line, ')');
		if (rp != NULL) {
			char *end;

			rp += 1 + strspn(rp + 1, " "); /* the state letter */
			if (*rp != '\0')
				rp++;
			ppid = strtol(rp, &end, 10);
			if (end == rp)
				ppid = -1;
		}
	}
	(void)fclose(f);
	return (pid_t)ppid;
}

/* pss_of - Pss: of pid in KiB, -1 if unreadable. */
static long
pss_of(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kib = -1;

	(void)snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Pss:", 4) == 0) {
			kib = strtol(line + 4, NULL, 10);
			break;
		}
	}
	(void)fclose(f);
	return kib;
}

long
bench_pss_tree(const pid_t *roots, size_t nroots, unsigned int *nprocs_r)
{
	pid_t *pids, *ppids;
	size_t n = 0, i, j;
	unsigned char *in;
	struct dirent *de;
	long total = 0;
	unsigned int count = 0;
	int changed;
	DIR *d;

	*nprocs_r = 0;
	pids = calloc(PSS_MAX_PROCS, sizeof(*pids));
	ppids = calloc(PSS_MAX_PROCS, sizeof(*ppids));
	in = calloc(PSS_MAX_PROCS, 1);
	d = opendir("/proc");
	if (pids == NULL || ppids == NULL || in == NULL || d == NULL)
		goto out;
	while ((de = readdir(d)) != NULL && n < PSS_MAX_PROCS) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pids[n] = (pid_t)strtol(de->d_name, NULL, 10);
		ppids[n] = parent_of(pids[n]);
		n++;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < nroots; j++)
			if (pids[i] == roots[j])
				in[i] = 1;
	/* descendants: repeat until no process joins (trees are shallow) */
	do {
		changed = 0;
		for (i = 0; i < n; i++) {
			if (in[i])
				continue;
			for (j = 0; j < n; j++) {
				if (in[j] && ppids[i] == pids[j]) {
					in[i] = 1;
					changed = 1;
					break;
				}
			}
		}
	} while (changed);
	for (i = 0; i < n; i++) {
		long k;

		if (!in[i])
			continue;
		k = pss_of(pids[i]);
		if (k < 0)
			continue;
		total += k;
		count++;
	}
out:
	if (d != NULL)
		(void)closedir(d);
	free(pids);
	free(ppids);
	free(in);
	*nprocs_r = count;
	return count > 0 ? total : -1;
}
