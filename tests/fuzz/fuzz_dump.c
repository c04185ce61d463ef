/* Heap-dump parser (src/profiler/dump.c: jemalloc's heap_v2 text, its MAPPED_LIBRARIES copy
 * of /proc/self/maps included) and the pure profile pipeline behind it: the model
 * (prof_profile_build with a symbolizer that invents names, allocator frames and awkward
 * bytes among them), the pprof / collapsed / SVG writers, the reports (top sites, bytes by
 * subsystem, leak suspects), and the small parsers of the profiler's commands
 * (prof_format_parse, prof_dump_name_valid).
 *
 * Checks beyond "no crash":
 *  - a parsed dump: every stack has addresses, totals are as in the header line;
 *    a refused one has "line N: ..." in err;
 *  - the model: location indexes in range, values finite and >= 0, no sample without frames,
 *    subsystem in range;
 *  - pprof: a gzip stream (1f 8b); collapsed: lines "frames bytes\n", sorted, no blank in the
 *    frames; SVG: starts with "<svg" or "<?xml", ends with "</svg>\n", no raw '<' from a
 *    name (names are escaped), only printable ASCII;
 *  - top sites: at most cap, largest first, shares in [0, 1] summing to at most 1;
 *  - leak suspects over a growing series: at most cap, growth >= 0;
 *  - prof_format_parse accepts exactly the four names and their aliases (any case);
 * prof_dump_name_valid agrees with its documented rule. */
#include "fuzz.h"

#include "alloc/alloc.h"
#include "profiler/profiler.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {
    "je_malloc_default",
    "malloc",
    "alloc_malloc",
    "prof_backtrace_impl",
    "arena_malloc",
    "db_set_string",
    "reply_add",
    "resp_parse",
    "client_new",
    "MHD_start",
    "main",
    "f;g h",
    "<script>&\"'",
    "caf\xc3\xa9\x01\x7f",
    "",
    "very_long_name_very_long_name_very_long_name_very_long_name_very_long_name_x"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static int fake_symbolize(void *ctx, uint64_t addr, char *func, size_t fcap, char *file,
                          size_t filecap) {
    (void)ctx;
    if (addr % 17 == 3) return -1; /* unknown */
    snprintf(func, fcap, "%s", names[(addr >> 4) % NNAMES]);
    snprintf(file, filecap, "%s", addr & 1 ? "/usr/lib/libjemalloc.so.2" : "");
    return 0;
}

static int ref_name_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 100 || s[0] == '.' || strstr(s, "..")) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

static void check_small_parsers(const char *line) {
    prof_format f;
    /* The five names and their aliases, any case. */
    static const char *const known[][2] = {{"pprof", "pprof"},         {"raw", "raw"},
                                           {"collapsed", "collapsed"}, {"svg", "svg"},
                                           {"folded", "collapsed"},    {"flamegraph", "svg"},
                                           {"jeprof", "raw"},          {"json", "json"}};
    const char *want = NULL;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcasecmp(line, known[i][0]) == 0) want = known[i][1];
    if (prof_format_parse(line, &f) == 0)
        FUZZ_CHECK(want && strcmp(prof_format_name(f), want) == 0 && prof_format_extension(f));
    else
        FUZZ_CHECK(want == NULL);
    FUZZ_CHECK(!!prof_dump_name_valid(line) == ref_name_valid(line));
}

static void check_collapsed(const prof_buf *b) {
    if (b->len == 0) return; /* nothing written: data may still be NULL */
    const char *s = b->data, *end = b->data + b->len, *prev = NULL;
    size_t prev_len = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        FUZZ_CHECK(nl != NULL);
        const char *sp = nl;
        while (sp > s && sp[-1] != ' ')
            sp--;
        FUZZ_CHECK(sp > s + 1 && sp < nl); /* "frames bytes" */
        for (const char *d = sp; d < nl; d++)
            FUZZ_CHECK(*d >= '0' && *d <= '9');
        FUZZ_CHECK(memchr(s, ' ', (size_t)(sp - 1 - s)) == NULL);
        size_t len = (size_t)(nl - s);
        if (prev) {
            int c = memcmp(prev, s, prev_len < len ? prev_len : len);
            FUZZ_CHECK(c < 0 || (c == 0 && prev_len <= len));
        }
        prev = s;
        prev_len = len;
        s = nl + 1;
    }
}

static void check_svg(const prof_buf *b) {
    FUZZ_CHECK(b->len > 6);
    FUZZ_CHECK(strncmp(b->data, "<svg", 4) == 0 || strncmp(b->data, "<?xml", 5) == 0);
    FUZZ_CHECK(strcmp(b->data + b->len - 7, "</svg>\n") == 0);
    FUZZ_CHECK(strstr(b->data, "<script") == NULL);
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        FUZZ_CHECK(c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f));
    }
}

static void check_profile(const prof_profile *p) {
    for (size_t i = 0; i < p->nsamples; i++) {
        const prof_sample *s = &p->samples[i];
        FUZZ_CHECK(s->nlocs > 0);
        for (size_t k = 0; k < s->nlocs; k++)
            FUZZ_CHECK(s->locs[k] < p->nlocs);
        FUZZ_CHECK(isfinite(s->live_bytes) && s->live_bytes >= 0);
        FUZZ_CHECK(isfinite(s->live_objs) && s->live_objs >= 0);
        FUZZ_CHECK(isfinite(s->alloc_bytes) && s->alloc_bytes >= 0);
        FUZZ_CHECK(s->subsystem >= 0 && s->subsystem < ALLOC_SUB_COUNT);
    }
    for (size_t i = 0; i < p->nlocs; i++)
        FUZZ_CHECK(p->locs[i].func != NULL && p->locs[i].func[0] != '\0');

    prof_buf b;
    prof_buf_init(&b);
    FUZZ_CHECK(prof_write_pprof(p, &b) == 0);
    FUZZ_CHECK(b.len >= 2 && (unsigned char)b.data[0] == 0x1f && (unsigned char)b.data[1] == 0x8b);
    prof_buf_free(&b);
    FUZZ_CHECK(prof_write_collapsed(p, &b) == 0);
    check_collapsed(&b);
    prof_buf_free(&b);
    FUZZ_CHECK(prof_write_svg(p, "fuzz <&>", &b) == 0);
    check_svg(&b);
    prof_buf_free(&b);

    prof_site sites[8];
    size_t n = prof_top_sites(p, sites, 8);
    FUZZ_CHECK(n <= 8);
    double share = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(sites[i].share >= 0 && sites[i].share <= 1.0 + 1e-9);
        if (i) FUZZ_CHECK(sites[i].live_bytes <= sites[i - 1].live_bytes);
        share += sites[i].share;
    }
    FUZZ_CHECK(share <= 1.0 + 1e-6);
    double by[ALLOC_SUB_COUNT];
    prof_bytes_by_subsystem(p, by, ALLOC_SUB_COUNT);
    for (size_t i = 0; i < ALLOC_SUB_COUNT; i++)
        FUZZ_CHECK(isfinite(by[i]) && by[i] >= 0);

    /* A series where every site grows: suspects, bounded. */
    prof_snapshot snaps[3];
    prof_snapshot_site ss[3][8];
    for (int k = 0; k < 3; k++) {
        snaps[k].time_ns = (int64_t)k * 1000000000;
        snaps[k].sites = ss[k];
        snaps[k].nsites = n;
        for (size_t i = 0; i < n; i++) {
            snprintf(ss[k][i].func, sizeof(ss[k][i].func), "%s", sites[i].func);
            ss[k][i].live_bytes = sites[i].live_bytes * (k + 1);
        }
    }
    prof_suspect sus[4];
    size_t ns = prof_leak_suspects(snaps, 3, sus, 4);
    FUZZ_CHECK(ns <= 4);
    for (size_t i = 0; i < ns; i++)
        FUZZ_CHECK(sus[i].growth_bytes >= 0 && sus[i].grew_intervals <= sus[i].intervals);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    {
        size_t n = 0;
        while (n < size && n < 200 && text[n] != '\n' && text[n] != '\0')
            n++;
        char line[201];
        memcpy(line, text, n);
        line[n] = '\0';
        check_small_parsers(line);
    }

    /* An exact-size copy without a NUL: the parser must stop at len. */
    char *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    heap_dump d;
    char err[256];
    int rc = heap_dump_parse(copy, size, &d, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(rc == PROF_ERR_PARSE);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && strncmp(err, "line ", 5) == 0);
        free(copy);
        return 0;
    }
    for (size_t i = 0; i < d.nstacks; i++)
        FUZZ_CHECK(d.stacks[i].naddrs > 0 && d.stacks[i].addrs != NULL);
    FUZZ_CHECK(d.sample_period > 0);
    if (d.maps) FUZZ_CHECK(strlen(d.maps) <= size);
    if (d.sample_period > 0) {
        double sc = heap_scale(d.total_live_objs, d.total_live_bytes, d.sample_period);
        FUZZ_CHECK(!isnan(sc));
    }

    prof_profile p;
    FUZZ_CHECK(prof_profile_build(&d, fake_symbolize, NULL, &p) == 0);
    check_profile(&p);
    prof_profile_free(&p);
    FUZZ_CHECK(prof_profile_build(&d, NULL, NULL, &p) == 0);
    check_profile(&p);
    prof_profile_free(&p);

    heap_dump_free(&d);
    free(copy);
    return 0;
}
