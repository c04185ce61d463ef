/* Unit tests of the profiler's pure pieces: the heap_v2 dump parser (including every
 * truncation and many corruptions of a dump), the jeprof scaling, the profile model (allocator
 * frames stripped, subsystem attribution, one symbolization per address), the pprof writer
 * (decoded here after gunzip, and read by `go tool pprof` when Go is installed), collapsed
 * stacks, the SVG flame graph and the reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "alloc/alloc.h"
#include "profiler/profiler.h"

/* ---- the hand-written dump -------------------------------------------------------------- */

static const char dump_text[] =
    "heap_v2/524288\n"
    "  t*: 37: 1118400 [40: 16384]\n"
    "  t0: 10: 1048576 [0: 0]\n"
    "  t1: 27: 69824 [40: 16384]\n"
    "@ 0x1000 0x1100 0x2000 0x3000 0x4000 0x4100\n"
    "  t*: 10: 1048576 [0: 0]\n"
    "  t0: 10: 1048576 [0: 0]\n"
    "@ 0x1000 0x1200 0x2010 0x5000 0x5100 0x5200 0x4200\n"
    "  t*: 20: 4096 [40: 16384]\n"
    "  t1: 20: 4096 [40: 16384]\n"
    "@ 0x1000 0xdead 0x1100 0x7000 0x7100 0x4300\n"
    "  t*: 3: 49152 [0: 0]\n"
    "  t1: 3: 49152 [0: 0]\n"
    "@ 0x1100 0x8000 0x8100 0x9000\n"
    "  t*: 1: 64 [0: 0]\n"
    "  t1: 1: 64 [0: 0]\n"
    "@ 0x1000 0x1200 0x2000 0x3000 0x4000 0x4100 0xb000 0xb100\n"
    "  t*: 2: 16384 [0: 0]\n"
    "  t1: 2: 16384 [0: 0]\n"
    "@ 0x1000 0x1100\n"
    "  t*: 1: 128 [0: 0]\n"
    "  t1: 1: 128 [0: 0]\n"
    "@ 0xa000\n"
    "  t*: 0: 0 [0: 0]\n"
    "\n"
    "MAPPED_LIBRARIES:\n"
    "55d0c0000000-55d0c0001000 r--p 00000000 08:01 123 /usr/bin/memkv-server\n"
    "7f0000000000-7f0000100000 r-xp 00000000 08:01 456 /usr/lib/libjemalloc.so.2\n";

#define MAPS_TEXT                                                                                  \
    "55d0c0000000-55d0c0001000 r--p 00000000 08:01 123 /usr/bin/memkv-server\n"                    \
    "7f0000000000-7f0000100000 r-xp 00000000 08:01 456 /usr/lib/libjemalloc.so.2\n"

static void parse_ok(const char *text, heap_dump *d) {
    char err[256];
    int rc = heap_dump_parse(text, strlen(text), d, err, sizeof(err));
    if (rc != 0) fail_msg("parse failed: %s", err);
}

static void test_parse_dump(void **state) {
    (void)state;
    heap_dump d;
    parse_ok(dump_text, &d);
    assert_int_equal(d.sample_period, 524288);
    assert_int_equal(d.total_live_objs, 37);
    assert_int_equal(d.total_live_bytes, 1118400);
    assert_int_equal(d.nstacks, 7);
    assert_int_equal(d.stacks[0].naddrs, 6);
    assert_int_equal(d.stacks[0].addrs[0], 0x1000);
    assert_int_equal(d.stacks[0].addrs[5], 0x4100);
    assert_int_equal(d.stacks[0].live_objs, 10);
    assert_int_equal(d.stacks[0].live_bytes, 1048576);
    assert_int_equal(d.stacks[0].accum_objs, 0);
    assert_int_equal(d.stacks[1].naddrs, 7);
    assert_int_equal(d.stacks[1].accum_objs, 40);
    assert_int_equal(d.stacks[1].accum_bytes, 16384);
    assert_int_equal(d.stacks[2].addrs[1], 0xdead);
    assert_int_equal(d.stacks[6].naddrs, 1);
    assert_int_equal(d.stacks[6].live_bytes, 0);
    assert_string_equal(d.maps, MAPS_TEXT);
    heap_dump_free(&d);
    heap_dump_free(&d); /* idempotent */

    /* CRLF line ends, an address printed as "0" (jemalloc's %#x of zero), upper-case hex, and
     * no MAPPED_LIBRARIES section at all */
    parse_ok("heap_v2/1024\r\n  t*: 1: 10 [0: 0]\r\n@ 0 0XABCDEF0123456789\r\n"
             "  t*: 1: 10 [0: 0]\r\n",
             &d);
    assert_int_equal(d.sample_period, 1024);
    assert_int_equal(d.nstacks, 1);
    assert_int_equal(d.stacks[0].addrs[0], 0);
    assert_true(d.stacks[0].addrs[1] == 0xABCDEF0123456789ULL);
    assert_string_equal(d.maps, "");
    heap_dump_free(&d);

    /* an empty heap: only the header and totals */
    parse_ok("heap_v2/524288\n  t*: 0: 0 [0: 0]\n\nMAPPED_LIBRARIES:\n", &d);
    assert_int_equal(d.nstacks, 0);
    heap_dump_free(&d);

    /* the largest counts that fit */
    parse_ok("heap_v2/18446744073709551615\n  t*: 18446744073709551615: 1 [0: 0]\n", &d);
    assert_true(d.total_live_objs == UINT64_MAX);
    heap_dump_free(&d);
}

static void expect_parse_error(const char *text, const char *want) {
    heap_dump d;
    char err[256];
    memset(&d, 0x5a, sizeof(d));
    int rc = heap_dump_parse(text, strlen(text), &d, err, sizeof(err));
    if (rc != PROF_ERR_PARSE) fail_msg("accepted: %s", text);
    if (!strstr(err, want)) fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_null(d.stacks);
    assert_null(d.maps);
    assert_int_equal(d.nstacks, 0);
}

static void test_parse_errors(void **state) {
    (void)state;
    expect_parse_error("", "line 1: empty dump");
    expect_parse_error("heap_v3/524288\n  t*: 0: 0 [0: 0]\n", "line 1: not a jemalloc heap_v2");
    expect_parse_error("heap_v2/0\n  t*: 0: 0 [0: 0]\n", "line 1: bad sample period");
    expect_parse_error("heap_v2/abc\n", "line 1: bad sample period");
    expect_parse_error("heap_v2/524288\n", "line 1: no t* totals");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2\n", "line 2: expected '['");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0] x\n", "line 2: unexpected text");
    expect_parse_error("heap_v2/524288\n  t*: 18446744073709551616: 2 [0: 0]\n",
                       "line 2: count does not fit");
    expect_parse_error("heap_v2/524288\n  t*: 99999999999999999999999999: 2 [0: 0]\n",
                       "line 2: count does not fit");
    expect_parse_error("heap_v2/524288\n  t*: -1: 2 [0: 0]\n", "line 2: expected a count");
    expect_parse_error("heap_v2/524288\n  t3: 1: 2 [0: 0]\n", "line 2: thread counts before");
    expect_parse_error("heap_v2/524288\n@ 0x10\n  t*: 1: 2 [0: 0]\n", "line 2: stack before");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x1g\n  t*: 1: 2 [0: 0]\n",
                       "line 3: address 1 is not hexadecimal");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x10 zz\n  t*: 1: 2 [0: 0]\n",
                       "line 3: address 2 is not hexadecimal");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x11112222333344445\n",
                       "line 3: address 1 does not fit");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x\n", "line 3: address 1 has no");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@\n", "line 3: stack without addr");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x10\n@ 0x20\n",
                       "line 4: previous stack has no t*");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x10\n", "line 3: last stack");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\n@ 0x10\n  t*: 1: 2 [0: 0]\n"
                       "  t*: 1: 2 [0: 0]\n",
                       "line 5: duplicate t*");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\nhello <world>\n",
                       "line 3: unexpected line \"hello <world>\"");
    expect_parse_error("heap_v2/524288\n  t*: 1: 2 [0: 0]\nMAPPED_LIBRARIES: x\n",
                       "line 3: unexpected text after MAPPED");

    /* err may be NULL; a tiny err buffer is truncated, not overrun */
    heap_dump d;
    assert_int_equal(heap_dump_parse("x", 1, &d, NULL, 0), PROF_ERR_PARSE);
    char tiny[8];
    assert_int_equal(heap_dump_parse("x", 1, &d, tiny, sizeof(tiny)), PROF_ERR_PARSE);
    assert_string_equal(tiny, "line 1:");
    assert_int_equal(heap_dump_parse(NULL, 0, NULL, NULL, 0), PROF_ERR_BADARG);
}

/* Every prefix of the dump, each in a block of exactly its size (the sanitizer build catches
 * any read past it): parsed or refused, never a crash or a leak. */
static int parse_copy(const char *text, size_t len) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    heap_dump d;
    char err[256];
    int rc = heap_dump_parse(copy, len, &d, err, sizeof(err));
    if (rc == 0) {
        heap_dump_free(&d);
    } else {
        if (rc != PROF_ERR_PARSE) fail_msg("unexpected rc %d at len %zu", rc, len);
        if (strncmp(err, "line ", 5) != 0) fail_msg("error without a line: %s", err);
    }
    free(copy);
    return rc;
}

static void test_parse_truncations(void **state) {
    (void)state;
    size_t len = strlen(dump_text);
    size_t ok = 0, refused = 0;
    for (size_t n = 0; n <= len; n++) {
        if (parse_copy(dump_text, n) == 0)
            ok++;
        else
            refused++;
    }
    assert_true(ok > 0 && refused > 0);
    /* A prefix cut inside a counts line or right after an address line is refused. */
    const char *cut = strstr(dump_text, "[40: 16384]\n  t1");
    assert_int_equal(parse_copy(dump_text, (size_t)(cut - dump_text) + 4), PROF_ERR_PARSE);
    cut = strstr(dump_text, "@ 0x1100 0x8000");
    assert_int_equal(parse_copy(dump_text, (size_t)(cut - dump_text) + 10), PROF_ERR_PARSE);

    /* Corruptions: each byte replaced by characters that matter to the grammar. */
    static const char subst[] = {'\n', ' ', '@', 't', '*', ':', '[', ']', '9', 'x', '\0', '\r'};
    char *buf = malloc(len);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            memcpy(buf, dump_text, len);
            buf[i] = subst[k];
            parse_copy(buf, len);
        }
    }
    free(buf);
}

static void test_parse_many_stacks(void **state) {
    (void)state;
    prof_buf b;
    prof_buf_init(&b);
    prof_buf_printf(&b, "heap_v2/1024\n  t*: 20000: 20480000 [0: 0]\n");
    for (int i = 0; i < 20000; i++)
        prof_buf_printf(&b, "@ 0x%x 0x%x\n  t*: 1: 1024 [0: 0]\n  t7: 1: 1024 [0: 0]\n",
                        0x1000 + i % 97, 0x900000 + i);
    heap_dump d;
    char err[256];
    assert_int_equal(heap_dump_parse(b.data, b.len, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nstacks, 20000);
    assert_int_equal(d.stacks[19999].addrs[1], 0x900000 + 19999);
    prof_profile p;
    assert_int_equal(prof_profile_build(&d, NULL, NULL, &p), 0);
    assert_int_equal(p.nsamples, 20000);
    assert_int_equal(p.nlocs, 97 + 20000);
    prof_profile_free(&p);
    heap_dump_free(&d);
    prof_buf_free(&b);
}

/* ---- prof_buf, scaling ------------------------------------------------------------------ */

static void test_buf(void **state) {
    (void)state;
    prof_buf b;
    prof_buf_init(&b);
    prof_buf_append(&b, "ab", 2);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    for (int i = 0; i < 1000; i++)
        prof_buf_printf(&b, "%d,", i);
    char big[600];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    prof_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, strlen(b.data));
    assert_true(strncmp(b.data, "ab0,1,2,", 8) == 0);
    assert_true(b.data[b.len - 1] == 'z');
    prof_buf_append(&b, NULL, 0);
    prof_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_scale(void **state) {
    (void)state;
    /* avg = 1048576 / 10 bytes; period 2^19: ratio 0.2; 1 / (1 - e^-0.2) */
    assert_float_equal(heap_scale(10, 1048576, 524288), 5.516655566126993, 1e-12);
    /* tiny objects under a big period: about period / avg */
    assert_float_equal(heap_scale(1, 64, 524288), 8192.50001016942, 1e-8);
    /* huge objects: every one is sampled */
    assert_float_equal(heap_scale(1, (uint64_t)1 << 40, 524288), 1.0, 1e-12);
    assert_float_equal(heap_scale(0, 100, 524288), 1.0, 0);
    assert_float_equal(heap_scale(5, 0, 524288), 1.0, 0);
    assert_float_equal(heap_scale(5, 100, 0), 1.0, 0);
}

/* ---- model ------------------------------------------------------------------------------ */

typedef struct fake_sym {
    uint64_t addr;
    const char *func; /* NULL: unknown */
    const char *file;
    int calls;
} fake_sym;

static fake_sym fake_table[] = {
    {0x1000, "prof_backtrace_impl", "/usr/lib/libjemalloc.so.2", 0},
    {0x1100, "malloc", "/usr/lib/libjemalloc.so.2", 0},
    {0x1200, "calloc", "/usr/lib/libjemalloc.so.2", 0},
    {0x2000, "alloc_malloc", "/usr/bin/memkv-server", 0},
    {0x2010, "alloc_calloc", "/usr/bin/memkv-server", 0},
    {0x3000, "db_set_string", "/usr/bin/memkv-server", 0},
    {0x4000, "cmd_set", "/usr/bin/memkv-server", 0},
    {0x4100, "main", "/usr/bin/memkv-server", 0},
    {0x4200, "main", "/usr/bin/memkv-server", 0},
    {0x4300, "main", "/usr/bin/memkv-server", 0},
    {0x5000, "ht_resize", "/usr/bin/memkv-server", 0},
    {0x5100, "exp_add", "/usr/bin/memkv-server", 0},
    {0x5200, "db_set_expire", "/usr/bin/memkv-server", 0},
    {0x7000, "block_append", "/usr/bin/memkv-server", 0},
    {0x7100, "reply_add_bulk", "/usr/bin/memkv-server", 0},
    {0x8000, "worker_leak", "/usr/bin/memkv-server", 0},
    {0x8100, "free", "/usr/bin/memkv-server", 0},
    {0x9000, "start_thread", "/usr/lib/libc.so.6", 0},
    {0xa000, "zero_func", "/usr/bin/memkv-server", 0},
    {0xb000, "__libc_start_call_main", "/usr/lib/libc.so.6", 0},
    {0xb100, "_start", "/usr/bin/memkv-server", 0},
    {0xdead, NULL, NULL, 0},
};
#define NFAKE (sizeof(fake_table) / sizeof(fake_table[0]))

static int fake_symbolize(void *ctx, uint64_t addr, char *func, size_t fcap, char *file,
                          size_t filecap) {
    fake_sym *t = ctx;
    for (size_t i = 0; i < NFAKE; i++) {
        /* the model asks about addr - 1 (the call instruction, not the return address) */
        if (t[i].addr - 1 != addr) continue;
        t[i].calls++;
        if (!t[i].func) return -1;
        snprintf(func, fcap, "%s", t[i].func);
        snprintf(file, filecap, "%s", t[i].file);
        return 0;
    }
    fail_msg("symbolizer asked about unexpected address 0x%llx", (unsigned long long)addr);
    return -1;
}

static const char *loc_name(const prof_profile *p, const prof_sample *s, size_t j) {
    return p->locs[s->locs[j]].func;
}

static void build_fake(prof_profile *p) {
    heap_dump d;
    parse_ok(dump_text, &d);
    for (size_t i = 0; i < NFAKE; i++)
        fake_table[i].calls = 0;
    assert_int_equal(prof_profile_build(&d, fake_symbolize, fake_table, p), 0);
    heap_dump_free(&d);
}

static void test_build(void **state) {
    (void)state;
    prof_profile p;
    build_fake(&p);
    /* each distinct address symbolized exactly once */
    for (size_t i = 0; i < NFAKE; i++)
        if (fake_table[i].calls != 1)
            fail_msg("0x%llx symbolized %d times", (unsigned long long)fake_table[i].addr,
                     fake_table[i].calls);
    assert_int_equal(p.sample_period, 524288);
    assert_true(p.time_ns > 0);

    /* stacks 1 and 5 are the same once the allocator frames and the frames outside main go
     * (5 was taken by libgcc's unwinder, which reaches _start); the zero one is dropped */
    assert_int_equal(p.nsamples, 5);
    const prof_sample *s = &p.samples[0];
    assert_int_equal(s->nlocs, 3);
    assert_string_equal(loc_name(&p, s, 0), "db_set_string");
    assert_string_equal(loc_name(&p, s, 1), "cmd_set");
    assert_string_equal(loc_name(&p, s, 2), "main");
    assert_int_equal(s->subsystem, ALLOC_SUB_STRINGS);
    /* 10 objs/1 MiB at ratio 0.2 plus 2 objs/16 KiB at ratio 1/64, each scaled on its own */
    assert_float_equal(s->live_bytes, 6841421.96015371, 1e-6);
    assert_float_equal(s->live_objs, 184.16915981734067, 1e-9);
    assert_float_equal(s->alloc_bytes, s->live_bytes, 0);
    assert_float_equal(s->alloc_objs, s->live_objs, 0);

    s = &p.samples[1];
    assert_int_equal(s->nlocs, 4);
    assert_string_equal(loc_name(&p, s, 0), "ht_resize");
    assert_string_equal(loc_name(&p, s, 3), "main");
    assert_int_equal(s->subsystem, ALLOC_SUB_EXPIRES_INDEX);
    assert_float_equal(s->live_bytes, 10487808.133332103, 1e-6);
    assert_float_equal(s->live_objs, 51210.00065103566, 1e-8);
    assert_float_equal(s->alloc_bytes, 20979713.06666682, 1e-6); /* from the accum counts */
    assert_float_equal(s->alloc_objs, 51220.002604167035, 1e-8);

    /* an unsymbolized frame inside the allocator run goes with it */
    s = &p.samples[2];
    assert_int_equal(s->nlocs, 3);
    assert_string_equal(loc_name(&p, s, 0), "block_append");
    assert_string_equal(loc_name(&p, s, 1), "reply_add_bulk");
    assert_int_equal(s->subsystem, ALLOC_SUB_OUTPUT_BUF);
    assert_float_equal(s->live_bytes, 1597567.9979167175, 1e-6);

    /* an allocator-named frame further out stays */
    s = &p.samples[3];
    assert_int_equal(s->nlocs, 3);
    assert_string_equal(loc_name(&p, s, 0), "worker_leak");
    assert_string_equal(loc_name(&p, s, 1), "free");
    assert_string_equal(loc_name(&p, s, 2), "start_thread");
    assert_int_equal(s->subsystem, ALLOC_SUB_OTHER);
    assert_float_equal(s->live_bytes, 524320.0006508429, 1e-6);

    /* a stack of nothing but allocator frames keeps its outermost */
    s = &p.samples[4];
    assert_int_equal(s->nlocs, 1);
    assert_string_equal(loc_name(&p, s, 0), "malloc");
    assert_float_equal(s->live_bytes, 524352.0026041666, 1e-6);

    /* locations: only those still referenced, one per address, with their files */
    assert_int_equal(p.nlocs, 14);
    for (size_t i = 0; i < p.nlocs; i++) {
        for (size_t j = i + 1; j < p.nlocs; j++)
            assert_true(p.locs[i].addr != p.locs[j].addr);
        assert_non_null(p.locs[i].file);
        assert_true(p.locs[i].addr != 0xdead && p.locs[i].addr != 0x1000);
    }
    assert_string_equal(p.samples[3].locs[2] < p.nlocs ? p.locs[p.samples[3].locs[2]].file : "",
                        "/usr/lib/libc.so.6");

    double by[ALLOC_SUB_COUNT];
    prof_bytes_by_subsystem(&p, by, ALLOC_SUB_COUNT);
    assert_float_equal(by[ALLOC_SUB_STRINGS], 6841421.96015371, 1e-6);
    assert_float_equal(by[ALLOC_SUB_EXPIRES_INDEX], 10487808.133332103, 1e-6);
    assert_float_equal(by[ALLOC_SUB_OUTPUT_BUF], 1597567.9979167175, 1e-6);
    assert_float_equal(by[ALLOC_SUB_OTHER], 524320.0006508429 + 524352.0026041666, 1e-6);
    assert_float_equal(by[ALLOC_SUB_KEY_INDEX], 0, 0);
    prof_profile_free(&p);
    prof_profile_free(&p); /* idempotent */
}

static void test_build_without_symbols(void **state) {
    (void)state;
    heap_dump d;
    parse_ok(dump_text, &d);
    prof_profile p;
    assert_int_equal(prof_profile_build(&d, NULL, NULL, &p), 0);
    /* nothing is known to be an allocator frame: stacks stay whole, named by address */
    assert_int_equal(p.nsamples, 6);
    assert_int_equal(p.samples[0].nlocs, 6);
    assert_string_equal(p.locs[p.samples[0].locs[0]].func, "0x1000");
    assert_null(p.locs[p.samples[0].locs[0]].file);
    assert_string_equal(p.locs[p.samples[2].locs[1]].func, "0xdead");
    prof_profile_free(&p);
    heap_dump_free(&d);

    /* an empty dump builds an empty profile */
    parse_ok("heap_v2/524288\n  t*: 0: 0 [0: 0]\n", &d);
    assert_int_equal(prof_profile_build(&d, NULL, NULL, &p), 0);
    assert_int_equal(p.nsamples, 0);
    prof_buf b;
    prof_buf_init(&b);
    assert_int_equal(prof_write_pprof(&p, &b), 0);
    assert_int_equal(prof_write_collapsed(&p, &b), 0);
    assert_int_equal(prof_write_svg(&p, NULL, &b), 0);
    prof_site site;
    assert_int_equal(prof_top_sites(&p, &site, 1), 0);
    prof_buf_free(&b);
    prof_profile_free(&p);
    heap_dump_free(&d);
    assert_int_equal(prof_profile_build(NULL, NULL, NULL, &p), PROF_ERR_BADARG);
}

static void test_allocator_frames(void **state) {
    (void)state;
    static const char *const yes[] = {"je_malloc_default",
                                      "je_prof_backtrace",
                                      "prof_backtrace_impl",
                                      "prof_alloc_prep",
                                      "imalloc_body",
                                      "ialloc",
                                      "arena_malloc_hard",
                                      "tcache_alloc_small_hard",
                                      "malloc",
                                      "calloc",
                                      "realloc",
                                      "free",
                                      "mallocx",
                                      "rallocx",
                                      "xallocx",
                                      "sdallocx",
                                      "dallocx",
                                      "posix_memalign",
                                      "aligned_alloc",
                                      "alloc_malloc",
                                      "alloc_calloc",
                                      "alloc_realloc",
                                      "alloc_realloc_sized",
                                      "alloc_strndup",
                                      "_Unwind_Backtrace"};
    static const char *const no[] = {"db_set_string",
                                     "prof_write_pprof",
                                     "prof_buf_append",
                                     "malloc_stats_print_cb",
                                     "alloc_sub_bytes",
                                     "freelist",
                                     "reallocate_table",
                                     "main",
                                     "",
                                     "0x1234"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!prof_is_allocator_frame(yes[i])) fail_msg("%s not an allocator frame", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (prof_is_allocator_frame(no[i])) fail_msg("%s taken for an allocator frame", no[i]);
    assert_false(prof_is_allocator_frame(NULL));
}

#define ATTR(expect, ...)                                                                          \
    do {                                                                                           \
        const char *const fs_[] = {__VA_ARGS__};                                                   \
        assert_int_equal(prof_attribute_stack(fs_, sizeof(fs_) / sizeof(fs_[0])), (expect));       \
    } while (0)

static void test_attribution(void **state) {
    (void)state;
    ATTR(ALLOC_SUB_STRINGS, "db_set_string", "cmd_set", "command_process", "process_input",
         "read_handler", "main");
    ATTR(ALLOC_SUB_STRINGS, "db_string_resize", "cmd_append");
    ATTR(ALLOC_SUB_STRINGS, "db_rename", "cmd_rename");
    ATTR(ALLOC_SUB_KEY_INDEX, "ht_resize", "ht_expand_if_needed", "ht_insert", "db_set_string");
    ATTR(ALLOC_SUB_KEY_INDEX, "ht_insert", "db_rename");
    ATTR(ALLOC_SUB_KEY_INDEX, "db_new", "main");
    ATTR(ALLOC_SUB_EXPIRES_INDEX, "ht_resize", "ht_insert", "exp_add", "db_set_expire");
    ATTR(ALLOC_SUB_EXPIRES_INDEX, "exp_add", "db_set_string");
    ATTR(ALLOC_SUB_EXPIRES_INDEX, "db_set_expire", "cmd_expire");
    ATTR(ALLOC_SUB_EXPIRES_INDEX, "ht_resize", "db_persist");
    ATTR(ALLOC_SUB_QUERY_BUF, "read_handler", "evloop_process", "main");
    ATTR(ALLOC_SUB_QUERY_BUF, "set_cap", "grow", "resp_parse", "process_input", "read_handler");
    ATTR(ALLOC_SUB_OUTPUT_BUF, "block_append", "reply_add_raw", "reply_add_bulk", "cmd_get",
         "command_process", "process_input", "read_handler");
    ATTR(ALLOC_SUB_OUTPUT_BUF, "reply_errorf", "process_input", "read_handler");
    ATTR(ALLOC_SUB_CLIENTS, "client_new", "accept_handler");
    ATTR(ALLOC_SUB_CLIENTS, "accept_handler", "evloop_process");
    ATTR(ALLOC_SUB_CLIENTS, "set_client_name", "cmd_client");
    ATTR(ALLOC_SUB_PROFILER, "prof_buf_append", "prof_write_pprof", "worker_main");
    ATTR(ALLOC_SUB_PROFILER, "heap_dump_parse");
    ATTR(ALLOC_SUB_PROFILER, "job_snapshot", "run_job", "worker_main", "start_thread");
    ATTR(ALLOC_SUB_PROFILER, "some_helper", "worker_main", "start_thread");
    ATTR(ALLOC_SUB_PROFILER, "__libdwfl_report_elf", "dwfl_linux_proc_report");
    ATTR(ALLOC_SUB_HTTP, "MHD_start_daemon", "main");
    ATTR(ALLOC_SUB_HTTP, "http_handle_metrics");
    /* a command's own temporaries are not the read buffer it runs under */
    ATTR(ALLOC_SUB_OTHER, "keys_collect", "cmd_keys", "command_process", "process_input",
         "read_handler");
    ATTR(ALLOC_SUB_OTHER, "info_gen", "command_process", "read_handler");
    ATTR(ALLOC_SUB_OTHER, "main");
    ATTR(ALLOC_SUB_OTHER, "0x1234", "0x5678");
    ATTR(ALLOC_SUB_STRINGS, NULL, "db_set_string");
    assert_int_equal(prof_attribute_stack(NULL, 0), ALLOC_SUB_OTHER);
}

/* ---- pprof ------------------------------------------------------------------------------ */

static int gunzip(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK) return -1;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        zs.next_out = buf + n;
        zs.avail_out = (uInt)(cap - n);
        rc = inflate(&zs, Z_NO_FLUSH);
        n = cap - zs.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || zs.avail_in != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

typedef struct pb_reader {
    const unsigned char *p, *e;
} pb_reader;

static int pb_read_varint(pb_reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->e) return -1;
        unsigned char c = *r->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

/* Next field: number, wire type, and its varint value or bytes. */
static int pb_next(pb_reader *r, unsigned *field, unsigned *wire, uint64_t *v, pb_reader *sub) {
    uint64_t key;
    if (pb_read_varint(r, &key)) return -1;
    *field = (unsigned)(key >> 3);
    *wire = (unsigned)(key & 7);
    if (*wire == 0) return pb_read_varint(r, v);
    if (*wire == 2) {
        uint64_t n;
        if (pb_read_varint(r, &n) || n > (uint64_t)(r->e - r->p)) return -1;
        sub->p = r->p;
        sub->e = r->p + n;
        r->p += n;
        return 0;
    }
    return -1; /* the writer uses no other wire types */
}

static void test_pprof(void **state) {
    (void)state;
    prof_profile p;
    build_fake(&p);
    p.time_ns = 1700000000123456789LL;
    prof_buf gz;
    prof_buf_init(&gz);
    assert_int_equal(prof_write_pprof(&p, &gz), 0);
    assert_true(gz.len > 18);
    assert_int_equal((unsigned char)gz.data[0], 0x1f); /* gzip magic */
    assert_int_equal((unsigned char)gz.data[1], 0x8b);
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(gunzip((const unsigned char *)gz.data, gz.len, &raw, &rawlen), 0);

    const char *strs[256] = {0};
    size_t strl[256] = {0}, nstr = 0;
    int nsample_types = 0, nsamples = 0, nlocs = 0, nfuncs = 0, nmaps = 0;
    uint64_t period = 0, time_nanos = 0, default_type = 0, ptype[2] = {0, 0};
    uint64_t first_values[4] = {0, 0, 0, 0}, first_locs[8], nfirst_locs = 0;
    uint64_t func_name_idx[32] = {0};
    pb_reader r = {raw, raw + rawlen};
    while (r.p < r.e) {
        unsigned f, w;
        uint64_t v = 0;
        pb_reader sub = {0};
        assert_int_equal(pb_next(&r, &f, &w, &v, &sub), 0);
        switch (f) {
        case 1:
            nsample_types++;
            break;
        case 2:
            if (nsamples++ == 0) {
                while (sub.p < sub.e) {
                    unsigned f2, w2;
                    uint64_t v2;
                    pb_reader packed;
                    assert_int_equal(pb_next(&sub, &f2, &w2, &v2, &packed), 0);
                    if (f2 == 1) {
                        assert_int_equal(w2, 2); /* packed */
                        while (packed.p < packed.e && nfirst_locs < 8)
                            assert_int_equal(pb_read_varint(&packed, &first_locs[nfirst_locs++]),
                                             0);
                    } else if (f2 == 2) {
                        assert_int_equal(w2, 2);
                        for (int k = 0; k < 4; k++)
                            assert_int_equal(pb_read_varint(&packed, &first_values[k]), 0);
                        assert_true(packed.p == packed.e);
                    }
                }
            }
            break;
        case 3:
            nmaps++;
            break;
        case 4:
            nlocs++;
            break;
        case 5:
            while (sub.p < sub.e) {
                unsigned f2, w2;
                uint64_t v2;
                pb_reader s2;
                assert_int_equal(pb_next(&sub, &f2, &w2, &v2, &s2), 0);
                if (f2 == 2 && nfuncs < 32) func_name_idx[nfuncs] = v2;
            }
            nfuncs++;
            break;
        case 6:
            assert_int_equal(w, 2);
            assert_true(nstr < 256);
            strs[nstr] = (const char *)sub.p;
            strl[nstr++] = (size_t)(sub.e - sub.p);
            break;
        case 9:
            time_nanos = v;
            break;
        case 11: {
            int k = 0;
            while (sub.p < sub.e) {
                unsigned f2, w2;
                uint64_t v2;
                pb_reader s2;
                assert_int_equal(pb_next(&sub, &f2, &w2, &v2, &s2), 0);
                if (k < 2) ptype[k++] = v2;
            }
            break;
        }
        case 12:
            period = v;
            break;
        case 14:
            default_type = v;
            break;
        default:
            fail_msg("unexpected Profile field %u", f);
        }
    }
    assert_true(nstr > 0);
    assert_int_equal(strl[0], 0); /* string_table[0] == "" */
    assert_int_equal(nsample_types, 4);
    assert_int_equal(nsamples, 5);
    assert_int_equal(nlocs, 14);
    assert_int_equal(nfuncs, 12); /* one per distinct name: main at three addresses is one */
    assert_int_equal(nmaps, 3);
    assert_int_equal(period, 524288);
    assert_true(time_nanos == 1700000000123456789ULL);
    assert_true(default_type < nstr);
    assert_int_equal(strl[default_type], strlen("inuse_space"));
    assert_memory_equal(strs[default_type], "inuse_space", strlen("inuse_space"));
    assert_true(ptype[0] < nstr && ptype[1] < nstr);
    assert_memory_equal(strs[ptype[0]], "space", 5);
    assert_memory_equal(strs[ptype[1]], "bytes", 5);
    int found = 0;
    for (int i = 0; i < nfuncs && i < 32; i++)
        if (func_name_idx[i] < nstr && strl[func_name_idx[i]] == strlen("db_set_string") &&
            memcmp(strs[func_name_idx[i]], "db_set_string", strlen("db_set_string")) == 0)
            found = 1;
    assert_true(found);
    /* the first sample: three location ids, values alloc_objects, alloc_space, inuse_objects,
     * inuse_space rounded from the model */
    assert_int_equal(nfirst_locs, 3);
    for (size_t i = 0; i < nfirst_locs; i++)
        assert_true(first_locs[i] >= 1 && first_locs[i] <= 14);
    assert_int_equal(first_values[0], llround(p.samples[0].alloc_objs));
    assert_int_equal(first_values[1], llround(p.samples[0].alloc_bytes));
    assert_int_equal(first_values[2], llround(p.samples[0].live_objs));
    assert_int_equal(first_values[3], llround(p.samples[0].live_bytes));
    free(raw);

    /* go tool pprof reads it and names the function (skipped only where Go is absent) */
    if (access("/usr/bin/go", X_OK) == 0) {
        char path[] = "/tmp/memkv_test_profiler_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, gz.data, gz.len), (ssize_t)gz.len);
        close(fd);
        char cmd[512], out[8192];
        snprintf(cmd, sizeof(cmd), "/usr/bin/go tool pprof -top -sample_index=inuse_space %s 2>&1",
                 path);
        FILE *pipe = popen(cmd, "r");
        assert_non_null(pipe);
        size_t n = fread(out, 1, sizeof(out) - 1, pipe);
        out[n] = '\0';
        int status = pclose(pipe);
        unlink(path);
        /* "File:" names the first mapping: the executable goes before the libraries */
        if (status != 0 || !strstr(out, "db_set_string") || !strstr(out, "ht_resize") ||
            !strstr(out, "File: memkv-server"))
            fail_msg("go tool pprof (status %d) said:\n%s", status, out);
    } else {
        print_message("go not installed: skipping the go tool pprof check\n");
    }
    prof_buf_free(&gz);
    prof_profile_free(&p);
}

/* ---- a hand-made profile for the writers and reports ------------------------------------ */

static prof_location hand_locs[] = {
    {0x10, "site_a", "/bin/x"}, {0x20, "mid", "/bin/x"},    {0x30, "main", "/bin/x"},
    {0x40, "site_b", "/bin/x"}, {0x50, "site_a", "/bin/x"}, {0x60, "a<b>&\"c' x", NULL},
    {0x70, "cold", "/bin/x"},
};
static uint32_t hand_s0[] = {0, 1, 2}, hand_s1[] = {3, 1, 2}, hand_s2[] = {4, 1, 2},
                hand_s3[] = {5, 2}, hand_s4[] = {6, 2};

static void hand_profile(prof_profile *p, prof_sample samples[5]) {
    memset(p, 0, sizeof(*p));
    samples[0] = (prof_sample){hand_s0, 3, 2, 100.4, 2, 100.4, ALLOC_SUB_STRINGS};
    samples[1] = (prof_sample){hand_s1, 3, 1, 50, 1, 50, ALLOC_SUB_OUTPUT_BUF};
    samples[2] = (prof_sample){hand_s2, 3, 1, 10, 1, 10, ALLOC_SUB_KEY_INDEX};
    samples[3] = (prof_sample){hand_s3, 2, 1, 7, 1, 7, ALLOC_SUB_OTHER};
    samples[4] = (prof_sample){hand_s4, 2, 0, 0, 5, 500, ALLOC_SUB_OTHER}; /* freed since */
    p->sample_period = 524288;
    p->time_ns = 1;
    p->locs = hand_locs;
    p->nlocs = sizeof(hand_locs) / sizeof(hand_locs[0]);
    p->samples = samples;
    p->nsamples = 5;
}

static void test_collapsed(void **state) {
    (void)state;
    prof_profile p;
    prof_sample samples[5];
    hand_profile(&p, samples);
    prof_buf b;
    prof_buf_init(&b);
    assert_int_equal(prof_write_collapsed(&p, &b), 0);
    /* outermost first; site_a at two addresses is one stack (100.4 + 10); sorted; the stack
     * with no live bytes left out; separators inside a name replaced */
    assert_string_equal(b.data, "main;a<b>&\"c'_x 7\n"
                                "main;mid;site_a 110\n"
                                "main;mid;site_b 50\n");
    prof_buf_free(&b);

    /* from a built profile */
    build_fake(&p);
    prof_buf_init(&b);
    assert_int_equal(prof_write_collapsed(&p, &b), 0);
    assert_string_equal(b.data, "main;cmd_set;db_set_string 6841422\n"
                                "main;db_set_expire;exp_add;ht_resize 10487808\n"
                                "main;reply_add_bulk;block_append 1597568\n"
                                "malloc 524352\n"
                                "start_thread;free;worker_leak 524320\n");
    prof_buf_free(&b);
    prof_profile_free(&p);
}

/* Balanced tags, quoted attributes, only the five predefined entities, one root element. */
static int xml_well_formed(const char *s, const char **why) {
    char stack[64][32];
    int depth = 0, roots = 0;
    while (*s) {
        if (*s == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int ok = 0;
            for (int i = 0; i < 5; i++)
                if (strncmp(s, ents[i], strlen(ents[i])) == 0) ok = 1;
            if (!ok) return *why = "bad entity", 0;
            s++;
            continue;
        }
        if (*s == '>') return *why = "stray '>'", 0;
        if (*s != '<') {
            s++;
            continue;
        }
        if (strncmp(s, "<?", 2) == 0) {
            const char *e = strstr(s, "?>");
            if (!e) return *why = "unterminated <?", 0;
            s = e + 2;
            continue;
        }
        int closing = s[1] == '/';
        s += closing ? 2 : 1;
        char name[32];
        size_t n = 0;
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-' || *s == ':')
            if (n < sizeof(name) - 1)
                name[n++] = *s++;
            else
                return *why = "long name", 0;
        name[n] = '\0';
        if (!n) return *why = "empty tag name", 0;
        int self = 0;
        while (*s && *s != '>') {
            if (*s == '"') {
                const char *q = s + 1;
                while (*q && *q != '"') {
                    if (*q == '<') return *why = "'<' in an attribute", 0;
                    if (*q == '&') {
                        if (strncmp(q, "&amp;", 5) && strncmp(q, "&lt;", 4) &&
                            strncmp(q, "&gt;", 4) && strncmp(q, "&quot;", 6) &&
                            strncmp(q, "&apos;", 6))
                            return *why = "bad entity in an attribute", 0;
                    }
                    q++;
                }
                if (!*q) return *why = "unterminated attribute", 0;
                s = q + 1;
                continue;
            }
            if (*s == '<' || *s == '\'') return *why = "bad character in a tag", 0;
            self = *s == '/';
            s++;
        }
        if (!*s) return *why = "unterminated tag", 0;
        s++;
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
                return *why = "mismatched closing tag", 0;
            depth--;
        } else if (!self) {
            if (depth == 0) roots++;
            if (depth == 64) return *why = "too deep", 0;
            snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
        } else if (depth == 0) {
            roots++;
        }
    }
    if (depth) return *why = "unclosed element", 0;
    if (roots != 1) return *why = "not exactly one root", 0;
    return 1;
}

static size_t count_of(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *q = strstr(s, needle); q; q = strstr(q + 1, needle))
        n++;
    return n;
}

/* The console's stack tree: nested [name, bytes, [children]], largest child first. */
static void test_json_tree(void **state) {
    (void)state;
    prof_profile p;
    prof_sample samples[5];
    hand_profile(&p, samples);
    prof_buf b;
    prof_buf_init(&b);
    assert_int_equal(prof_write_json(&p, &b), 0);
    assert_non_null(strstr(b.data, "\"total_bytes\":167,"));
    assert_non_null(strstr(b.data, "\"root\":[\"all\",167,[[\"main\",167,["));
    assert_non_null(strstr(b.data, "[\"site_a\",110,[]]"));
    assert_non_null(strstr(b.data, "[\"a<b>&\\\"c' x\",7,[]]")); /* '"' escaped */
    assert_null(strstr(b.data, "cold"));                         /* no live bytes */
    /* site_a (110) comes before the smaller siblings */
    const char *a = strstr(b.data, "site_a"), *bb = strstr(b.data, "site_b");
    assert_true(a && bb && a < bb);
    assert_true(b.len > 2 && strcmp(b.data + b.len - 2, "}\n") == 0);
    prof_buf_free(&b);
    memset(&p, 0, sizeof(p));
    prof_buf_init(&b);
    assert_int_equal(prof_write_json(&p, &b), 0);
    assert_non_null(strstr(b.data, "\"root\":[\"all\",0,[]]"));
    prof_buf_free(&b);
}

static void test_svg(void **state) {
    (void)state;
    prof_profile p;
    prof_sample samples[5];
    hand_profile(&p, samples);
    prof_buf b;
    prof_buf_init(&b);
    assert_int_equal(prof_write_svg(&p, "heap <of> \"memkv\" & 'friends'", &b), 0);
    const char *why = "";
    if (!xml_well_formed(b.data, &why)) fail_msg("SVG not well formed: %s", why);
    assert_non_null(strstr(b.data, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_null(strstr(b.data, "<script"));
    assert_non_null(strstr(b.data, "heap &lt;of&gt; &quot;memkv&quot; &amp; &apos;friends&apos;"));
    /* every frame box: all, main, mid, site_a, site_b, the odd name (cold has no live bytes) */
    assert_int_equal(count_of(b.data, "<g><title>"), 6);
    assert_int_equal(count_of(b.data, "<rect"), 7); /* plus the background */
    assert_int_equal(count_of(b.data, "<text"), 6 + 2);
    assert_non_null(strstr(b.data, "<title>site_a (110 bytes, 65.95%)</title>"));
    assert_non_null(strstr(b.data, "<title>all (167 bytes, 100.00%)</title>"));
    assert_non_null(strstr(b.data, "<title>a&lt;b&gt;&amp;&quot;c&apos; x (7 bytes, 4.18%)"));
    assert_null(strstr(b.data, "a<b>"));
    assert_null(strstr(b.data, "cold"));
    assert_non_null(strstr(b.data, ">site_b</text>"));
    assert_true(b.len > 7 && strcmp(b.data + b.len - 7, "</svg>\n") == 0);

    /* libxml2's parser too: scripts/lib.sh installs libxml2-utils, so a missing xmllint is a
     * broken set-up, not a reason to skip. */
    if (access("/usr/bin/xmllint", X_OK) != 0)
        fail_msg("/usr/bin/xmllint not found: install libxml2-utils (scripts/lib.sh does)");
    {
        char path[] = "/tmp/memkv_test_profiler_svg_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
        close(fd);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout %s", path);
        int status = system(cmd);
        unlink(path);
        assert_int_equal(status, 0);
    }
    prof_buf_free(&b);

    /* a built profile, and an empty one, are well formed too */
    build_fake(&p);
    prof_buf_init(&b);
    assert_int_equal(prof_write_svg(&p, NULL, &b), 0);
    if (!xml_well_formed(b.data, &why)) fail_msg("SVG not well formed: %s", why);
    assert_non_null(strstr(b.data, "db_set_string"));
    assert_non_null(strstr(b.data, "memkv heap profile"));
    prof_buf_free(&b);
    prof_profile_free(&p);
    memset(&p, 0, sizeof(p));
    prof_buf_init(&b);
    assert_int_equal(prof_write_svg(&p, "", &b), 0);
    if (!xml_well_formed(b.data, &why)) fail_msg("empty SVG not well formed: %s", why);
    assert_non_null(strstr(b.data, "no live sampled bytes"));
    prof_buf_free(&b);
}

/* ---- reports ---------------------------------------------------------------------------- */

static void test_top_sites(void **state) {
    (void)state;
    prof_profile p;
    prof_sample samples[5];
    hand_profile(&p, samples);
    prof_site sites[8];
    size_t n = prof_top_sites(&p, sites, 8);
    assert_int_equal(n, 3); /* cold holds no live bytes */
    assert_string_equal(sites[0].func, "site_a");
    assert_float_equal(sites[0].live_bytes, 110.4, 1e-9);
    assert_float_equal(sites[0].live_objs, 3, 1e-9);
    assert_float_equal(sites[0].share, 110.4 / 167.4, 1e-9);
    assert_int_equal(sites[0].subsystem, ALLOC_SUB_STRINGS); /* the larger of its two paths */
    assert_string_equal(sites[1].func, "site_b");
    assert_int_equal(sites[1].subsystem, ALLOC_SUB_OUTPUT_BUF);
    assert_float_equal(sites[1].share, 50 / 167.4, 1e-9);
    assert_string_equal(sites[2].func, "a<b>&\"c' x");
    assert_int_equal(prof_top_sites(&p, sites, 1), 1);
    assert_string_equal(sites[0].func, "site_a");
    assert_int_equal(prof_top_sites(&p, sites, 0), 0);

    double by[ALLOC_SUB_COUNT + 1];
    by[ALLOC_SUB_COUNT] = 42;
    prof_bytes_by_subsystem(&p, by, ALLOC_SUB_COUNT);
    assert_float_equal(by[ALLOC_SUB_STRINGS], 100.4, 1e-9);
    assert_float_equal(by[ALLOC_SUB_KEY_INDEX], 10, 1e-9);
    assert_float_equal(by[ALLOC_SUB_OTHER], 7, 1e-9);
    assert_float_equal(by[ALLOC_SUB_COUNT], 42, 0); /* nothing written past nsub */

    /* built: the allocation sites after stripping */
    build_fake(&p);
    n = prof_top_sites(&p, sites, 8);
    assert_int_equal(n, 5);
    assert_string_equal(sites[0].func, "ht_resize");
    assert_int_equal(sites[0].subsystem, ALLOC_SUB_EXPIRES_INDEX);
    assert_string_equal(sites[1].func, "db_set_string");
    assert_string_equal(sites[2].func, "block_append");
    assert_string_equal(sites[3].func, "malloc");
    assert_string_equal(sites[4].func, "worker_leak");
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sites[i].share;
    assert_float_equal(sum, 1.0, 1e-9);
    prof_profile_free(&p);
}

static void set_site(prof_snapshot_site *s, const char *func, double bytes) {
    snprintf(s->func, sizeof(s->func), "%s", func);
    s->live_bytes = bytes;
}

static void test_leak_suspects(void **state) {
    (void)state;
    enum { NS = 7 };
    prof_snapshot snaps[NS];
    prof_snapshot_site sites[NS][8];
    static const double slow[NS] = {100, 150, 150, 200, 250, 250, 300};       /* 4 of 6: yes */
    static const double osc[NS] = {100, 200, 100, 200, 100, 200, 100};        /* 3 of 6: no */
    static const double late[NS] = {100, 200, 100, 200, 100, 200, 300};       /* 4 of 6, +200 */
    static const double spike[NS] = {0, 0, 0, 0, 0, 0, 5000};                 /* 1 of 6: no */
    static const double tiny[NS] = {100, 100.5, 101, 101.5, 102, 102.5, 103}; /* < 1 B steps */
    for (int i = 0; i < NS; i++) {
        size_t k = 0;
        snaps[i].time_ns = (int64_t)i * 10 * 1000000000LL;
        snaps[i].sites = sites[i];
        set_site(&sites[i][k++], "flat", 1000);
        if (i == 3) { /* one name twice in a snapshot: summed */
            set_site(&sites[i][k++], "leaky", 200);
            set_site(&sites[i][k++], "leaky", 200);
        } else {
            set_site(&sites[i][k++], "leaky", 100.0 * (i + 1));
        }
        set_site(&sites[i][k++], "slow", slow[i]);
        set_site(&sites[i][k++], "osc", osc[i]);
        set_site(&sites[i][k++], "late", late[i]);
        if (spike[i] > 0) set_site(&sites[i][k++], "spike", spike[i]);
        set_site(&sites[i][k++], "tiny", tiny[i]);
        if (i < NS - 1) set_site(&sites[i][k++], "gone", 1000.0 * i);
        snaps[i].nsites = k;
    }
    prof_suspect out[8];
    size_t n = prof_leak_suspects(snaps, NS, out, 8);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].func, "leaky");
    assert_float_equal(out[0].live_bytes, 700, 1e-9);
    assert_float_equal(out[0].growth_bytes, 600, 1e-9);
    assert_float_equal(out[0].bytes_per_sec, 10, 1e-9);
    assert_int_equal(out[0].grew_intervals, 6);
    assert_int_equal(out[0].intervals, 6);
    /* slow and late both grew by 200 in 4 of 6 intervals: by name */
    assert_string_equal(out[1].func, "late");
    assert_string_equal(out[2].func, "slow");
    assert_int_equal(out[2].grew_intervals, 4);
    assert_float_equal(out[2].growth_bytes, 200, 1e-9);

    assert_int_equal(prof_leak_suspects(snaps, NS, out, 1), 1);
    assert_string_equal(out[0].func, "leaky");
    /* over the last two snapshots only: one interval, anything that grew in it */
    n = prof_leak_suspects(snaps + NS - 2, 2, out, 8);
    assert_int_equal(n, 4); /* spike 5000, leaky 100, late 100, slow 50 */
    assert_string_equal(out[0].func, "spike");
    assert_int_equal(out[0].intervals, 1);
    assert_int_equal(prof_leak_suspects(snaps, 1, out, 8), 0);
    assert_int_equal(prof_leak_suspects(NULL, 0, out, 8), 0);

    /* a growing function ranks first among many flat ones */
    prof_snapshot big[5];
    prof_snapshot_site *bs = calloc(5 * 200, sizeof(*bs));
    assert_non_null(bs);
    for (int i = 0; i < 5; i++) {
        big[i].time_ns = 1000000000LL * i;
        big[i].sites = bs + i * 200;
        big[i].nsites = 200;
        for (int j = 0; j < 200; j++) {
            char name[32];
            snprintf(name, sizeof(name), "f%03d", j);
            set_site(&big[i].sites[j], j == 123 ? "planted_leak" : name,
                     j == 123 ? 4096.0 * (i + 1) : 1e6 + (j % 2 ? 1e5 : -1e5) * (i % 2));
        }
    }
    n = prof_leak_suspects(big, 5, out, 8);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].func, "planted_leak");
    assert_float_equal(out[0].bytes_per_sec, 4096, 1e-9);
    free(bs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_dump),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_truncations),
        cmocka_unit_test(test_parse_many_stacks),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_allocator_frames),
        cmocka_unit_test(test_attribution),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_build_without_symbols),
        cmocka_unit_test(test_pprof),
        cmocka_unit_test(test_collapsed),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_json_tree),
        cmocka_unit_test(test_top_sites),
        cmocka_unit_test(test_leak_suspects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
