/* The recordings and samples of tests/unit/data/exporter/ for the exporter's unit tests: the
 * directory comes from MEMKV_TEST_DATA (tests/CMakeLists.txt), so ctest's working directory does
 * not matter. */
#ifndef MEMKV_TEST_EXPORTER_DATA_H
#define MEMKV_TEST_EXPORTER_DATA_H

#include <stdio.h>
#include <stdlib.h>

/* The whole file, NUL-terminated (the NUL not counted in *len); fails the test if unreadable. */
static char *read_data(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", MEMKV_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

#endif
