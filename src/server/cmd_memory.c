/* MEMORY STATS / USAGE / DOCTOR / MALLOC-STATS / PURGE / HELP, and the figures INFO memory
 * shares with them. The numbers come from src/memory (allocator, process) and src/alloc (what
 * each subsystem holds); this file only gathers and formats. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "memory/memory.h"
#include "server/pubsub.h"
#include "server/script.h"
#include "server/server.h"
#include "util/util.h"

size_t memory_used(void) {
    int64_t used = alloc_total_bytes();
    return used > 0 ? (size_t)used : 0;
}

void memory_update_peak(void) {
    size_t used = memory_used();
    if (used > srv.used_memory_peak) srv.used_memory_peak = used;
}

/* Redis's used_memory_overhead: what the server holds besides the data itself. The indexes'
 * start-up size is already inside used_memory_startup, so only their growth is added. */
static int64_t index_bytes(void) {
    return alloc_sub_bytes(ALLOC_SUB_KEY_INDEX) + alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX);
}

void memory_mark_startup(void) {
    srv.used_memory_startup = memory_used();
    srv.used_memory_peak = srv.used_memory_startup;
    srv.index_bytes_startup = index_bytes();
}

void memory_figures(memory_figures_t *f) {
    memset(f, 0, sizeof(*f));
    mem_allocator_stats_read(&f->alloc);
    f->rss = mem_process_rss();
    /* One reading of every counter: used memory is their sum, in this very snapshot. */
    f->used = 0;
    for (int i = 0; i < ALLOC_SUB_COUNT; i++) {
        f->sub[i] = alloc_sub_bytes((alloc_sub)i);
        f->used += f->sub[i] > 0 ? (size_t)f->sub[i] : 0;
    }
    if (f->used > srv.used_memory_peak) srv.used_memory_peak = f->used;
    f->peak = srv.used_memory_peak;
    int64_t clients =
        f->sub[ALLOC_SUB_QUERY_BUF] + f->sub[ALLOC_SUB_OUTPUT_BUF] + f->sub[ALLOC_SUB_CLIENTS];
    f->clients_normal = clients > 0 ? (size_t)clients : 0;
    int64_t overhead = (int64_t)srv.used_memory_startup + clients + f->sub[ALLOC_SUB_KEY_INDEX] +
                       f->sub[ALLOC_SUB_EXPIRES_INDEX] - srv.index_bytes_startup;
    f->overhead = overhead > 0 ? (size_t)overhead : 0;
    f->dataset = f->used > f->overhead ? f->used - f->overhead : 0;
    /* Without jemalloc the allocator figures are unknown: use used memory so the ratios stay
     * meaningful (1.0) instead of dividing by zero. */
    if (!f->alloc.available) {
        f->alloc.allocated = f->alloc.active = f->alloc.resident = f->used;
    }
    mem_ratios_compute(&f->alloc, f->rss, f->used, &f->ratios);
}

size_t memory_system_total(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    return pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize : 0;
}

int memory_arena_figures(alloc_arena_group g, mem_arena_stats *out) {
    unsigned arena;
    if (!alloc_arena_index(g, &arena)) return -1;
    return mem_arena_stats_read(arena, out) == 0 ? 0 : -1;
}

static void fill_snapshot(mem_snapshot *s, mem_bin *bins, size_t cap) {
    mem_stats_batch_begin(); /* allocator figures and bins from one jemalloc snapshot */
    memory_figures_t f;
    memory_figures(&f);
    memset(s, 0, sizeof(*s));
    s->alloc = f.alloc;
    s->rss = f.rss;
    s->rss_baseline = srv.rss_baseline;
    s->rss_inflated = mem_rss_inflated();
    s->used_memory = f.used;
    s->used_memory_peak = f.peak;
    s->maxmemory = srv.maxmemory > 0 ? (size_t)srv.maxmemory : 0;
    s->maxmemory_policy = evict_policy_name();
    for (int i = 0; i < ALLOC_SUB_COUNT && s->nsub < MEM_SUBSYSTEMS_MAX; i++) {
        int64_t b = alloc_sub_bytes((alloc_sub)i);
        s->sub[s->nsub].name = alloc_sub_name((alloc_sub)i);
        s->sub[s->nsub].bytes = b > 0 ? (size_t)b : 0;
        s->nsub++;
    }
    size_t n = 0;
    if (mem_bins_read(bins, cap, &n) == 0) {
        s->bins = bins;
        s->nbins = n < cap ? n : cap;
    }
    clients_top_buffers(&s->top_obuf, &s->top_qbuf);
    pubsub_top_subscriber(&s->top_sub);
    mem_stats_batch_end();
    s->clients = (size_t)srv.nclients;
    for (long long i = 0; i < srv.databases; i++)
        s->keys += db_size(srv.dbs[i]);
    keyspace_fill_doctor(&s->keyspace, 1);
    script_fill_doctor(&s->scripts);
}

static void add_kv_int(client *c, const char *k, long long v) {
    reply_add_bulk_cstr(&c->reply, k);
    reply_add_int(&c->reply, v);
}

/* Ratios are doubles, as in Redis (RESP2: bulk strings). */
static void add_kv_double(client *c, const char *k, double v) {
    reply_add_bulk_cstr(&c->reply, k);
    reply_add_double(&c->reply, v);
}

static void memory_stats(client *c) {
    memory_figures_t f;
    memory_figures(&f);
    long long dbs_with_keys = 0;
    size_t keys = 0;
    for (long long i = 0; i < srv.databases; i++) {
        size_t k = db_size(srv.dbs[i]);
        keys += k;
        if (k) dbs_with_keys++;
    }
    mem_arena_stats arenas[ALLOC_ARENA_GROUPS];
    int have_arena[ALLOC_ARENA_GROUPS];
    long long n = 27 + dbs_with_keys + ALLOC_SUB_COUNT;
    for (int g = 0; g < ALLOC_ARENA_GROUPS; g++) {
        have_arena[g] = memory_arena_figures((alloc_arena_group)g, &arenas[g]) == 0;
        if (have_arena[g]) n += 4;
    }
    reply_add_map_len(&c->reply, n);
    add_kv_int(c, "peak.allocated", (long long)f.peak);
    add_kv_int(c, "total.allocated", (long long)f.used);
    add_kv_int(c, "startup.allocated", (long long)srv.used_memory_startup);
    add_kv_int(c, "replication.backlog", 0);
    add_kv_int(c, "clients.slaves", 0);
    add_kv_int(c, "clients.normal", (long long)f.clients_normal);
    add_kv_int(c, "cluster.links", 0);
    add_kv_int(c, "aof.buffer", 0);
    add_kv_int(c, "lua.caches", 0);
    add_kv_int(c, "functions.caches", 0);
    for (long long i = 0; i < srv.databases; i++) {
        db_stats st;
        db_get_stats(srv.dbs[i], &st);
        if (!st.keys) continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%lld", i);
        reply_add_bulk_cstr(&c->reply, name);
        reply_add_map_len(&c->reply, 2);
        add_kv_int(c, "overhead.hashtable.main", (long long)(st.buckets * sizeof(void *)));
        add_kv_int(c, "overhead.hashtable.expires",
                   (long long)(st.expires_buckets * sizeof(void *)));
    }
    add_kv_int(c, "overhead.total", (long long)f.overhead);
    add_kv_int(c, "keys.count", (long long)keys);
    add_kv_int(c, "keys.bytes-per-key",
               keys ? (long long)((f.used - srv.used_memory_startup) / keys) : 0);
    add_kv_int(c, "dataset.bytes", (long long)f.dataset);
    add_kv_double(c, "dataset.percentage",
                  f.used > srv.used_memory_startup
                      ? 100.0 * (double)f.dataset / (double)(f.used - srv.used_memory_startup)
                      : 0.0);
    add_kv_double(c, "peak.percentage", f.peak ? 100.0 * (double)f.used / (double)f.peak : 0.0);
    add_kv_int(c, "allocator.allocated", (long long)f.alloc.allocated);
    add_kv_int(c, "allocator.active", (long long)f.alloc.active);
    add_kv_int(c, "allocator.resident", (long long)f.alloc.resident);
    add_kv_double(c, "allocator-fragmentation.ratio", f.ratios.allocator_frag_ratio);
    add_kv_int(c, "allocator-fragmentation.bytes", f.ratios.allocator_frag_bytes);
    add_kv_double(c, "allocator-rss.ratio", f.ratios.allocator_rss_ratio);
    add_kv_int(c, "allocator-rss.bytes", f.ratios.allocator_rss_bytes);
    add_kv_double(c, "rss-overhead.ratio", f.ratios.rss_overhead_ratio);
    add_kv_int(c, "rss-overhead.bytes", f.ratios.rss_overhead_bytes);
    add_kv_double(c, "fragmentation", f.ratios.mem_fragmentation_ratio);
    add_kv_int(c, "fragmentation.bytes", f.ratios.mem_fragmentation_bytes);
    /* memkv's own: the exact bytes each subsystem holds. */
    for (int i = 0; i < ALLOC_SUB_COUNT; i++) {
        char name[64];
        snprintf(name, sizeof(name), "subsystem.%s", alloc_sub_name((alloc_sub)i));
        add_kv_int(c, name, alloc_sub_bytes((alloc_sub)i));
    }
    /* Subsystems with an arena of their own: allocator figures, hence fragmentation. */
    for (int g = 0; g < ALLOC_ARENA_GROUPS; g++) {
        if (!have_arena[g]) continue;
        const char *gn = alloc_arena_group_name((alloc_arena_group)g);
        char name[64];
        snprintf(name, sizeof(name), "arena.%s.allocated", gn);
        add_kv_int(c, name, (long long)arenas[g].allocated);
        snprintf(name, sizeof(name), "arena.%s.active", gn);
        add_kv_int(c, name, (long long)arenas[g].active);
        snprintf(name, sizeof(name), "arena.%s.resident", gn);
        add_kv_int(c, name, (long long)arenas[g].resident);
        snprintf(name, sizeof(name), "arena.%s.fragmentation.ratio", gn);
        add_kv_double(c, name,
                      arenas[g].allocated ? (double)arenas[g].active / (double)arenas[g].allocated
                                          : 1.0);
    }
}

static void memory_usage(client *c) {
    /* [SAMPLES count] options, parsed one at a time as Redis does (it may repeat; the last
     * wins; 0 = every element). Strings are measured exactly; a collection type may estimate
     * from that many elements (db_type_ops.mem_usage; memkv's types count exactly). */
    long long samples = 5; /* Redis's default */
    for (int i = 3; i < c->argc; i += 2) {
        if (!arg_eq(c, i, "samples") || i + 1 >= c->argc) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (arg_ll(c, i + 1, &samples) < 0) return;
        if (samples < 0) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    db_entry *e = lookup_write(c, 2);
    if (!e) {
        reply_add_null(&c->reply);
        return;
    }
    reply_add_int(&c->reply, (long long)db_key_mem_usage_sampled(c->db, e, (size_t)samples));
}

void cmd_memory(client *c) {
    if (arg_eq(c, 1, "stats") && c->argc == 2) {
        memory_stats(c);
    } else if (arg_eq(c, 1, "usage") && c->argc >= 3) {
        memory_usage(c);
    } else if (arg_eq(c, 1, "doctor") && c->argc == 2) {
        mem_snapshot s;
        mem_bin bins[MEM_BINS_MAX];
        fill_snapshot(&s, bins, MEM_BINS_MAX);
        mem_doctor_limits lim = mem_doctor_limits_default();
        char *text = mem_doctor_report(&s, &lim);
        reply_add_verbatim(&c->reply, "txt", text, strlen(text));
        mem_text_free(text);
    } else if (arg_eq(c, 1, "malloc-stats") && c->argc == 2) {
        char *text = NULL;
        size_t len = 0;
        if (mem_malloc_stats(NULL, &text, &len) == 0) {
            reply_add_verbatim(&c->reply, "txt", text, len);
            mem_text_free(text);
        } else {
            reply_add_bulk_cstr(&c->reply, "Stats not supported for the current allocator");
        }
    } else if (arg_eq(c, 1, "purge") && c->argc == 2) {
        int rc = mem_purge();
        if (rc == 0 || rc == MEM_ERR_NO_JEMALLOC)
            reply_add_status(&c->reply, "OK");
        else
            reply_error(c, "ERR Error purging dirty pages");
    } else if (keyspace_memory_subcommand(c)) {
        /* PREFIXES, TOP-KEYS: keyspace.c */
    } else if (arg_eq(c, 1, "profile")) {
        memory_profile(c);
    } else if (arg_eq(c, 1, "help") && c->argc == 2) {
        /* clang-format off */
        static const char *const help[] = {
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports, with the numbers and a next step for each.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server, including the",
            "    bytes held by each subsystem (subsystem.*).",
            "PROFILE <subcommand> [<arg> ...]",
            "    The heap profiler: START, STOP, STATUS, DUMP, TOP, LEAKS, ... (MEMORY PROFILE HELP).",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
            "HELP",
            "    Print this help.",
            NULL};
        /* clang-format on */
        reply_help(c, help);
    } else if (arg_eq(c, 1, "stats") || arg_eq(c, 1, "doctor") || arg_eq(c, 1, "malloc-stats") ||
               arg_eq(c, 1, "purge") || arg_eq(c, 1, "help") || arg_eq(c, 1, "usage")) {
        reply_wrong_subcommand_arity(c);
    } else {
        reply_unknown_subcommand(c);
    }
}
