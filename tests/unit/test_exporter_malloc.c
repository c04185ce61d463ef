/* Unit tests of malloc_stats_parse and render_malloc_stats (exporter/malloc_stats.c,
 * render_malloc.c): the recorded MEMORY MALLOC-STATS of Debian's redis-server 7.0.15 (one
 * arena) and of memkv (a merged table), with figures read off the text by hand; headers with
 * columns reordered, added or missing; "---" rows; truncation at every length (each prefix in
 * a buffer of exactly its size, so ASan sees any over-read); "Stats not supported"; empty and
 * huge inputs; the rendered families (collector.c's names, labels and units, promtool-clean)
 * and the totals left to render_info when it wrote them first. */
#include "parse.h"
#include "render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "promtool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter_data.h"

static const malloc_bin *bin_of(const malloc_stats *m, uint64_t size) {
    for (size_t i = 0; i < m->nbins; i++)
        if (m->bins[i].size == size) return &m->bins[i];
    return NULL;
}

static uint64_t sum_used(const malloc_stats *m) {
    uint64_t s = 0;
    for (size_t i = 0; i < m->nbins; i++)
        s += m->bins[i].curregs * m->bins[i].size;
    return s;
}

static int parse_str(const char *s, malloc_stats *m, char *err, size_t errcap) {
    return malloc_stats_parse(s, strlen(s), m, err, errcap);
}

static void test_redis_recording(void **state) {
    (void)state;
    size_t len;
    char *text = read_data("malloc_stats_redis_7.0.15.txt", &len);
    malloc_stats m;
    char err[128];
    assert_int_equal(malloc_stats_parse(text, len, &m, err, sizeof(err)), 0);
    assert_string_equal(m.version, "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c");
    assert_true(m.have_totals);
    assert_int_equal(m.allocated, 3632120);
    assert_int_equal(m.active, 4734976);
    assert_int_equal(m.metadata, 2818032);
    assert_int_equal(m.resident, 7512064);
    assert_int_equal(m.mapped, 11071488);
    assert_int_equal(m.retained, 3084288);
    assert_int_equal(m.from_merged, 0);
    /* 29 rows, of which 3072 has no slab now, and four "---" */
    assert_int_equal(m.nbins, 27);
    const malloc_bin *b = bin_of(&m, 8);
    assert_non_null(b);
    assert_int_equal(b->regs, 512);
    assert_int_equal(b->curslabs, 22);
    assert_int_equal(b->curregs, 7941);
    b = bin_of(&m, 32);
    assert_non_null(b);
    assert_int_equal(b->regs, 128);
    assert_int_equal(b->curslabs, 221);
    assert_int_equal(b->curregs, 20800);
    b = bin_of(&m, 8192);
    assert_non_null(b);
    assert_int_equal(b->regs, 1);
    assert_null(bin_of(&m, 3072));
    assert_null(bin_of(&m, 16384)); /* a large class, from the large: table */
    assert_int_equal(m.bins[0].size, 8);
    assert_int_equal(m.bins[26].size, 8192);
    /* the arena's "small: allocated" */
    assert_int_equal(sum_used(&m), 2501624);
    free(text);
}

static void test_memkv_recording(void **state) {
    (void)state;
    size_t len;
    char *text = read_data("malloc_stats_memkv.txt", &len);
    malloc_stats m;
    char err[128];
    assert_int_equal(malloc_stats_parse(text, len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.from_merged, 1);
    assert_true(m.have_totals);
    assert_int_equal(m.allocated, 3398416);
    assert_int_equal(m.retained, 6672384);
    const malloc_bin *b = bin_of(&m, 48);
    assert_non_null(b);
    assert_int_equal(b->curregs, 3600);
    assert_int_equal(b->curslabs, 20);
    assert_int_equal(b->regs, 256);
    b = bin_of(&m, 8);
    assert_non_null(b);
    assert_int_equal(b->curregs, 10);
    /* the merged "small: allocated" */
    assert_int_equal(sum_used(&m), 1973008);
    free(text);
}

static const char header_53[] =
    "bins:           size ind    allocated      nmalloc (#/sec)  curregs     curslabs regs pgs   "
    "util\n";

static void test_columns_by_name(void **state) {
    (void)state;
    malloc_stats m;
    char err[128];
    /* reordered, with an unknown column and without ind/allocated */
    const char *t = "Allocated: 10, active: 20, metadata: 3 (n_thp 0), resident: 40, mapped: 50, "
                    "retained: 6\n"
                    "arenas[0]:\n"
                    "bins: regs newcol curslabs size curregs\n"
                    "  512 7 2 8 1000\n"
                    "  ---\n"
                    "  64 x 3 128 100\n"
                    "large:          size ind    allocated\n"
                    "  16384 36 32768\n";
    assert_int_equal(parse_str(t, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nbins, 2);
    assert_int_equal(m.bins[0].size, 8);
    assert_int_equal(m.bins[0].regs, 512);
    assert_int_equal(m.bins[0].curslabs, 2);
    assert_int_equal(m.bins[0].curregs, 1000);
    assert_int_equal(m.bins[1].size, 128);
    assert_int_equal(m.bins[1].curregs, 100);
    assert_int_equal(m.allocated, 10);
    assert_int_equal(m.retained, 6);
    assert_string_equal(m.version, "");

    /* jemalloc 5.1's columns (no rates, no nshards) */
    t = "Version: 5.1.0-0-g0\n"
        "arenas[0]:\n"
        "bins:           size ind    allocated      nmalloc      ndalloc    nrequests      curregs "
        "    curslabs regs pgs  util       nfills     nflushes       nslabs     nreslabs\n"
        "                   8   0         8000         1100          100         5000         1000"
        "            2  512   1 0.976          100           20            2            0\n";
    assert_int_equal(parse_str(t, &m, err, sizeof(err)), 0);
    assert_string_equal(m.version, "5.1.0-0-g0");
    assert_false(m.have_totals);
    assert_int_equal(m.nbins, 1);
    assert_int_equal(m.bins[0].curregs, 1000);

    /* a needed column missing */
    t = "bins: size ind regs curregs\n 8 0 512 3\n";
    assert_int_equal(parse_str(t, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no bins table"));
    assert_int_equal(m.nbins, 0);

    /* rows of another width and numbers that are not are skipped */
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "%s  8 0 80 10 10 10 1 512 1 0.019\n"
             "  16 1 80 10 10 10 1\n"
             "  32 2 80 10 10 -1 1 128 1 0.2\n"
             "  48 3 80 10 10 99999999999999999999999 1 256 3 0.1\n"
             "  64 4 640 10 10 10 1 64 1 0.156\n",
             header_53);
    assert_int_equal(parse_str(buf, &m, err, sizeof(err)), -1); /* no arena section */
    snprintf(buf, sizeof(buf),
             "arenas[0]:\n%s  8 0 80 10 10 10 1 512 1 0.019\n"
             "  16 1 80 10 10 10 1\n"
             "  32 2 80 10 10 -1 1 128 1 0.2\n"
             "  48 3 80 10 10 99999999999999999999999 1 256 3 0.1\n"
             "  64 4 640 10 10 10 1 64 1 0.156\n"
             "  64 4 640 10 10 10 1 64 1 0.156\n",
             header_53);
    assert_int_equal(parse_str(buf, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nbins, 2); /* 8 and 64, the repeated 64 once */
    assert_int_equal(m.bins[1].size, 64);
}

static void test_merged_over_arenas(void **state) {
    (void)state;
    malloc_stats m;
    char err[128];
    /* an arena table before the merged one: the merged one wins */
    const char *t = "arenas[0]:\n"
                    "bins: size regs curslabs curregs\n 8 512 1 1\n"
                    "Merged arenas stats:\n"
                    "bins: size regs curslabs curregs\n 8 512 3 700\n 16 256 1 2\n"
                    "arenas[1]:\n"
                    "bins: size regs curslabs curregs\n 8 512 2 699\n";
    assert_int_equal(parse_str(t, &m, err, sizeof(err)), 0);
    assert_int_equal(m.from_merged, 1);
    assert_int_equal(m.nbins, 2);
    assert_int_equal(m.bins[0].curregs, 700);
    /* several arenas and no merged table: refused rather than one arena shown as the whole */
    t = "arenas[0]:\n"
        "bins: size regs curslabs curregs\n 8 512 1 1\n"
        "arenas[1]:\n"
        "bins: size regs curslabs curregs\n 8 512 2 699\n";
    assert_int_equal(parse_str(t, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "several arenas"));
    assert_int_equal(m.nbins, 0);
    /* destroyed arenas are not an arena */
    t = "arenas[0]:\n"
        "bins: size regs curslabs curregs\n 8 512 1 1\n"
        "Destroyed arenas stats:\n"
        "bins: size regs curslabs curregs\n 8 512 9 9\n";
    assert_int_equal(parse_str(t, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nbins, 1);
    assert_int_equal(m.bins[0].curslabs, 1);
}

static void test_truncated(void **state) {
    (void)state;
    size_t len;
    char *text = read_data("malloc_stats_redis_7.0.15.txt", &len);
    malloc_stats full;
    assert_int_equal(malloc_stats_parse(text, len, &full, NULL, 0), 0);
    for (size_t cut = 0; cut <= len; cut += (cut < 2000 ? 1 : 3)) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, text, cut);
        malloc_stats m;
        char err[64];
        int rc = malloc_stats_parse(p, cut, &m, err, sizeof(err));
        if (rc == 0) {
            assert_true(m.nbins <= full.nbins);
            /* a prefix of the full table */
            for (size_t i = 0; i < m.nbins; i++)
                assert_memory_equal(&m.bins[i], &full.bins[i], sizeof(malloc_bin));
        } else {
            assert_int_equal(m.nbins, 0);
            assert_true(err[0] != '\0');
        }
        free(p);
    }
    free(text);
}

static void test_not_supported_and_empty(void **state) {
    (void)state;
    malloc_stats m;
    char err[128];
    assert_int_equal(
        parse_str("Stats not supported for the current allocator", &m, err, sizeof(err)), -1);
    assert_string_equal(err, "Stats not supported for the current allocator");
    assert_int_equal(malloc_stats_parse("", 0, &m, err, sizeof(err)), -1);
    assert_int_equal(malloc_stats_parse(NULL, 10, &m, err, sizeof(err)), -1);
    assert_int_equal(malloc_stats_parse("x", 1, NULL, err, sizeof(err)), -1);
    assert_int_equal(parse_str("ERR unknown subcommand", &m, NULL, 0), -1);
    assert_int_equal(parse_str("\n\n\n", &m, err, 1), -1);
    assert_string_equal(err, "");
    assert_int_equal(parse_str("bins:\n", &m, err, sizeof(err)), -1);
    assert_int_equal(parse_str("Allocated: x, active: \n", &m, err, sizeof(err)), -1);
    assert_false(m.have_totals);
    /* NUL bytes inside are just bytes */
    static const char nul[] = "arenas[0]:\nbins: size regs curslabs curregs\n 8 512 1 1\0\n";
    assert_int_equal(malloc_stats_parse(nul, sizeof(nul) - 1, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nbins, 0);
}

static void test_huge(void **state) {
    (void)state;
    /* 100,000 distinct classes: only MALLOC_MAX_BINS kept */
    size_t cap = 8 << 20, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "arenas[0]:\nbins: size regs curslabs curregs\n");
    for (int i = 1; i <= 100000; i++)
        len += (size_t)snprintf(t + len, cap - len, " %d 4 1 2\n", i * 8);
    malloc_stats m;
    char err[64];
    assert_int_equal(malloc_stats_parse(t, len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nbins, MALLOC_MAX_BINS);
    assert_int_equal(m.bins[MALLOC_MAX_BINS - 1].size, MALLOC_MAX_BINS * 8);
    /* one line of 8 MB with more tokens than read */
    memset(t, 'a', cap);
    for (size_t i = 1; i < cap; i += 2)
        t[i] = ' ';
    memcpy(t, "bins: ", 6);
    assert_int_equal(malloc_stats_parse(t, cap, &m, err, sizeof(err)), -1);
    /* a version longer than the field */
    memcpy(t, "Version: \"", 10);
    memset(t + 10, 'v', 1000);
    assert_int_equal(malloc_stats_parse(t, 2000, &m, err, sizeof(err)), -1);
    assert_int_equal(strlen(m.version), sizeof(m.version) - 1);
    free(t);
}

/* ---- render ---- */

static const char *body_of(metrics_writer *w) {
    return metrics_writer_data(w, NULL);
}

static void test_render(void **state) {
    (void)state;
    size_t len;
    char *text = read_data("malloc_stats_redis_7.0.15.txt", &len);
    malloc_stats m;
    assert_int_equal(malloc_stats_parse(text, len, &m, NULL, 0), 0);
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(render_malloc_stats(&w, &m, 12.5), 0);
    const char *b = body_of(&w);
    /* (22 * 512 - 7941) * 8, 7941 * 8 */
    assert_non_null(strstr(b, "\nmemkv_allocator_bin_free_bytes{size=\"8\"} 26584\n"));
    assert_non_null(strstr(b, "\nmemkv_allocator_bin_used_bytes{size=\"8\"} 63528\n"));
    /* (221 * 128 - 20800) * 32 */
    assert_non_null(strstr(b, "\nmemkv_allocator_bin_free_bytes{size=\"32\"} 239616\n"));
    assert_null(strstr(b, "size=\"3072\""));
    assert_non_null(strstr(b, "# TYPE memkv_allocator_bin_free_bytes gauge\n"));
    assert_non_null(strstr(b, "\nmemkv_allocator_allocated_bytes 3632120\n"));
    assert_non_null(strstr(b, "\nmemkv_allocator_retained_bytes 3084288\n"));
    assert_non_null(strstr(b, "\nmemkv_allocator_metadata_bytes 2818032\n"));
    assert_non_null(strstr(b, "\nmemkv_exporter_malloc_stats_age_seconds 12.5\n"));
    /* collector.c's HELP text */
    assert_non_null(strstr(b, "# HELP memkv_allocator_bin_free_bytes Free bytes in the slabs of a "
                              "small size class (internal fragmentation), by region size in "
                              "bytes.\n"));
    char out[4096];
    int rc = promtool_check_metrics(b, out, sizeof(out));
    assert_int_equal(rc, 0);

    /* OpenMetrics: units */
    metrics_writer_reset(&w, METRICS_OPENMETRICS_1);
    assert_int_equal(render_malloc_stats(&w, &m, 0), 0);
    metrics_writer_finish(&w);
    b = body_of(&w);
    assert_non_null(strstr(b, "# UNIT memkv_allocator_bin_used_bytes bytes\n"));
    assert_non_null(strstr(b, "# UNIT memkv_exporter_malloc_stats_age_seconds seconds\n"));

    /* totals already written (by render_info from INFO): not written twice, no error */
    metrics_writer_reset(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_family_begin(&w, "memkv_allocator_allocated_bytes", "from INFO",
                                          METRICS_GAUGE, "bytes"),
                     0);
    assert_int_equal(metrics_sample_int(&w, NULL, 0, 1), 0);
    assert_int_equal(render_malloc_stats(&w, &m, 0), 0);
    assert_int_equal(metrics_writer_errors(&w), 0);
    b = body_of(&w);
    assert_null(strstr(b, "memkv_allocator_allocated_bytes 3632120"));
    assert_non_null(strstr(b, "\nmemkv_allocator_active_bytes 4734976\n"));

    /* no bins, no totals: only the age */
    malloc_stats empty;
    memset(&empty, 0, sizeof(empty));
    metrics_writer_reset(&w, METRICS_TEXT_004);
    assert_int_equal(render_malloc_stats(&w, &empty, -3), 0);
    b = body_of(&w);
    assert_null(strstr(b, "memkv_allocator_bin_free_bytes{"));
    assert_non_null(strstr(b, "\nmemkv_exporter_malloc_stats_age_seconds 0\n"));

    /* absurd figures saturate instead of wrapping */
    empty.nbins = 1;
    empty.bins[0] = (malloc_bin){UINT64_MAX, UINT64_MAX, UINT64_MAX, 1};
    metrics_writer_reset(&w, METRICS_TEXT_004);
    assert_int_equal(render_malloc_stats(&w, &empty, 0), 0);
    assert_non_null(strstr(body_of(&w), "free_bytes{size=\"18446744073709551615\"} "
                                        "9223372036854775807\n"));
    assert_int_equal(render_malloc_stats(NULL, &m, 0), METRICS_ERR_ARG);
    assert_int_equal(render_malloc_stats(&w, NULL, 0), METRICS_ERR_ARG);
    metrics_writer_deinit(&w);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_recording),
        cmocka_unit_test(test_memkv_recording),
        cmocka_unit_test(test_columns_by_name),
        cmocka_unit_test(test_merged_over_arenas),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_supported_and_empty),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
