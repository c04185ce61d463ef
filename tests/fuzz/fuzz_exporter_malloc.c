/* MEMORY MALLOC-STATS text (exporter/malloc_stats.c) and its rendering (render_malloc.c). The
 * input is the text a target answered, any bytes.
 *
 * Checks beyond "no crash":
 *  - a refusal leaves no bins and an error text; an acceptance has a NUL-terminated
 *    printable version, at most MALLOC_MAX_BINS bins, each with a size, regions per slab and
 *    slabs in use, no size twice;
 *  - the bins rendered into a writer (text 0.0.4 and OpenMetrics) never fail: names and
 *    labels are fixed, sizes distinct; the body ends with a newline, one free and one used
 *    sample per bin. */
#include "fuzz.h"

#include "parse.h"
#include "render.h"

#include <string.h>

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    malloc_stats m;
    char err[128];
    int rc = malloc_stats_parse((const char *)data, size, &m, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(m.nbins == 0);
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    size_t vl = strnlen(m.version, sizeof(m.version));
    FUZZ_CHECK(vl < sizeof(m.version));
    for (size_t i = 0; i < vl; i++)
        FUZZ_CHECK(m.version[i] >= 0x20 && m.version[i] < 0x7f);
    FUZZ_CHECK(m.nbins <= MALLOC_MAX_BINS);
    for (size_t i = 0; i < m.nbins; i++) {
        FUZZ_CHECK(m.bins[i].size > 0 && m.bins[i].regs > 0 && m.bins[i].curslabs > 0);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(m.bins[k].size != m.bins[i].size);
    }
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        FUZZ_CHECK(render_malloc_stats(&w, &m, (double)size) == 0);
        FUZZ_CHECK(metrics_writer_finish(&w) == 0);
        size_t len;
        const char *body = metrics_writer_data(&w, &len);
        FUZZ_CHECK(len > 0 && body[len - 1] == '\n');
        FUZZ_CHECK(count(body, "\nmemkv_allocator_bin_free_bytes{") == m.nbins);
        FUZZ_CHECK(count(body, "\nmemkv_allocator_bin_used_bytes{") == m.nbins);
        metrics_writer_deinit(&w);
    }
    return 0;
}
