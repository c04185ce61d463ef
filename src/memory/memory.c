/* memory — jemalloc statistics, process RSS and Redis's ratios.
 *
 * Every mallctl name is resolved once to a MIB (mallctlnametomib, under pthread_once) and then
 * queried with mallctlbymib, patching the arena / bin index into the MIB copy. Statistics are a
 * snapshot jemalloc refreshes when `epoch` is written, so every reader bumps it first. */
#include "memory/memory.h"

#include "alloc/alloc.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#endif

const char *mem_strerror(int err) {
    switch (err) {
    case 0:
        return "ok";
    case MEM_ERR_INVALID:
        return "invalid argument";
    case MEM_ERR_NO_JEMALLOC:
        return "not available: this build does not use jemalloc";
    case MEM_ERR_MALLCTL:
        return "jemalloc refused the request (mallctl failed)";
    default:
        return "unknown error";
    }
}

static size_t os_page_size(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/* ---- MIB cache -------------------------------------------------------------------------- */

#ifdef MEMKV_HAVE_JEMALLOC

enum {
    M_EPOCH,
    M_VERSION,
    M_ALLOCATED,
    M_ACTIVE,
    M_METADATA,
    M_RESIDENT,
    M_MAPPED,
    M_RETAINED,
    M_BACKGROUND_THREAD,
    M_DIRTY_DECAY,
    M_MUZZY_DECAY,
    M_NARENAS,
    M_PAGE,
    M_NBINS,
    M_BIN_SIZE,
    M_BIN_NREGS,
    M_BIN_CURREGS,
    M_BIN_CURSLABS,
    M_ARENA_PACTIVE,
    M_ARENA_PDIRTY,
    M_ARENA_PMUZZY,
    M_ARENA_RESIDENT,
    M_ARENA_SMALL_ALLOCATED,
    M_ARENA_LARGE_ALLOCATED,
    M_ARENA_PURGE,
    M_ARENA_DIRTY_DECAY,
    M_ARENA_MUZZY_DECAY,
    M_COUNT
};

#define MIB_MAX 8
#define NO_POS (-1)

typedef struct ctl_def {
    const char *name;
    signed char pos_a; /* MIB component that takes the first index (arena or bin), or NO_POS */
    signed char pos_b; /* MIB component for the second index (bin), or NO_POS */
} ctl_def;

static const ctl_def ctl_defs[M_COUNT] = {
    [M_EPOCH] = {"epoch", NO_POS, NO_POS},
    [M_VERSION] = {"version", NO_POS, NO_POS},
    [M_ALLOCATED] = {"stats.allocated", NO_POS, NO_POS},
    [M_ACTIVE] = {"stats.active", NO_POS, NO_POS},
    [M_METADATA] = {"stats.metadata", NO_POS, NO_POS},
    [M_RESIDENT] = {"stats.resident", NO_POS, NO_POS},
    [M_MAPPED] = {"stats.mapped", NO_POS, NO_POS},
    [M_RETAINED] = {"stats.retained", NO_POS, NO_POS},
    [M_BACKGROUND_THREAD] = {"background_thread", NO_POS, NO_POS},
    [M_DIRTY_DECAY] = {"arenas.dirty_decay_ms", NO_POS, NO_POS},
    [M_MUZZY_DECAY] = {"arenas.muzzy_decay_ms", NO_POS, NO_POS},
    [M_NARENAS] = {"arenas.narenas", NO_POS, NO_POS},
    [M_PAGE] = {"arenas.page", NO_POS, NO_POS},
    [M_NBINS] = {"arenas.nbins", NO_POS, NO_POS},
    [M_BIN_SIZE] = {"arenas.bin.0.size", 2, NO_POS},
    [M_BIN_NREGS] = {"arenas.bin.0.nregs", 2, NO_POS},
    [M_BIN_CURREGS] = {"stats.arenas.0.bins.0.curregs", 2, 4},
    [M_BIN_CURSLABS] = {"stats.arenas.0.bins.0.curslabs", 2, 4},
    [M_ARENA_PACTIVE] = {"stats.arenas.0.pactive", 2, NO_POS},
    [M_ARENA_PDIRTY] = {"stats.arenas.0.pdirty", 2, NO_POS},
    [M_ARENA_PMUZZY] = {"stats.arenas.0.pmuzzy", 2, NO_POS},
    [M_ARENA_RESIDENT] = {"stats.arenas.0.resident", 2, NO_POS},
    [M_ARENA_SMALL_ALLOCATED] = {"stats.arenas.0.small.allocated", 2, NO_POS},
    [M_ARENA_LARGE_ALLOCATED] = {"stats.arenas.0.large.allocated", 2, NO_POS},
    [M_ARENA_PURGE] = {"arena.0.purge", 1, NO_POS},
    [M_ARENA_DIRTY_DECAY] = {"arena.0.dirty_decay_ms", 1, NO_POS},
    [M_ARENA_MUZZY_DECAY] = {"arena.0.muzzy_decay_ms", 1, NO_POS},
};

typedef struct ctl_mib {
    size_t mib[MIB_MAX];
    size_t len;
    int ok;
} ctl_mib;

/* Written once under pthread_once, read-only afterwards. */
static ctl_mib ctl_mibs[M_COUNT];
static pthread_once_t ctl_once = PTHREAD_ONCE_INIT;

static void ctl_init(void) {
    for (int i = 0; i < M_COUNT; i++) {
        ctl_mib *m = &ctl_mibs[i];
        m->len = MIB_MAX;
        m->ok = mallctlnametomib(ctl_defs[i].name, m->mib, &m->len) == 0;
    }
}

/* mallctlbymib on entry `which` with indices a and b patched in where the name has them. */
static int ctl(int which, size_t a, size_t b, void *oldp, size_t *oldlenp, void *newp,
               size_t newlen) {
    pthread_once(&ctl_once, ctl_init);
    const ctl_mib *m = &ctl_mibs[which];
    if (!m->ok) return MEM_ERR_MALLCTL;
    size_t mib[MIB_MAX];
    memcpy(mib, m->mib, sizeof(mib));
    if (ctl_defs[which].pos_a != NO_POS) mib[ctl_defs[which].pos_a] = a;
    if (ctl_defs[which].pos_b != NO_POS) mib[ctl_defs[which].pos_b] = b;
    return mallctlbymib(mib, m->len, oldp, oldlenp, newp, newlen) == 0 ? 0 : MEM_ERR_MALLCTL;
}

static int ctl_size(int which, size_t a, size_t b, size_t *out) {
    size_t sz = sizeof(*out);
    return ctl(which, a, b, out, &sz, NULL, 0);
}

/* Refresh jemalloc's statistics snapshot, unless the calling thread is inside a batch
 * (mem_stats_batch_begin): a refresh merges every arena's counters, the bulk of what a scrape
 * costs, and one per batch also keeps the batch's figures consistent. */
static _Thread_local int batch_depth;

static int ctl_epoch_force(void) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    return ctl(M_EPOCH, 0, 0, &epoch, &sz, &epoch, sz);
}

static int ctl_epoch(void) {
    return batch_depth ? 0 : ctl_epoch_force();
}
#endif /* MEMKV_HAVE_JEMALLOC */

void mem_stats_batch_begin(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    if (batch_depth++ == 0) (void)ctl_epoch_force();
#endif
}

void mem_stats_batch_end(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    if (batch_depth > 0) batch_depth--;
#endif
}

/* ---- allocator-wide figures ------------------------------------------------------------- */

int mem_allocator_stats_read(mem_allocator_stats *out) {
    if (!out) return MEM_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    out->background_thread = -1;
    out->page_size = os_page_size();
#ifdef MEMKV_HAVE_JEMALLOC
    int rc = 0;
    out->available = 1;
    if (ctl_epoch() != 0) rc = MEM_ERR_MALLCTL;

    const char *version = NULL;
    size_t sz = sizeof(version);
    if (ctl(M_VERSION, 0, 0, &version, &sz, NULL, 0) == 0 && version) {
        size_t n = strcspn(version, "-");
        if (n >= sizeof(out->version)) n = sizeof(out->version) - 1;
        memcpy(out->version, version, n);
        out->version[n] = '\0';
    }

    static const int figures[] = {M_ALLOCATED, M_ACTIVE, M_METADATA,
                                  M_RESIDENT,  M_MAPPED, M_RETAINED};
    size_t *dest[] = {&out->allocated, &out->active, &out->metadata,
                      &out->resident,  &out->mapped, &out->retained};
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
        if (ctl_size(figures[i], 0, 0, dest[i]) != 0) rc = MEM_ERR_MALLCTL;

    bool bg = false;
    sz = sizeof(bg);
    if (ctl(M_BACKGROUND_THREAD, 0, 0, &bg, &sz, NULL, 0) == 0) out->background_thread = bg;

    ssize_t decay = 0;
    sz = sizeof(decay);
    out->dirty_decay_ms = ctl(M_DIRTY_DECAY, 0, 0, &decay, &sz, NULL, 0) == 0 ? decay : -1;
    sz = sizeof(decay);
    out->muzzy_decay_ms = ctl(M_MUZZY_DECAY, 0, 0, &decay, &sz, NULL, 0) == 0 ? decay : -1;

    unsigned narenas = 0;
    sz = sizeof(narenas);
    if (ctl(M_NARENAS, 0, 0, &narenas, &sz, NULL, 0) == 0) out->narenas = narenas;

    size_t page = 0;
    if (ctl_size(M_PAGE, 0, 0, &page) == 0 && page) out->page_size = page;
    return rc;
#else
    out->dirty_decay_ms = -1;
    out->muzzy_decay_ms = -1;
    return 0;
#endif
}

/* ---- size classes ----------------------------------------------------------------------- */

int mem_bins_read(mem_bin *out, size_t cap, size_t *n) {
    if (n) *n = 0;
    if (!n || (cap && !out)) return MEM_ERR_INVALID;
#ifdef MEMKV_HAVE_JEMALLOC
    if (ctl_epoch() != 0) return MEM_ERR_MALLCTL;
    unsigned nbins = 0;
    size_t sz = sizeof(nbins);
    if (ctl(M_NBINS, 0, 0, &nbins, &sz, NULL, 0) != 0) return MEM_ERR_MALLCTL;
    for (size_t j = 0; j < nbins && j < cap; j++) {
        mem_bin *b = &out[j];
        memset(b, 0, sizeof(*b));
        uint32_t nregs = 0;
        sz = sizeof(nregs);
        if (ctl_size(M_BIN_SIZE, j, 0, &b->size) != 0 ||
            ctl(M_BIN_NREGS, j, 0, &nregs, &sz, NULL, 0) != 0 ||
            ctl_size(M_BIN_CURREGS, MALLCTL_ARENAS_ALL, j, &b->curregs) != 0 ||
            ctl_size(M_BIN_CURSLABS, MALLCTL_ARENAS_ALL, j, &b->curslabs) != 0)
            return MEM_ERR_MALLCTL;
        b->nregs = nregs;
        size_t regions = b->curslabs * (size_t)nregs;
        /* The merged snapshot is consistent, but never let a race produce a huge unsigned. */
        b->free_bytes = regions > b->curregs ? (regions - b->curregs) * b->size : 0;
    }
    *n = nbins;
    return 0;
#else
    (void)out;
    (void)cap;
    return MEM_ERR_NO_JEMALLOC;
#endif
}

/* ---- one arena -------------------------------------------------------------------------- */

int mem_arena_stats_read(unsigned arena, mem_arena_stats *out) {
    if (!out) return MEM_ERR_INVALID;
    memset(out, 0, sizeof(*out));
#ifdef MEMKV_HAVE_JEMALLOC
    if (ctl_epoch() != 0) return MEM_ERR_MALLCTL;
    size_t page = 0, pactive = 0, pdirty = 0, pmuzzy = 0, small = 0, large = 0;
    if (ctl_size(M_PAGE, 0, 0, &page) != 0 || ctl_size(M_ARENA_PACTIVE, arena, 0, &pactive) != 0 ||
        ctl_size(M_ARENA_PDIRTY, arena, 0, &pdirty) != 0 ||
        ctl_size(M_ARENA_PMUZZY, arena, 0, &pmuzzy) != 0 ||
        ctl_size(M_ARENA_RESIDENT, arena, 0, &out->resident) != 0 ||
        ctl_size(M_ARENA_SMALL_ALLOCATED, arena, 0, &small) != 0 ||
        ctl_size(M_ARENA_LARGE_ALLOCATED, arena, 0, &large) != 0) {
        memset(out, 0, sizeof(*out));
        return MEM_ERR_MALLCTL;
    }
    out->active = pactive * page;
    out->dirty = pdirty * page;
    out->muzzy = pmuzzy * page;
    out->allocated = small + large;
    return 0;
#else
    (void)arena;
    return MEM_ERR_NO_JEMALLOC;
#endif
}

/* ---- process ---------------------------------------------------------------------------- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMKV_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MEMKV_UNDER_ASAN 1
#endif

int mem_rss_inflated(void) {
#ifdef MEMKV_UNDER_ASAN
    return 1;
#else
    return 0;
#endif
}

size_t mem_process_rss(void) {
    char buf[256];
    if (util_read_small_file("/proc/self/statm", buf, sizeof(buf)) <= 0) return 0;
    /* "size resident shared text lib data dt", in pages */
    char *end = NULL;
    (void)strtoull(buf, &end, 10);
    if (end == buf) return 0;
    const char *p = end;
    unsigned long long resident = strtoull(p, &end, 10);
    if (end == p) return 0;
    return (size_t)resident * os_page_size();
}

size_t mem_process_rss_peak(void) {
    char buf[4096];
    if (util_read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0) return 0;
    const char *p = strstr(buf, "\nVmHWM:");
    if (!p) return 0;
    p += strlen("\nVmHWM:");
    char *end = NULL;
    unsigned long long kb = strtoull(p, &end, 10);
    if (end == p) return 0;
    return (size_t)kb * 1024;
}

/* ---- purge ------------------------------------------------------------------------------ */

int mem_purge(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    return ctl(M_ARENA_PURGE, MALLCTL_ARENAS_ALL, 0, NULL, NULL, NULL, 0);
#else
    return MEM_ERR_NO_JEMALLOC;
#endif
}

int mem_set_decay(ssize_t dirty_ms, ssize_t muzzy_ms) {
#ifdef MEMKV_HAVE_JEMALLOC
    /* The defaults of arenas created from now on (the subsystem arenas are made at start-up,
     * but a thread's automatic arena may come later), then every arena that exists. */
    if (ctl(M_DIRTY_DECAY, 0, 0, NULL, NULL, &dirty_ms, sizeof(dirty_ms)) != 0 ||
        ctl(M_MUZZY_DECAY, 0, 0, NULL, NULL, &muzzy_ms, sizeof(muzzy_ms)) != 0)
        return MEM_ERR_MALLCTL;
    unsigned narenas = 0;
    size_t sz = sizeof(narenas);
    if (ctl(M_NARENAS, 0, 0, &narenas, &sz, NULL, 0) != 0) return MEM_ERR_MALLCTL;
    for (unsigned i = 0; i < narenas; i++) {
        /* An index never initialized (or destroyed) refuses: nothing to change there. */
        (void)ctl(M_ARENA_DIRTY_DECAY, i, 0, NULL, NULL, &dirty_ms, sizeof(dirty_ms));
        (void)ctl(M_ARENA_MUZZY_DECAY, i, 0, NULL, NULL, &muzzy_ms, sizeof(muzzy_ms));
    }
    return 0;
#else
    (void)dirty_ms;
    (void)muzzy_ms;
    return MEM_ERR_NO_JEMALLOC;
#endif
}

int mem_set_background_thread(int on) {
#ifdef MEMKV_HAVE_JEMALLOC
    bool b = on != 0;
    return ctl(M_BACKGROUND_THREAD, 0, 0, NULL, NULL, &b, sizeof(b));
#else
    (void)on;
    return MEM_ERR_NO_JEMALLOC;
#endif
}

/* ---- malloc_stats_print ----------------------------------------------------------------- */

#ifdef MEMKV_HAVE_JEMALLOC
typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static void text_buf_write(void *opaque, const char *s) {
    text_buf *t = opaque;
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap;
        while (t->len + n + 1 > cap)
            cap *= 2;
        t->p = alloc_realloc(ALLOC_SUB_OTHER, t->p, cap);
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
}
#endif

int mem_malloc_stats(const char *opts, char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!out || !len) return MEM_ERR_INVALID;
#ifdef MEMKV_HAVE_JEMALLOC
    /* The callback allocates: jemalloc holds none of its locks while it calls write_cb (Redis's
     * MEMORY MALLOC-STATS does the same). */
    text_buf t = {.cap = 16384};
    t.p = alloc_malloc(ALLOC_SUB_OTHER, t.cap);
    t.p[0] = '\0';
    malloc_stats_print(text_buf_write, &t, opts);
    *out = t.p;
    *len = t.len;
    return 0;
#else
    (void)opts;
    return MEM_ERR_NO_JEMALLOC;
#endif
}

void mem_text_free(char *text) {
    alloc_free(ALLOC_SUB_OTHER, text);
}

/* ---- ratios ----------------------------------------------------------------------------- */

/* num / den, or 1.0 (neutral) with 0 bytes when den is 0: see the header. */
static void ratio(size_t num, size_t den, double *r, long long *bytes) {
    if (den == 0) {
        *r = 1.0;
        *bytes = 0;
        return;
    }
    *r = (double)num / (double)den;
    *bytes = (long long)num - (long long)den;
}

void mem_ratios_compute(const mem_allocator_stats *a, size_t rss, size_t used_memory,
                        mem_ratios *out) {
    if (!out) return;
    size_t allocated = a ? a->allocated : 0;
    size_t active = a ? a->active : 0;
    size_t resident = a ? a->resident : 0;
    ratio(active, allocated, &out->allocator_frag_ratio, &out->allocator_frag_bytes);
    ratio(resident, active, &out->allocator_rss_ratio, &out->allocator_rss_bytes);
    ratio(rss, resident, &out->rss_overhead_ratio, &out->rss_overhead_bytes);
    ratio(rss, used_memory, &out->mem_fragmentation_ratio, &out->mem_fragmentation_bytes);
}

/* ---- snapshot helper -------------------------------------------------------------------- */

int mem_snapshot_read_allocator(mem_snapshot *s, mem_bin *bins, size_t cap) {
    if (!s) return MEM_ERR_INVALID;
    int rc = mem_allocator_stats_read(&s->alloc);
    s->rss = mem_process_rss();
    s->bins = NULL;
    s->nbins = 0;
    size_t n = 0;
    if (bins && cap && mem_bins_read(bins, cap, &n) == 0) {
        s->bins = bins;
        s->nbins = n < cap ? n : cap;
    }
    return rc;
}
