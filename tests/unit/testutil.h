/*
 * testutil.h - helpers shared by unit tests that work in scratch directories.
 */
#ifndef POSTERN_TESTS_TESTUTIL_H
#define POSTERN_TESTS_TESTUTIL_H

/* test_rm_tree - remove path and everything under it (no symlinks followed); 0 or -1. */
int test_rm_tree(const char *path);

#endif
