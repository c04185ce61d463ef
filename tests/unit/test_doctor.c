/* Unit tests of the memory doctor on synthetic snapshots: each rule fires on its planted
 * situation, stays quiet below its thresholds and on small instances, and names the culprit. */
#include "memory/memory.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* jemalloc 5.3's small size classes (4 KiB pages) with their regions per slab. */
static const size_t class_sizes[] = {8,    16,   32,   48,   64,   80,   96,    112,   128,
                                     160,  192,  224,  256,  320,  384,  448,   512,   640,
                                     768,  896,  1024, 1280, 1536, 1792, 2048,  2560,  3072,
                                     3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336};
#define NCLASSES (sizeof(class_sizes) / sizeof(class_sizes[0]))

static mem_bin bins[NCLASSES];

/* Bins with no waste anywhere, then the caller plants some. */
static void bins_clean(void) {
    memset(bins, 0, sizeof(bins));
    for (size_t i = 0; i < NCLASSES; i++) {
        bins[i].size = class_sizes[i];
        bins[i].nregs = (uint32_t)(class_sizes[i] < 4096 ? 16384 / class_sizes[i] : 4);
        bins[i].curslabs = 10;
        bins[i].curregs = (size_t)bins[i].nregs * 10;
    }
}

/* Plant free_bytes in the class of that size (whole regions). */
static void bins_plant(size_t size, size_t free_bytes) {
    for (size_t i = 0; i < NCLASSES; i++) {
        if (bins[i].size != size) continue;
        size_t free_regs = free_bytes / size;
        size_t slabs = (free_regs + bins[i].nregs - 1) / bins[i].nregs * 2;
        bins[i].curslabs = slabs;
        bins[i].curregs = slabs * bins[i].nregs - free_regs;
        bins[i].free_bytes = free_regs * size;
        return;
    }
    fail_msg("no class %zu", size);
}

static void add_sub(mem_snapshot *s, const char *name, size_t bytes) {
    s->sub[s->nsub].name = name;
    s->sub[s->nsub].bytes = bytes;
    s->nsub++;
}

/* A healthy instance: used memory `used`, allocator figures close to it, RSS = baseline +
 * resident + a little, subsystems that add up to used memory (mostly data). */
static void snap_healthy(mem_snapshot *s, size_t used) {
    memset(s, 0, sizeof(*s));
    bins_clean();
    s->alloc.available = 1;
    snprintf(s->alloc.version, sizeof(s->alloc.version), "5.3.0");
    s->alloc.allocated = used;
    s->alloc.active = used + used / 20;
    s->alloc.metadata = used / 50 + 2 * MIB;
    s->alloc.resident = s->alloc.active + s->alloc.metadata + used / 20;
    s->alloc.mapped = s->alloc.resident + 4 * MIB;
    s->alloc.retained = s->alloc.mapped / 2;
    s->alloc.background_thread = 1;
    s->alloc.dirty_decay_ms = 10000;
    s->alloc.muzzy_decay_ms = 0;
    s->alloc.narenas = 4;
    s->alloc.page_size = 4096;
    s->rss_baseline = 9 * MIB;
    s->rss = s->rss_baseline + s->alloc.resident;
    s->used_memory = used;
    s->used_memory_peak = used + used / 10;
    s->bins = bins;
    s->nbins = NCLASSES;
    s->clients = 3;
    s->keys = used / 100;
    size_t clients = 3 * (20 * KIB), other = used / 50;
    size_t data = used - clients - other;
    add_sub(s, "strings", data * 7 / 10);
    add_sub(s, "key_index", data - data * 7 / 10);
    add_sub(s, "clients", clients);
    add_sub(s, "other", other);
    add_sub(s, "output_buffers", 0);
    add_sub(s, "query_buffers", 0);
}

static size_t run(const mem_snapshot *s, mem_finding *f, size_t cap) {
    return mem_doctor(s, NULL, f, cap);
}

static const mem_finding *find_code(const mem_finding *f, size_t n, const char *code) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].code, code) == 0) return &f[i];
    return NULL;
}

/* Run the doctor into f (16 entries) and look for one code. */
static const mem_finding *run_find(const mem_snapshot *s, mem_finding *f, const char *code) {
    size_t n = run(s, f, 16);
    return find_code(f, n, code);
}

/* Every finding's text is whole (not cut by the buffer), has no newline, and has a next step. */
static void check_texts(const mem_finding *f, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(f[i].text);
        assert_true(len > 40);
        assert_true(len < sizeof(f[i].text) - 1);
        assert_null(strchr(f[i].text, '\n'));
        assert_true(f[i].text[len - 1] == '.');
    }
}

/* Every line of a report fits redis-cli: under 100 columns. */
static void check_report_lines(const char *r) {
    const char *p = r;
    while (*p) {
        size_t len = strcspn(p, "\n");
        if (len >= 100) fail_msg("line too long (%zu): %.*s", len, (int)len, p);
        p += len;
        if (*p == '\n') p++;
    }
}

static char *report(const mem_snapshot *s) {
    char *r = mem_doctor_report(s, NULL);
    assert_non_null(r);
    check_report_lines(r);
    return r;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_defaults(void **state) {
    (void)state;
    mem_doctor_limits l = mem_doctor_limits_default();
    assert_int_equal(l.min_waste_bytes, 32 * MIB);
    assert_true(l.frag_ratio == 1.3);
    assert_true(l.rss_ratio == 1.3);
    assert_true(l.rss_overhead_ratio == 1.5);
    assert_true(l.subsystem_share == 0.5);
    assert_true(l.client_share == 0.2);
    assert_true(l.peak_ratio == 2.0);
    assert_true(l.maxmemory_share == 0.9);
    assert_true(l.retained_ratio == 4.0);
    assert_int_equal(l.script_evicted_min, 1000);
    assert_true(l.script_churn_share == 0.5);
    assert_int_equal(l.script_count_min, 1000);
    assert_true(l.script_share == 0.25);
}

static void test_fresh_small_server(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 900 * KIB);
    /* An empty server's ratios are awful (RSS 10x used), and mean nothing. */
    s.alloc.allocated = 900 * KIB;
    s.alloc.active = 1400 * KIB;
    s.alloc.resident = 6 * MIB;
    s.rss = 14 * MIB;
    mem_finding f[16];
    assert_int_equal(run(&s, f, 16), 0);
    char *r = report(&s);
    assert_true(strncmp(r, "No memory problems found.\n", 26) == 0);
    assert_non_null(strstr(r, "small"));
    assert_non_null(strstr(r, "All is well"));
    assert_non_null(strstr(r, "Key figures:"));
    assert_non_null(strstr(r, "allocator_frag"));
    mem_text_free(r);
}

static void test_big_healthy_server(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 2 * GIB);
    mem_finding f[16];
    assert_int_equal(run(&s, f, 16), 0);
    char *r = report(&s);
    assert_true(strncmp(r, "No memory problems found.\n", 26) == 0);
    assert_null(strstr(r, "small"));
    assert_non_null(strstr(r, "within their limits"));
    mem_text_free(r);
}

/* Ratio 1.8 with 300 MiB of holes, mostly in the 1024-byte class. */
static void plant_fragmentation(mem_snapshot *s, size_t allocated) {
    size_t waste = allocated * 8 / 10;
    s->alloc.allocated = allocated;
    s->alloc.active = allocated + waste;
    s->alloc.resident = s->alloc.active + s->alloc.metadata + allocated / 40;
    s->alloc.mapped = s->alloc.resident + 8 * MIB;
    s->rss = s->rss_baseline + s->alloc.resident;
    bins_plant(1024, waste * 80 / 100);
    bins_plant(512, waste * 10 / 100);
    bins_plant(64, waste * 2 / 100);
    bins_plant(8192, waste * 1 / 100);
}

static void test_fragmentation_names_size_class(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 375 * MIB);
    plant_fragmentation(&s, 375 * MIB);
    assert_int_equal(s.alloc.active - s.alloc.allocated, 300 * MIB);
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "allocator-fragmentation");
    assert_int_equal(f[0].severity, MEM_CRITICAL);
    assert_int_equal(f[0].bytes, 300 * MIB);
    const char *t = f[0].text;
    assert_non_null(strstr(t, "300.00M"));
    assert_non_null(strstr(t, "1.80"));
    /* the culprit first, with its share of the waste; then the next two */
    const char *c1024 = strstr(t, "1024 B (240.00M free, 80%)");
    const char *c512 = strstr(t, "512 B");
    const char *c64 = strstr(t, "64 B");
    assert_non_null(c1024);
    assert_non_null(c512);
    assert_non_null(c64);
    assert_true(c1024 < c512 && c512 < c64);
    assert_null(strstr(t, "8192 B")); /* only the top three */
    assert_non_null(strstr(t, "MEMORY MALLOC-STATS"));

    char *r = report(&s);
    assert_true(strncmp(r, "1 finding(s):\n", 14) == 0);
    assert_non_null(strstr(r, "1. [critical] Allocator fragmentation"));
    mem_text_free(r);
}

static void test_fragmentation_small_instance_quiet(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 2 * MIB);
    plant_fragmentation(&s, 2 * MIB);
    assert_true((double)s.alloc.active / (double)s.alloc.allocated > 1.79);
    mem_finding f[16];
    assert_int_equal(run(&s, f, 16), 0);
    char *r = report(&s);
    assert_true(strncmp(r, "No memory problems found.\n", 26) == 0);
    mem_text_free(r);
}

static void test_fragmentation_bytes_but_low_ratio_quiet(void **state) {
    (void)state;
    /* 1 GiB of holes in a 10 GiB instance: ratio 1.1, under the limit. */
    mem_snapshot s;
    snap_healthy(&s, 10 * GIB);
    s.alloc.active = s.alloc.allocated + GIB;
    s.alloc.resident = s.alloc.active + s.alloc.metadata;
    s.rss = s.rss_baseline + s.alloc.resident;
    mem_finding f[16];
    assert_null(run_find(&s, f, "allocator-fragmentation"));
}

static void test_client_output_buffer(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 600 * MIB);
    s.sub[4].bytes = 500 * MIB + 300 * KIB; /* output_buffers: nearly all of it one client */
    s.sub[0].bytes -= 500 * MIB;
    s.top_obuf.id = 4242;
    snprintf(s.top_obuf.addr, sizeof(s.top_obuf.addr), "10.0.0.7:51234");
    snprintf(s.top_obuf.name, sizeof(s.top_obuf.name), "slow-reader");
    s.top_obuf.bytes = 500 * MIB;
    s.top_qbuf.id = 7;
    snprintf(s.top_qbuf.addr, sizeof(s.top_qbuf.addr), "10.0.0.8:40000");
    s.top_qbuf.bytes = 2 * MIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1); /* the client, not also its subsystem */
    assert_string_equal(f[0].code, "client-output-buffer");
    assert_int_equal(f[0].severity, MEM_CRITICAL);
    assert_non_null(strstr(f[0].text, "id 4242"));
    assert_non_null(strstr(f[0].text, "10.0.0.7:51234"));
    assert_non_null(strstr(f[0].text, "slow-reader"));
    assert_non_null(strstr(f[0].text, "500.00M"));
    assert_non_null(strstr(f[0].text, "CLIENT KILL ID 4242"));
    assert_non_null(strstr(f[0].text, "CONFIG SET client-output-buffer-limit \"normal 128mb"));
}

static void test_output_buffers_spread_over_clients(void **state) {
    (void)state;
    /* 500 MiB of output buffers over many clients, none of them big: name the subsystem. */
    mem_snapshot s;
    snap_healthy(&s, 600 * MIB);
    s.sub[4].bytes = 500 * MIB;
    s.sub[0].bytes -= 500 * MIB;
    s.top_obuf.id = 11;
    snprintf(s.top_obuf.addr, sizeof(s.top_obuf.addr), "127.0.0.1:6000");
    s.top_obuf.bytes = 20 * MIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "subsystem-output_buffers");
    assert_non_null(strstr(f[0].text, "output_buffers"));
    assert_non_null(strstr(f[0].text, "CLIENT LIST"));
}

static void test_client_query_buffer(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 400 * MIB);
    s.top_qbuf.id = 99;
    snprintf(s.top_qbuf.addr, sizeof(s.top_qbuf.addr), "[::1]:7000");
    s.top_qbuf.bytes = 150 * MIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    const mem_finding *c = find_code(f, n, "client-query-buffer");
    assert_non_null(c);
    assert_non_null(strstr(c->text, "id 99 (addr [::1]:7000)"));
    assert_non_null(strstr(c->text, "CLIENT KILL ID 99"));
    assert_non_null(strstr(c->text, "client-query-buffer-limit"));

    /* The same client on a small instance, and a big instance where it is a small share. */
    s.top_qbuf.bytes = 20 * MIB;
    assert_null(run_find(&s, f, "client-query-buffer"));
    snap_healthy(&s, 4 * GIB);
    s.top_qbuf.bytes = 500 * MIB;
    assert_null(run_find(&s, f, "client-query-buffer"));
}

static void test_subsystem_other_dominates(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 1 * GIB);
    s.sub[3].bytes = 700 * MIB; /* other */
    s.sub[0].bytes = 200 * MIB;
    s.sub[1].bytes = 1 * GIB - 900 * MIB - s.sub[2].bytes;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "subsystem-other");
    assert_non_null(strstr(f[0].text, "700.00M"));
    assert_non_null(strstr(f[0].text, "68%"));
    assert_non_null(strstr(f[0].text, "CONFIG SET memory-profiling-enabled yes"));

    /* Data dominating is what a database is for. */
    snap_healthy(&s, 1 * GIB);
    assert_int_equal(run(&s, f, 16), 0);
}

static void test_dirty_pages_purge(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 400 * MIB);
    s.alloc.resident = s.alloc.active + s.alloc.metadata + 500 * MIB;
    s.alloc.mapped = s.alloc.resident + 8 * MIB;
    s.alloc.background_thread = 0;
    s.rss = s.rss_baseline + s.alloc.resident;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "allocator-rss");
    assert_int_equal(f[0].bytes, 500 * MIB);
    assert_non_null(strstr(f[0].text, "500.00M"));
    assert_non_null(strstr(f[0].text, "MEMORY PURGE"));
    assert_non_null(strstr(f[0].text, "background_thread is off"));
    assert_non_null(strstr(f[0].text, "dirty_decay_ms 10000"));

    s.alloc.background_thread = 1;
    (void)run(&s, f, 16);
    assert_non_null(strstr(f[0].text, "background thread also returns them"));
    s.alloc.dirty_decay_ms = -1;
    (void)run(&s, f, 16);
    assert_non_null(strstr(f[0].text, "Decay is off"));

    /* The same gap made of metadata is not purgeable: no purge advice. */
    snap_healthy(&s, 400 * MIB);
    s.alloc.metadata = 500 * MIB;
    s.alloc.resident = s.alloc.active + s.alloc.metadata;
    s.rss = s.rss_baseline + s.alloc.resident;
    assert_null(run_find(&s, f, "allocator-rss"));
}

static void test_rss_overhead_minds_baseline(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 100 * MIB);
    /* 300 MiB outside the allocator, on top of a 9 MiB baseline. */
    s.rss = s.rss_baseline + s.alloc.resident + 300 * MIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    const mem_finding *o = find_code(f, n, "rss-overhead");
    assert_non_null(o);
    assert_int_equal(o->bytes, 300 * MIB);
    assert_non_null(strstr(o->text, "300.00M"));
    assert_non_null(strstr(o->text, "pmap"));

    /* A fat baseline (e.g. big libraries) is not memkv's overhead. */
    snap_healthy(&s, 40 * MIB);
    s.rss_baseline = 200 * MIB;
    s.rss = s.rss_baseline + s.alloc.resident;
    assert_int_equal(run(&s, f, 16), 0);
}

static void test_retained_is_at_most_info(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 500 * MIB);
    s.alloc.retained = 40 * GIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "retained");
    assert_int_equal(f[0].severity, MEM_INFO);
    assert_non_null(strstr(f[0].text, "not RSS"));
    char *r = report(&s);
    assert_true(strncmp(r, "No memory problems found.\n", 26) == 0);
    assert_non_null(strstr(r, "1. [info] Retained"));
    mem_text_free(r);

    /* Retained a few times mapped (under the ratio), or many times but not huge: nothing. */
    s.alloc.retained = 3 * s.alloc.mapped;
    assert_int_equal(run(&s, f, 16), 0);
    snap_healthy(&s, 50 * MIB);
    s.alloc.retained = 15 * s.alloc.mapped;
    assert_true(s.alloc.retained < GIB);
    assert_int_equal(run(&s, f, 16), 0);
}

static void test_peak(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    /* After a peak the RSS stays high, spread over parts none of which crosses its own limit
     * (holes 1.30, free pages 1.29, outside 1.12): the peak finding adds them up and points at
     * the largest part, the free pages. */
    snap_healthy(&s, 200 * MIB);
    s.used_memory_peak = 400 * MIB;
    s.alloc.allocated = 200 * MIB;
    s.alloc.active = 260 * MIB;
    s.alloc.metadata = 10 * MIB;
    s.alloc.resident = s.alloc.active + s.alloc.metadata + 65 * MIB;
    s.rss = s.rss_baseline + s.alloc.resident + 40 * MIB;
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "peak");
    assert_int_equal(f[0].severity, MEM_WARNING);
    assert_int_equal(f[0].bytes, 175 * MIB);
    assert_non_null(strstr(f[0].text, "400.00M"));
    assert_non_null(strstr(f[0].text, "65.00M are freed pages"));
    assert_non_null(strstr(f[0].text, "Next: MEMORY PURGE"));

    /* The same, but allocator metadata holds it: the next step says so, not PURGE. */
    snap_healthy(&s, 200 * MIB);
    s.used_memory_peak = 1 * GIB;
    s.alloc.active = 250 * MIB;
    s.alloc.metadata = 650 * MIB;
    s.alloc.resident = 900 * MIB;
    s.rss = s.rss_baseline + 900 * MIB;
    n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "peak");
    assert_non_null(strstr(f[0].text, "650.00M allocator metadata"));
    assert_null(strstr(f[0].text, "MEMORY PURGE"));

    /* RSS came down with used memory: nothing to say. */
    snap_healthy(&s, 200 * MIB);
    s.used_memory_peak = 1 * GIB;
    assert_int_equal(run(&s, f, 16), 0);

    /* Dirty pages explain it: the allocator finding leads, the peak is a note. */
    s.alloc.resident = s.alloc.active + s.alloc.metadata + 700 * MIB;
    s.rss = s.rss_baseline + s.alloc.resident;
    n = run(&s, f, 16);
    assert_string_equal(f[0].code, "allocator-rss");
    const mem_finding *p = find_code(f, n, "peak");
    assert_non_null(p);
    assert_int_equal(p->severity, MEM_INFO);
}

static void test_maxmemory(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 950 * MIB);
    s.maxmemory = 1 * GIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "maxmemory");
    assert_int_equal(f[0].severity, MEM_WARNING);
    assert_non_null(strstr(f[0].text, "93%"));
    assert_non_null(strstr(f[0].text, "OOM"));

    s.maxmemory_policy = "noeviction";
    s.used_memory = 1 * GIB;
    (void)run(&s, f, 16);
    assert_int_equal(f[0].severity, MEM_CRITICAL);

    s.maxmemory_policy = "allkeys-lru";
    n = run(&s, f, 16);
    assert_int_equal(n, 1);
    assert_int_equal(f[0].severity, MEM_INFO);
    assert_non_null(strstr(f[0].text, "allkeys-lru"));

    /* Under 90%: nothing. */
    s.maxmemory_policy = NULL;
    s.used_memory = 800 * MIB;
    assert_int_equal(run(&s, f, 16), 0);

    /* A limit bites at any size, even on a small instance. */
    snap_healthy(&s, 3 * MIB);
    s.maxmemory = 3 * MIB + 100 * KIB;
    n = run(&s, f, 16);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "maxmemory");
}

static void test_ordering_worst_first(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 375 * MIB);
    plant_fragmentation(&s, 375 * MIB); /* critical, 300 MiB */
    s.alloc.retained = 64 * GIB;        /* info */
    s.maxmemory = 400 * MIB;            /* warning */
    s.top_qbuf.id = 5;                  /* warning, 90 MiB */
    snprintf(s.top_qbuf.addr, sizeof(s.top_qbuf.addr), "10.1.1.1:1");
    s.top_qbuf.bytes = 90 * MIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 4);
    assert_string_equal(f[0].code, "allocator-fragmentation");
    assert_string_equal(f[1].code, "client-query-buffer");
    assert_string_equal(f[2].code, "maxmemory");
    assert_string_equal(f[3].code, "retained");
    for (size_t i = 1; i < n; i++) {
        assert_true(f[i].severity <= f[i - 1].severity);
        if (f[i].severity == f[i - 1].severity) assert_true(f[i].bytes <= f[i - 1].bytes);
    }

    /* cap keeps the worst */
    mem_finding one;
    assert_int_equal(mem_doctor(&s, NULL, &one, 1), 1);
    assert_string_equal(one.code, "allocator-fragmentation");
    assert_int_equal(mem_doctor(&s, NULL, NULL, 0), 0);

    char *r = report(&s);
    assert_true(strncmp(r, "4 finding(s):\n", 14) == 0);
    const char *a = strstr(r, "1. [critical]");
    const char *b = strstr(r, "2. [warning]");
    const char *c = strstr(r, "4. [info]");
    const char *k = strstr(r, "Key figures:");
    assert_true(a && b && c && k && a < b && b < c && c < k);
    mem_text_free(r);
}

static void test_custom_limits(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 375 * MIB);
    plant_fragmentation(&s, 375 * MIB);
    mem_doctor_limits l = mem_doctor_limits_default();
    l.frag_ratio = 2.0;
    mem_finding f[16];
    assert_int_equal(mem_doctor(&s, &l, f, 16), 0);
    l = mem_doctor_limits_default();
    l.min_waste_bytes = 512 * MIB;
    assert_int_equal(mem_doctor(&s, &l, f, 16), 0);
}

static void test_without_jemalloc(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 300 * MIB);
    memset(&s.alloc, 0, sizeof(s.alloc));
    s.alloc.background_thread = -1;
    s.bins = NULL;
    s.nbins = 0;
    s.rss = s.rss_baseline + 320 * MIB;
    mem_finding f[16];
    assert_int_equal(run(&s, f, 16), 0);
    char *r = report(&s);
    assert_non_null(strstr(r, "libc malloc"));
    mem_text_free(r);

    /* RSS twice used memory: the libc build can only say that much, and says so. */
    s.rss = s.rss_baseline + 700 * MIB;
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "rss-over-used");
    assert_non_null(strstr(f[0].text, "no jemalloc"));
}

static void test_long_names_stay_bounded(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 600 * MIB);
    plant_fragmentation(&s, 600 * MIB);
    s.alloc.resident += 300 * MIB;
    s.rss += 300 * MIB + 2 * GIB;
    s.top_obuf.id = UINT64_MAX;
    memset(s.top_obuf.addr, 'a', sizeof(s.top_obuf.addr)); /* no NUL at all */
    memset(s.top_obuf.name, 'n', sizeof(s.top_obuf.name));
    s.top_obuf.bytes = 400 * MIB;
    s.maxmemory = 610 * MIB;
    s.used_memory_peak = 4 * GIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    assert_true(n >= 4);
    check_texts(f, n); /* nothing cut off, even with 64-character addr and name */
    const mem_finding *c = find_code(f, n, "client-output-buffer");
    assert_non_null(c);
    assert_non_null(strstr(c->text, "18446744073709551615"));
    s.alloc.muzzy_decay_ms = 5000;
    n = run(&s, f, 16);
    check_texts(f, n);
    const mem_finding *o = find_code(f, n, "rss-overhead");
    assert_non_null(o);
    assert_non_null(strstr(o->text, "muzzy_decay_ms 5000"));
    char *r = report(&s);
    mem_text_free(r);
}

/* A subscriber under Redis's default pubsub limits (32mb hard, 8mb soft for 60 s). */
static void plant_subscriber(mem_snapshot *s, size_t bytes, uint64_t over_soft_ms) {
    mem_subscriber_top *t = &s->top_sub;
    memset(t, 0, sizeof(*t));
    t->id = 812;
    snprintf(t->addr, sizeof(t->addr), "10.0.0.9:40400");
    snprintf(t->name, sizeof(t->name), "orders-consumer");
    t->bytes = bytes;
    t->hard_limit = 32 * MIB;
    t->soft_limit = 8 * MIB;
    t->soft_seconds = 60;
    t->over_soft_ms = over_soft_ms;
    t->channels = 3;
    t->patterns = 1;
    t->subscribers = 12;
    t->subscribers_bytes = bytes + 300 * KIB;
}

static void test_subscriber_behind(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 200 * MIB);
    plant_subscriber(&s, 10 * MIB, 20000);
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "subscriber-output-buffer");
    assert_int_equal(f[0].severity, MEM_WARNING);
    assert_int_equal(f[0].bytes, 10 * MIB);
    const char *t = f[0].text;
    assert_non_null(strstr(t, "client id 812 (addr 10.0.0.9:40400, name orders-consumer)"));
    assert_non_null(strstr(t, "on 3 channels, 1 pattern, 0 shard channels"));
    assert_non_null(strstr(t, "10.00M of messages unread: 31% of the hard limit 32.00M"));
    assert_non_null(strstr(t, "above the soft limit 8.00M for 20 s of 60 s"));
    assert_non_null(strstr(t, "All 12 subscribers hold 10.29M"));
    assert_non_null(strstr(t, "CLIENT KILL ID 812"));
    assert_non_null(strstr(t, "scale out the consumers"));
    assert_non_null(strstr(t, "smaller messages"));
    assert_non_null(strstr(t, "client-output-buffer-limit \"pubsub 64mb 16mb 60\""));
    char *r = report(&s);
    assert_non_null(strstr(r, "1 finding(s)"));
    mem_text_free(r);

    /* Half-way through the soft limit's seconds: critical. */
    s.top_sub.over_soft_ms = 31000;
    n = run(&s, f, 16);
    assert_int_equal(n, 1);
    assert_int_equal(f[0].severity, MEM_CRITICAL);

    /* Near the hard limit, under no soft limit: critical, and says so. */
    s.top_sub.soft_limit = 0;
    s.top_sub.over_soft_ms = 0;
    s.top_sub.bytes = 30 * MIB;
    n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_int_equal(f[0].severity, MEM_CRITICAL);
    assert_non_null(strstr(f[0].text, "94% of the hard limit 32.00M, no soft limit"));
    assert_non_null(strstr(f[0].text, "\"pubsub 64mb 0 60\""));

    /* Over half the hard limit, a hard limit only: warning. */
    s.top_sub.bytes = 17 * MIB;
    n = run(&s, f, 16);
    assert_int_equal(n, 1);
    assert_int_equal(f[0].severity, MEM_WARNING);
}

static void test_subscriber_healthy_quiet(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 200 * MIB);
    mem_finding f[16];
    /* A subscriber that keeps up holds a few messages. */
    plant_subscriber(&s, 40 * KIB, 0);
    assert_int_equal(run(&s, f, 16), 0);
    /* A burst under the soft limit and under half the hard one. */
    plant_subscriber(&s, 7 * MIB, 0);
    assert_int_equal(run(&s, f, 16), 0);
    /* Nobody subscribed. */
    memset(&s.top_sub, 0, sizeof(s.top_sub));
    assert_int_equal(run(&s, f, 16), 0);
    /* Tiny limits: over them, but under the byte floor (1 MiB). */
    plant_subscriber(&s, 700 * KIB, 5000);
    s.top_sub.hard_limit = 1 * MIB;
    s.top_sub.soft_limit = 256 * KIB;
    assert_int_equal(run(&s, f, 16), 0);
    /* No limit at all: judged like any client buffer, by min_waste_bytes. */
    plant_subscriber(&s, 20 * MIB, 0);
    s.top_sub.hard_limit = s.top_sub.soft_limit = 0;
    s.top_sub.soft_seconds = 0;
    assert_int_equal(run(&s, f, 16), 0);
    char *r = report(&s);
    assert_non_null(strstr(r, "No memory problems found."));
    mem_text_free(r);
}

static void test_subscriber_small_instance(void **state) {
    (void)state;
    /* The limit closes it however small the server is: judged on a small instance too. */
    mem_snapshot s;
    snap_healthy(&s, 3 * MIB);
    plant_subscriber(&s, 9 * MIB, 2000);
    s.used_memory += 9 * MIB;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "subscriber-output-buffer");
    char *r = report(&s);
    assert_non_null(strstr(r, "1 finding(s)"));
    assert_non_null(strstr(r, "small"));
    assert_null(strstr(r, "All is well")); /* not with a finding above it */
    mem_text_free(r);
}

static void test_subscriber_without_limit(void **state) {
    (void)state;
    /* No pubsub limit, 400 MiB behind: one finding for the subscriber, not also the client's
     * nor the output_buffers subsystem's. */
    mem_snapshot s;
    snap_healthy(&s, 600 * MIB);
    s.sub[4].bytes = 400 * MIB + 300 * KIB;
    s.sub[0].bytes -= 400 * MIB;
    plant_subscriber(&s, 400 * MIB, 0);
    s.top_sub.hard_limit = s.top_sub.soft_limit = 0;
    s.top_sub.soft_seconds = 0;
    s.top_sub.subscribers = 1;
    s.top_obuf.id = s.top_sub.id;
    snprintf(s.top_obuf.addr, sizeof(s.top_obuf.addr), "%s", s.top_sub.addr);
    s.top_obuf.bytes = 400 * MIB + 4 * KIB; /* allocated: a little more than pending */
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "subscriber-output-buffer");
    assert_int_equal(f[0].severity, MEM_CRITICAL);
    assert_non_null(strstr(f[0].text, "unread. No pubsub output-buffer limit is set"));
    assert_non_null(strstr(f[0].text, "\"pubsub 32mb 8mb 60\""));
    assert_null(strstr(f[0].text, "All 1 subscribers"));

    /* Another client holds the largest output buffer: both are named. */
    s.top_obuf.id = 77;
    s.top_obuf.bytes = 450 * MIB;
    n = run(&s, f, 16);
    check_texts(f, n);
    assert_non_null(find_code(f, n, "subscriber-output-buffer"));
    assert_non_null(find_code(f, n, "client-output-buffer"));
}

static void test_subscriber_long_fields_bounded(void **state) {
    (void)state;
    mem_snapshot s;
    snap_healthy(&s, 200 * MIB);
    plant_subscriber(&s, 31 * MIB + 1, 59999);
    s.top_sub.id = UINT64_MAX;
    memset(s.top_sub.addr, 'a', sizeof(s.top_sub.addr)); /* no NUL at all */
    memset(s.top_sub.name, 'n', sizeof(s.top_sub.name));
    s.top_sub.channels = s.top_sub.patterns = s.top_sub.shard_channels = 1000000;
    s.top_sub.subscribers = 100000;
    s.top_sub.subscribers_bytes = 900 * GIB;
    s.top_sub.hard_limit = 1500 * MIB + 1;
    s.top_sub.soft_seconds = 86400 * 365;
    s.top_sub.over_soft_ms = (uint64_t)86400 * 364 * 1000;
    mem_finding f[16];
    size_t n = run(&s, f, 16);
    assert_int_equal(n, 1);
    check_texts(f, n); /* nothing cut off */
    assert_non_null(strstr(f[0].text, "18446744073709551615"));
    char *r = report(&s);
    mem_text_free(r);
}

/* A key space with the statistics on: n keys holding `data` bytes, none of them big. */
static void keyspace_plain(mem_snapshot *s, size_t data, size_t keys) {
    mem_keyspace *k = &s->keyspace;
    memset(k, 0, sizeof(*k));
    k->known = 1;
    k->data_bytes = data;
    k->keys = keys;
    snprintf(k->big_key, sizeof(k->big_key), "user:1");
    snprintf(k->big_key_type, sizeof(k->big_key_type), "string");
    k->big_key_bytes = data / keys * 2;
    k->big_key_length = 100;
    k->machine_memory = 16 * GIB;
}

static void test_big_key(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    snap_healthy(&s, 1 * GIB);
    keyspace_plain(&s, 900 * MIB, 100000);
    assert_null(run_find(&s, f, "big-key")); /* many keys of similar size: quiet */

    snprintf(s.keyspace.big_key, sizeof(s.keyspace.big_key), "events:all");
    snprintf(s.keyspace.big_key_type, sizeof(s.keyspace.big_key_type), "hash");
    s.keyspace.big_key_bytes = 600 * MIB;
    s.keyspace.big_key_length = 4000000;
    const mem_finding *b = run_find(&s, f, "big-key");
    assert_non_null(b);
    check_texts(b, 1);
    assert_non_null(strstr(b->text, "\"events:all\""));
    assert_non_null(strstr(b->text, "67%"));
    assert_non_null(strstr(b->text, "hash of 4000000 elements"));
    assert_non_null(strstr(b->text, "UNLINK"));

    /* A large share of a small data set is no alarm: the byte floor holds. */
    snap_healthy(&s, 40 * MIB);
    keyspace_plain(&s, 20 * MIB, 10);
    s.keyspace.big_key_bytes = 15 * MIB;
    assert_null(run_find(&s, f, "big-key"));
    /* Statistics off: silent. */
    snap_healthy(&s, 1 * GIB);
    keyspace_plain(&s, 900 * MIB, 10);
    s.keyspace.big_key_bytes = 800 * MIB;
    s.keyspace.known = 0;
    assert_null(run_find(&s, f, "big-key"));
}

static void plant_growth(mem_snapshot *s, double per_hour, double r2, double window_s) {
    mem_keyspace *k = &s->keyspace;
    mem_growth *g = &k->growth[0];
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "session:#");
    g->bytes_per_hour = per_hour;
    g->steadiness = r2;
    g->window_seconds = window_s;
    g->bytes = 300 * MIB;
    g->keys = 1000;
    g->keys_without_ttl = 990;
    k->ngrowth = 1;
    k->used_bytes_per_hour = per_hour;
    k->used_steadiness = r2;
    k->window_seconds = window_s;
}

static void test_growth(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    snap_healthy(&s, 1 * GIB);
    keyspace_plain(&s, 900 * MIB, 100000);
    s.maxmemory = 4 * GIB;
    s.maxmemory_policy = "allkeys-lru";
    plant_growth(&s, 40.0 * (double)MIB, 0.98, 3600);
    const mem_finding *g = run_find(&s, f, "prefix-growth");
    assert_non_null(g);
    check_texts(g, 1);
    assert_int_equal(g->severity, MEM_WARNING);
    assert_non_null(strstr(g->text, "\"session:#\""));
    assert_non_null(strstr(g->text, "40.00M per hour"));
    assert_non_null(strstr(g->text, "reaches maxmemory 4.00G in about 3.2 days"));
    assert_non_null(strstr(g->text, "99% of its keys have no TTL"));

    /* Hours from the limit: critical. */
    plant_growth(&s, 1.0 * (double)GIB, 0.98, 3600);
    g = run_find(&s, f, "prefix-growth");
    assert_non_null(g);
    assert_int_equal(g->severity, MEM_CRITICAL);

    /* No limit: the machine's memory. */
    s.maxmemory = 0;
    plant_growth(&s, 40.0 * (double)MIB, 0.98, 3600);
    g = run_find(&s, f, "prefix-growth");
    assert_non_null(g);
    assert_non_null(strstr(g->text, "fills the machine's 16.00G"));

    /* Not steady (a saw-tooth cache), or too little grown: quiet. */
    plant_growth(&s, 40.0 * (double)MIB, 0.3, 3600);
    assert_null(run_find(&s, f, "prefix-growth"));
    plant_growth(&s, 10.0 * (double)MIB, 0.99, 3600);
    assert_null(run_find(&s, f, "prefix-growth"));
    plant_growth(&s, -40.0 * (double)MIB, 0.99, 3600);
    assert_null(run_find(&s, f, "prefix-growth"));

    /* A type when no prefix explains it. */
    plant_growth(&s, 80.0 * (double)MIB, 0.95, 3600);
    s.keyspace.growth[0].is_type = 1;
    snprintf(s.keyspace.growth[0].name, sizeof(s.keyspace.growth[0].name), "hash");
    g = run_find(&s, f, "type-growth");
    assert_non_null(g);
    assert_non_null(strstr(g->text, "the hash keys grows") || strstr(g->text, "hash"));
}

static void test_volatile_policy(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    snap_healthy(&s, 700 * MIB);
    keyspace_plain(&s, 600 * MIB, 100000);
    s.maxmemory = 1 * GIB;
    s.maxmemory_policy = "volatile-lru";
    s.keyspace.volatile_keys = 100;
    s.keyspace.volatile_bytes = 1 * MIB;
    const mem_finding *v = run_find(&s, f, "eviction-policy");
    assert_non_null(v);
    check_texts(v, 1);
    assert_non_null(strstr(v->text, "volatile-lru"));
    assert_non_null(strstr(v->text, "allkeys-lru"));

    /* Enough under a TTL, an allkeys policy, far from the limit, or no limit: quiet. */
    s.keyspace.volatile_bytes = 300 * MIB;
    assert_null(run_find(&s, f, "eviction-policy"));
    s.keyspace.volatile_bytes = 1 * MIB;
    s.maxmemory_policy = "allkeys-lru";
    assert_null(run_find(&s, f, "eviction-policy"));
    s.maxmemory_policy = "volatile-ttl";
    s.maxmemory = 4 * GIB;
    assert_null(run_find(&s, f, "eviction-policy"));
    s.maxmemory = 0;
    assert_null(run_find(&s, f, "eviction-policy"));
}

static void test_key_space_healthy_sizes(void **state) {
    (void)state;
    /* Healthy instances of several sizes with the statistics on: no finding. */
    const size_t sizes[] = {2 * MIB, 64 * MIB, 1 * GIB, 16 * GIB};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        mem_snapshot s;
        mem_finding f[16];
        snap_healthy(&s, sizes[i]);
        keyspace_plain(&s, sizes[i] * 9 / 10, 1000);
        assert_int_equal(run(&s, f, 16), 0);
    }
}

/* A library's scripts as BullMQ or redis-py's Lock load them: a few dozen, never evicted. */
static void scripts_healthy(mem_snapshot *s) {
    s->scripts = (mem_scripts){.cached = 120,
                               .eval_cached = 20,
                               .compiled = 120,
                               .evicted = 0,
                               .cache_max = 500,
                               .cache_bytes = 300 * KIB,
                               .heap_bytes = 2 * MIB};
}

/* An application that writes its values into the script text: every call a new script. */
static void scripts_generated(mem_snapshot *s, size_t calls) {
    s->scripts = (mem_scripts){.cached = 500,
                               .eval_cached = 500,
                               .compiled = calls,
                               .evicted = calls - 500,
                               .cache_max = 500,
                               .cache_bytes = 500 * 300,
                               .heap_bytes = 3 * MIB};
}

static void test_script_cache_churn(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    snap_healthy(&s, 200 * MIB);
    scripts_generated(&s, 250000);
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "script-cache");
    assert_int_equal(f[0].severity, MEM_WARNING);
    assert_non_null(strstr(f[0].text, "250000 distinct scripts were compiled"));
    assert_non_null(strstr(f[0].text, "249500 of them (100%)"));
    assert_non_null(strstr(f[0].text, "lua-script-cache-max (500)"));
    assert_non_null(strstr(f[0].text, "KEYS and ARGV"));
    assert_non_null(strstr(f[0].text, "SCRIPT LOAD"));
    assert_non_null(strstr(f[0].text, "EVALSHA"));
    char *r = report(&s);
    assert_non_null(strstr(r, "Script cache churn"));
    assert_non_null(strstr(r, "scripts       500 cached (500 from EVAL, cap 500), 249500 evicted"));
    mem_text_free(r);
    /* At any size: the churn is a compile per call whatever the data set. */
    snap_healthy(&s, 3 * MIB);
    scripts_generated(&s, 5000);
    assert_non_null(run_find(&s, f, "script-cache"));
}

static void test_script_cache_healthy_quiet(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    /* Libraries' scripts, small and big instances. */
    const size_t sizes[] = {2 * MIB, 200 * MIB, 16 * GIB};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snap_healthy(&s, sizes[i]);
        scripts_healthy(&s);
        assert_int_equal(run(&s, f, 16), 0);
    }
    /* Under the eviction floor: a burst of ad-hoc EVALs (a migration, a console session). */
    snap_healthy(&s, 200 * MIB);
    scripts_generated(&s, 1400);
    assert_true(s.scripts.evicted < 1000);
    assert_null(run_find(&s, f, "script-cache"));
    /* Many evictions, but a small share of what was compiled: a long-lived instance whose
     * scripts change with each deploy (100k compiled over months, 2000 evicted). */
    s.scripts.compiled = 100000;
    s.scripts.evicted = 2000;
    assert_null(run_find(&s, f, "script-cache"));
    /* Many cached scripts on a small instance: sizes are not judged there. */
    snap_healthy(&s, 4 * MIB);
    s.scripts = (mem_scripts){.cached = 5000,
                              .eval_cached = 0,
                              .compiled = 5000,
                              .cache_max = 500,
                              .cache_bytes = 2 * MIB,
                              .heap_bytes = 1 * MIB};
    assert_int_equal(run(&s, f, 16), 0);
    /* Lots of cached scripts, but a small share of a big data set. */
    snap_healthy(&s, 4 * GIB);
    s.scripts = (mem_scripts){.cached = 20000,
                              .eval_cached = 0,
                              .compiled = 20000,
                              .cache_max = 500,
                              .cache_bytes = 40 * MIB,
                              .heap_bytes = 60 * MIB};
    assert_int_equal(run(&s, f, 16), 0);
    /* A big share, but a few big scripts: not an application generating scripts. */
    snap_healthy(&s, 120 * MIB);
    s.scripts = (mem_scripts){.cached = 40,
                              .eval_cached = 0,
                              .compiled = 40,
                              .cache_max = 500,
                              .cache_bytes = 30 * MIB,
                              .heap_bytes = 40 * MIB};
    assert_null(run_find(&s, f, "script-cache"));
}

static void test_script_cache_size(void **state) {
    (void)state;
    /* SCRIPT LOAD of a generated script per call (the cap does not apply to them): 200k
     * scripts, 300 MiB of cache and heap in a 400 MiB instance. */
    mem_snapshot s;
    mem_finding f[16];
    snap_healthy(&s, 400 * MIB);
    s.scripts = (mem_scripts){.cached = 200000,
                              .eval_cached = 0,
                              .compiled = 200000,
                              .cache_max = 500,
                              .cache_bytes = 100 * MIB,
                              .heap_bytes = 200 * MIB};
    s.sub[0].bytes -= 300 * MIB;
    add_sub(&s, "scripting", 300 * MIB);
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    /* One finding, not also subsystem-scripting: it names the cause. */
    assert_int_equal(n, 1);
    assert_string_equal(f[0].code, "script-cache");
    assert_int_equal(f[0].severity, MEM_CRITICAL); /* 300 MiB >= 256 MiB and >= 1/4 */
    assert_int_equal(f[0].bytes, 300 * MIB);
    assert_non_null(strstr(f[0].text, "200000 scripts are cached (0 from EVAL"));
    assert_non_null(strstr(f[0].text, "75% of used memory"));
    assert_null(strstr(f[0].text, "churn"));
    /* The scripting subsystem big for another reason (a few scripts, a big Lua heap): the
     * generic subsystem finding, with its own advice. */
    s.scripts.cached = s.scripts.compiled = 10;
    const mem_finding *g = run_find(&s, f, "subsystem-scripting");
    assert_non_null(g);
    assert_non_null(strstr(g->text, "SCRIPT FLUSH"));
    assert_null(run_find(&s, f, "script-cache"));
}

static void test_script_cache_long_figures_bounded(void **state) {
    (void)state;
    mem_snapshot s;
    mem_finding f[16];
    snap_healthy(&s, 64 * GIB);
    s.scripts = (mem_scripts){.cached = SIZE_MAX / 2,
                              .eval_cached = SIZE_MAX / 2,
                              .compiled = SIZE_MAX,
                              .evicted = SIZE_MAX / 2,
                              .cache_max = SIZE_MAX / 4,
                              .cache_bytes = 1ULL << 50,
                              .heap_bytes = 1ULL << 50};
    size_t n = run(&s, f, 16);
    check_texts(f, n);
    assert_non_null(find_code(f, n, "script-cache"));
    mem_text_free(report(&s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_fresh_small_server),
        cmocka_unit_test(test_big_healthy_server),
        cmocka_unit_test(test_fragmentation_names_size_class),
        cmocka_unit_test(test_fragmentation_small_instance_quiet),
        cmocka_unit_test(test_fragmentation_bytes_but_low_ratio_quiet),
        cmocka_unit_test(test_client_output_buffer),
        cmocka_unit_test(test_output_buffers_spread_over_clients),
        cmocka_unit_test(test_client_query_buffer),
        cmocka_unit_test(test_subsystem_other_dominates),
        cmocka_unit_test(test_dirty_pages_purge),
        cmocka_unit_test(test_rss_overhead_minds_baseline),
        cmocka_unit_test(test_retained_is_at_most_info),
        cmocka_unit_test(test_peak),
        cmocka_unit_test(test_maxmemory),
        cmocka_unit_test(test_ordering_worst_first),
        cmocka_unit_test(test_custom_limits),
        cmocka_unit_test(test_without_jemalloc),
        cmocka_unit_test(test_long_names_stay_bounded),
        cmocka_unit_test(test_subscriber_behind),
        cmocka_unit_test(test_subscriber_healthy_quiet),
        cmocka_unit_test(test_subscriber_small_instance),
        cmocka_unit_test(test_subscriber_without_limit),
        cmocka_unit_test(test_subscriber_long_fields_bounded),
        cmocka_unit_test(test_big_key),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_volatile_policy),
        cmocka_unit_test(test_key_space_healthy_sizes),
        cmocka_unit_test(test_script_cache_churn),
        cmocka_unit_test(test_script_cache_healthy_quiet),
        cmocka_unit_test(test_script_cache_size),
        cmocka_unit_test(test_script_cache_long_figures_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
