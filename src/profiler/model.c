/* model — a parsed dump turned into a symbolized, unbiased profile: distinct addresses become
 * locations (each symbolized once), jemalloc's and memkv's allocation frames are cut off the
 * inner end of each stack, counts are scaled as jeprof does, stacks that become identical are
 * merged, and each stack is attributed to the subsystem its memory belongs to. */
#include "profiler/profiler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc/alloc.h"

/* ---- string arena (owns every string and loc-index array of a profile) ------------------ */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_chunk;

typedef struct str_arena {
    arena_chunk *head;
} str_arena;

#define ARENA_CHUNK_BYTES ((size_t)64 * 1024)

static void *arena_alloc(str_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK_BYTES / 4 ? n : ARENA_CHUNK_BYTES;
        c = alloc_malloc(ALLOC_SUB_PROFILER, sizeof(arena_chunk) + cap);
        c->used = 0;
        c->cap = cap;
        /* A big block gets a chunk of its own behind the current one, so the current one's
         * free space stays usable. */
        if (a->head && cap != ARENA_CHUNK_BYTES) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static char *arena_strdup(str_arena *a, const char *s) {
    size_t n = strlen(s);
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

static void arena_free(str_arena *a) {
    if (!a) return;
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        alloc_free(ALLOC_SUB_PROFILER, c);
        c = next;
    }
    alloc_free(ALLOC_SUB_PROFILER, a);
}

void prof_profile_free(prof_profile *p) {
    if (!p) return;
    alloc_free(ALLOC_SUB_PROFILER, p->locs);
    alloc_free(ALLOC_SUB_PROFILER, p->samples);
    arena_free(p->arena);
    memset(p, 0, sizeof(*p));
}

/* ---- allocator frames ------------------------------------------------------------------- */

/* Public allocation entry points (jemalloc's and libc's names) and memkv's wrappers. */
static const char *const alloc_exact[] = {
    "malloc",          "calloc",         "realloc",        "free",
    "mallocx",         "rallocx",        "xallocx",        "sdallocx",
    "dallocx",         "posix_memalign", "aligned_alloc",  "memalign",
    "valloc",          "pvalloc",        "reallocarray",   "malloc_default",
    "do_rallocx",      "__libc_malloc",  "__libc_calloc",  "__libc_realloc",
    "__libc_memalign", "__libc_valloc",  "__libc_pvalloc", "__posix_memalign",
    "strdup",          "strndup",        "__strdup",       "__strndup",
    "alloc_malloc",    "alloc_calloc",   "alloc_realloc",  "alloc_realloc_sized",
    "alloc_strndup",
};

/* jemalloc internals (its private namespace is "je_"; static helpers keep their bare names) and
 * the libgcc unwinder it samples with. */
static const char *const alloc_prefix[] = {
    "je_",     "prof_backtrace", "prof_alloc", "prof_tctx", "imalloc", "ialloc",
    "iralloc", "irealloc",       "ipalloc",    "arena_",    "tcache_", "_Unwind_",
};

int prof_is_allocator_frame(const char *func) {
    if (!func || !*func) return 0;
    for (size_t i = 0; i < sizeof(alloc_exact) / sizeof(alloc_exact[0]); i++)
        if (strcmp(func, alloc_exact[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof(alloc_prefix) / sizeof(alloc_prefix[0]); i++)
        if (strncmp(func, alloc_prefix[i], strlen(alloc_prefix[i])) == 0) return 1;
    return 0;
}

/* ---- attribution ------------------------------------------------------------------------ */

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int is_expires_frame(const char *f) {
    return starts_with(f, "exp_") || strcmp(f, "db_set_expire") == 0 ||
           strcmp(f, "db_persist") == 0;
}

/* One frame's verdict: an alloc_sub value, -1 for "look further out", -2 for "stop: other".
 * `outer`/`nouter` are the frames outside this one (for the hash-table rule). */
static int attribute_frame(const char *f, const char *const *outer, size_t nouter) {
    /* key space (src/db/db.c) */
    if (strcmp(f, "db_set_string") == 0 || strcmp(f, "db_string_resize") == 0 ||
        strcmp(f, "db_rename") == 0)
        return ALLOC_SUB_STRINGS;
    if (is_expires_frame(f)) return ALLOC_SUB_EXPIRES_INDEX;
    if (starts_with(f, "ht_")) {
        /* Both indexes are ht_ tables: the expires one when the first db-level frame outside
         * is an expires operation. */
        for (size_t j = 0; j < nouter; j++) {
            const char *o = outer[j];
            if (!o) continue;
            if (is_expires_frame(o)) return ALLOC_SUB_EXPIRES_INDEX;
            if (starts_with(o, "db_")) break;
        }
        return ALLOC_SUB_KEY_INDEX;
    }
    if (strcmp(f, "db_new") == 0) return ALLOC_SUB_KEY_INDEX;
    /* clients (src/server/net.c, cmd_server.c) */
    if (strcmp(f, "client_new") == 0 || strcmp(f, "accept_handler") == 0 ||
        strcmp(f, "set_client_name") == 0)
        return ALLOC_SUB_CLIENTS;
    /* query buffers: the read buffer (net.c) and the RESP parser's argv (resp.c) */
    if (strcmp(f, "read_handler") == 0 || starts_with(f, "resp_")) return ALLOC_SUB_QUERY_BUF;
    /* output buffers (reply.c, commands.c) */
    if (starts_with(f, "reply_")) return ALLOC_SUB_OUTPUT_BUF;
    /* the profiler itself, libdw/libelf under the symbolizer */
    if (starts_with(f, "prof_") || starts_with(f, "heap_dump_") || starts_with(f, "dwfl_") ||
        starts_with(f, "__libdwfl") || starts_with(f, "dwarf_") || starts_with(f, "__libdw_") ||
        starts_with(f, "elf_") || starts_with(f, "__libelf"))
        return ALLOC_SUB_PROFILER;
    /* the engine's worker thread (engine.c's static functions): whatever it allocates that
     * nothing above claimed is the profiler's */
    if (starts_with(f, "job_") || strcmp(f, "run_job") == 0 || strcmp(f, "load_profile") == 0 ||
        strcmp(f, "take_dump") == 0 || strcmp(f, "worker_main") == 0)
        return ALLOC_SUB_PROFILER;
    if (starts_with(f, "MHD_") || starts_with(f, "http_")) return ALLOC_SUB_HTTP;
    /* the Lua heap: every Lua allocation goes through the scripting allocator */
    if (strcmp(f, "script_lua_alloc") == 0) return ALLOC_SUB_SCRIPTING;
    /* A command's own temporary memory (KEYS lists, INFO text…): not the read buffer that the
     * command happens to run under. */
    if (strcmp(f, "command_process") == 0 || starts_with(f, "cmd_")) return -2;
    return -1;
}

int prof_attribute_stack(const char *const *funcs, size_t n) {
    if (!funcs) return ALLOC_SUB_OTHER;
    for (size_t i = 0; i < n; i++) {
        if (!funcs[i]) continue;
        int v = attribute_frame(funcs[i], funcs + i + 1, n - i - 1);
        if (v == -2) return ALLOC_SUB_OTHER;
        if (v >= 0) return v;
    }
    return ALLOC_SUB_OTHER;
}

/* ---- build ------------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t find_addr(const uint64_t *addrs, size_t n, uint64_t a) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (addrs[mid] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t hash_seq(const uint32_t *s, size_t n) {
    uint64_t h = 1469598103934665603ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

int prof_profile_build(const heap_dump *d, prof_symbolize_fn sym, void *symctx, prof_profile *out) {
    if (!out) return PROF_ERR_BADARG;
    memset(out, 0, sizeof(*out));
    if (!d || (d->nstacks && !d->stacks)) return PROF_ERR_BADARG;

    out->sample_period = d->sample_period;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    str_arena *arena = alloc_calloc(ALLOC_SUB_PROFILER, sizeof(*arena));
    out->arena = arena;

    /* 1. Distinct addresses. */
    size_t total = 0, maxdepth = 0;
    for (size_t i = 0; i < d->nstacks; i++) {
        if (d->stacks[i].naddrs > SIZE_MAX / sizeof(uint64_t) - total) {
            prof_profile_free(out);
            return PROF_ERR_BADARG;
        }
        total += d->stacks[i].naddrs;
        if (d->stacks[i].naddrs > maxdepth) maxdepth = d->stacks[i].naddrs;
    }
    uint64_t *addrs = alloc_malloc(ALLOC_SUB_PROFILER, (total ? total : 1) * sizeof(uint64_t));
    size_t k = 0;
    for (size_t i = 0; i < d->nstacks; i++) {
        memcpy(addrs + k, d->stacks[i].addrs, d->stacks[i].naddrs * sizeof(uint64_t));
        k += d->stacks[i].naddrs;
    }
    qsort(addrs, total, sizeof(uint64_t), cmp_u64);
    size_t naddr = 0;
    for (size_t i = 0; i < total; i++)
        if (naddr == 0 || addrs[naddr - 1] != addrs[i]) addrs[naddr++] = addrs[i];
    if (naddr > UINT32_MAX) {
        alloc_free(ALLOC_SUB_PROFILER, addrs);
        prof_profile_free(out);
        return PROF_ERR_BADARG;
    }

    /* 2. Symbolize each distinct address once. The symbolizer is asked about addr − 1: a
     * return address points after the call, which may be the next line or function. */
    prof_location *all = alloc_malloc(ALLOC_SUB_PROFILER, (naddr ? naddr : 1) * sizeof(*all));
    unsigned char *unknown = alloc_calloc(ALLOC_SUB_PROFILER, naddr ? naddr : 1);
    const char *last_file = NULL;
    for (size_t i = 0; i < naddr; i++) {
        char fbuf[1024], filebuf[1024];
        fbuf[0] = filebuf[0] = '\0';
        uint64_t a = addrs[i];
        int rc =
            sym ? sym(symctx, a ? a - 1 : 0, fbuf, sizeof(fbuf), filebuf, sizeof(filebuf)) : -1;
        fbuf[sizeof(fbuf) - 1] = filebuf[sizeof(filebuf) - 1] = '\0';
        all[i].addr = a;
        if (rc != 0 || fbuf[0] == '\0') {
            snprintf(fbuf, sizeof(fbuf), "0x%" PRIx64, a);
            unknown[i] = 1;
        }
        all[i].func = arena_strdup(arena, fbuf);
        if (rc == 0 && filebuf[0]) {
            /* Neighbouring addresses mostly share a file: keep one copy per run. */
            if (!last_file || strcmp(last_file, filebuf) != 0)
                last_file = arena_strdup(arena, filebuf);
            all[i].file = last_file;
        } else {
            all[i].file = NULL;
        }
    }

    /* 3. Stacks: strip, scale, attribute, merge identical ones. */
    uint32_t *seq = alloc_malloc(ALLOC_SUB_PROFILER, (maxdepth ? maxdepth : 1) * sizeof(uint32_t));
    const char **names =
        alloc_malloc(ALLOC_SUB_PROFILER, (maxdepth ? maxdepth : 1) * sizeof(const char *));
    unsigned char *used = alloc_calloc(ALLOC_SUB_PROFILER, naddr ? naddr : 1);
    prof_sample *samples =
        alloc_malloc(ALLOC_SUB_PROFILER, (d->nstacks ? d->nstacks : 1) * sizeof(prof_sample));
    size_t nsamples = 0;
    size_t hcap = 16;
    while (hcap < d->nstacks * 2 && hcap < SIZE_MAX / 4 / sizeof(size_t))
        hcap *= 2;
    size_t *htab = alloc_malloc(ALLOC_SUB_PROFILER, hcap * sizeof(size_t));
    for (size_t i = 0; i < hcap; i++)
        htab[i] = SIZE_MAX;

    for (size_t s = 0; s < d->nstacks; s++) {
        const heap_stack *st = &d->stacks[s];
        if (st->naddrs == 0) continue;
        if (!st->live_objs && !st->live_bytes && !st->accum_objs && !st->accum_bytes) continue;
        for (size_t j = 0; j < st->naddrs; j++)
            seq[j] = (uint32_t)find_addr(addrs, naddr, st->addrs[j]);
        /* The leading run of allocator frames goes, unsymbolized frames inside that run with
         * it; an allocator-named frame further out (a callback, say) stays. */
        size_t strip = 0;
        for (size_t j = 0; j < st->naddrs; j++) {
            if (unknown[seq[j]]) continue;
            if (!prof_is_allocator_frame(all[seq[j]].func)) break;
            strip = j + 1;
        }
        if (strip == st->naddrs) strip = st->naddrs - 1; /* keep at least the outermost */
        const uint32_t *keep = seq + strip;
        size_t nkeep = st->naddrs - strip;
        /* Frames outside main (libc's start-up: __libc_start_call_main, _start) say nothing,
         * and only libgcc's unwinder reports them (the frame-pointer walk stops at main): they
         * go, so a call path is the same stack whichever unwinder sampled it. */
        for (size_t j = 0; j + 1 < nkeep; j++) {
            const char *f = unknown[keep[j]] ? NULL : all[keep[j]].func;
            if (f && strcmp(f, "main") == 0) {
                nkeep = j + 1;
                break;
            }
        }

        double live_scale = heap_scale(st->live_objs, st->live_bytes, d->sample_period);
        double lo = (double)st->live_objs * live_scale, lb = (double)st->live_bytes * live_scale;
        double ao = lo, ab = lb;
        if (st->accum_objs || st->accum_bytes) {
            double as = heap_scale(st->accum_objs, st->accum_bytes, d->sample_period);
            ao = (double)st->accum_objs * as;
            ab = (double)st->accum_bytes * as;
        }

        uint64_t h = hash_seq(keep, nkeep);
        size_t slot = (size_t)h & (hcap - 1);
        prof_sample *hit = NULL;
        while (htab[slot] != SIZE_MAX) {
            prof_sample *c = &samples[htab[slot]];
            if (c->nlocs == nkeep && memcmp(c->locs, keep, nkeep * sizeof(uint32_t)) == 0) {
                hit = c;
                break;
            }
            slot = (slot + 1) & (hcap - 1);
        }
        if (!hit) {
            hit = &samples[nsamples];
            htab[slot] = nsamples++;
            hit->locs = arena_alloc(arena, nkeep * sizeof(uint32_t));
            memcpy(hit->locs, keep, nkeep * sizeof(uint32_t));
            hit->nlocs = nkeep;
            hit->live_objs = hit->live_bytes = hit->alloc_objs = hit->alloc_bytes = 0;
            for (size_t j = 0; j < nkeep; j++) {
                names[j] = all[keep[j]].func;
                used[keep[j]] = 1;
            }
            hit->subsystem = prof_attribute_stack(names, nkeep);
        }
        hit->live_objs += lo;
        hit->live_bytes += lb;
        hit->alloc_objs += ao;
        hit->alloc_bytes += ab;
    }

    /* 4. Keep only the locations some stack still refers to. */
    uint32_t *remap = seq; /* reuse when big enough */
    uint32_t *remap_own = NULL;
    if (naddr > maxdepth) {
        remap_own = alloc_malloc(ALLOC_SUB_PROFILER, naddr * sizeof(uint32_t));
        remap = remap_own;
    }
    size_t nlocs = 0;
    for (size_t i = 0; i < naddr; i++)
        if (used[i]) nlocs++;
    out->locs = alloc_malloc(ALLOC_SUB_PROFILER, (nlocs ? nlocs : 1) * sizeof(prof_location));
    nlocs = 0;
    for (size_t i = 0; i < naddr; i++) {
        if (!used[i]) continue;
        remap[i] = (uint32_t)nlocs;
        out->locs[nlocs++] = all[i];
    }
    out->nlocs = nlocs;
    for (size_t i = 0; i < nsamples; i++)
        for (size_t j = 0; j < samples[i].nlocs; j++)
            samples[i].locs[j] = remap[samples[i].locs[j]];
    out->samples = samples;
    out->nsamples = nsamples;

    alloc_free(ALLOC_SUB_PROFILER, remap_own);
    alloc_free(ALLOC_SUB_PROFILER, htab);
    alloc_free(ALLOC_SUB_PROFILER, used);
    alloc_free(ALLOC_SUB_PROFILER, names);
    alloc_free(ALLOC_SUB_PROFILER, seq);
    alloc_free(ALLOC_SUB_PROFILER, unknown);
    alloc_free(ALLOC_SUB_PROFILER, all);
    alloc_free(ALLOC_SUB_PROFILER, addrs);
    return 0;
}
