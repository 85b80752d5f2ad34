/*
 * standalone.c - replay fuzz inputs without libFuzzer (gcc builds, the
 * fuzz-regress suite): every argument is a file or a directory whose
 * regular files are each fed once to LLVMFuzzerTestOneInput().
 * Inputs larger than STANDALONE_MAX are skipped with a note.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STANDALONE_MAX (4 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* run_file - feed one file; 0, or -1 if it cannot be read. */
static int
run_file(const char *path)
{
	struct stat st;
	unsigned char *data;
	size_t n;
	FILE *f;

	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1 || st.st_size < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	if (st.st_size > STANDALONE_MAX) {
		fprintf(stderr, "%s: skipped, larger than %d bytes\n", path,
		    STANDALONE_MAX);
		fclose(f);
		return 0;
	}
	/* an exact-size heap copy, so ASan sees reads past the input */
	data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (data == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	if (n != (size_t)st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		free(data);
		return -1;
	}
	(void)LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

/* run_path - a file, or every regular file in a directory (not recursive). */
static int
run_path(const char *path, unsigned long *count)
{
	struct dirent *de;
	struct stat st;
	char sub[4096];
	DIR *d;
	int rc;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = run_file(path);
		if (rc == 0)
			(*count)++;
		return rc;
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = 0;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
		    (int)sizeof(sub)) {
			fprintf(
			    stderr, "%s/%s: path too long\n", path, de->d_name);
			rc = -1;
			continue;
		}
		if (stat(sub, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(sub) == -1)
			rc = -1;
		else
			(*count)++;
	}
	if (errno != 0)
		rc = -1;
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long count;
	int i, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	count = 0;
	rc = 0;
	for (i = 1; i < argc; i++) {
		if (run_path(argv[i], &count) == -1)
			rc = 1;
	}
	printf("%s: %lu inputs replayed\n", argv[0], count);
	return rc;
}
