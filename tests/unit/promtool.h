/* promtool — `promtool check metrics` on an exposition body, for the unit tests of the metrics
 * writer and of the collector. */
#ifndef MEMKV_TEST_PROMTOOL_H
#define MEMKV_TEST_PROMTOOL_H

#include <stddef.h>

/* Runs promtool on body; returns its exit status, its output (NUL-terminated) in out. Fails the
 * test when promtool is not installed. */
int promtool_check_metrics(const char *body, char *out, size_t cap);

#endif
