/* render_malloc_stats (render.h): a target's jemalloc figures from MEMORY MALLOC-STATS, under
 * the names, labels, HELP texts and units memkv's own endpoint uses (src/metrics/collector.c),
 * so one dashboard reads memkv and any jemalloc server alike:
 *
 *   memkv_allocator_bin_free_bytes{size}   (regs * curslabs - curregs) * size per small class
 *   memkv_allocator_bin_used_bytes{size}   curregs * size
 *   memkv_allocator_{allocated,active,resident,retained,mapped,metadata}_bytes
 *                                          the "Allocated: …" totals, each only when the body
 *                                          has no such family yet (render_info writes the
 *                                          first three from INFO's allocator_* fields, which
 *                                          come from the same jemalloc statistics)
 *   memkv_exporter_malloc_stats_age_seconds how old these figures are (the exporter caches
 *                                          MALLOC-STATS: it costs the target milliseconds of
 *                                          its main thread)
 */
#include "render.h"

#include <stdio.h>
#include <string.h>

typedef struct rw {
    metrics_writer *w;
    int err;
} rw;

static void keep(rw *c, int rc) {
    if (rc != 0 && c->err == 0) c->err = rc;
}

static int64_t i64(uint64_t v) {
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* a * b, saturated */
static uint64_t mul_sat(uint64_t a, uint64_t b) {
    if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
    return a * b;
}

/* The body already declares the family (as "# TYPE name "). */
static int has_family(const metrics_writer *w, const char *name) {
    size_t len = 0;
    const char *body = metrics_writer_data(w, &len);
    char pat[128];
    int n = snprintf(pat, sizeof(pat), "# TYPE %s ", name);
    if (n <= 0 || (size_t)n >= sizeof(pat)) return 0;
    const char *p = body;
    while ((p = strstr(p, pat)) != NULL) {
        if (p == body || p[-1] == '\n') return 1;
        p++;
    }
    return 0;
}

static void total(rw *c, const char *name, const char *help, uint64_t v) {
    if (has_family(c->w, name)) return;
    int rc = metrics_family_begin(c->w, name, help, METRICS_GAUGE, "bytes");
    if (rc == 0) rc = metrics_sample_int(c->w, NULL, 0, i64(v));
    keep(c, rc);
}

int render_malloc_stats(metrics_writer *w, const malloc_stats *m, double age_seconds) {
    if (!w || !m) return METRICS_ERR_ARG;
    rw c = {w, 0};

    if (m->have_totals) {
        /* The HELP texts are collector.c's. */
        total(&c, "memkv_allocator_allocated_bytes",
              "Bytes in allocations the application holds, by jemalloc (stats.allocated).",
              m->allocated);
        total(&c, "memkv_allocator_active_bytes",
              "Bytes in the allocator's active pages, a multiple of the page size "
              "(stats.active).",
              m->active);
        total(&c, "memkv_allocator_resident_bytes",
              "Bytes in physically resident pages the allocator maps, metadata included "
              "(stats.resident).",
              m->resident);
        total(&c, "memkv_allocator_retained_bytes",
              "Bytes of virtual memory the allocator retained instead of unmapping "
              "(stats.retained).",
              m->retained);
        total(&c, "memkv_allocator_mapped_bytes",
              "Bytes in active extents the allocator maps (stats.mapped).", m->mapped);
        total(&c, "memkv_allocator_metadata_bytes",
              "Bytes the allocator uses for its own metadata (stats.metadata).", m->metadata);
    }

    size_t nb = m->nbins < MALLOC_MAX_BINS ? m->nbins : MALLOC_MAX_BINS;
    if (nb > 0) {
        char sizes[MALLOC_MAX_BINS][24];
        for (size_t i = 0; i < nb; i++)
            snprintf(sizes[i], sizeof(sizes[i]), "%llu", (unsigned long long)m->bins[i].size);
        int rc = metrics_family_begin(
            w, "memkv_allocator_bin_free_bytes",
            "Free bytes in the slabs of a small size class (internal fragmentation), by region "
            "size in bytes.",
            METRICS_GAUGE, "bytes");
        for (size_t i = 0; rc == 0 && i < nb; i++) {
            const malloc_bin *b = &m->bins[i];
            if (b->curslabs == 0) continue;
            uint64_t regions = mul_sat(b->curslabs, b->regs);
            uint64_t free_bytes = regions > b->curregs ? mul_sat(regions - b->curregs, b->size) : 0;
            metrics_label l[] = {{"size", sizes[i]}};
            rc = metrics_sample_int(w, l, 1, i64(free_bytes));
        }
        keep(&c, rc);
        rc = metrics_family_begin(
            w, "memkv_allocator_bin_used_bytes",
            "Bytes in regions in use of a small size class, by region size in bytes.",
            METRICS_GAUGE, "bytes");
        for (size_t i = 0; rc == 0 && i < nb; i++) {
            const malloc_bin *b = &m->bins[i];
            if (b->curslabs == 0) continue;
            metrics_label l[] = {{"size", sizes[i]}};
            rc = metrics_sample_int(w, l, 1, i64(mul_sat(b->curregs, b->size)));
        }
        keep(&c, rc);
    }

    int rc = metrics_family_begin(
        w, "memkv_exporter_malloc_stats_age_seconds",
        "Seconds since the target's MEMORY MALLOC-STATS behind the memkv_allocator_bin_* figures "
        "was read (the exporter caches it: it costs the target milliseconds of its main thread).",
        METRICS_GAUGE, "seconds");
    if (rc == 0) rc = metrics_sample_double(w, NULL, 0, age_seconds < 0 ? 0 : age_seconds);
    keep(&c, rc);
    return c.err;
}
