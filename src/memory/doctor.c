/* doctor — one memory snapshot in, plain-language findings out.
 *
 * Pure: everything comes from the mem_snapshot the caller gathered (no mallctl, no globals), so
 * every rule is unit-tested with synthetic snapshots. Each finding says what it saw, with the
 * numbers, what it means, and the exact next step an operator can run.
 *
 * The rules. Every "waste" rule needs BOTH its ratio (or share) above the limit AND at least
 * min_waste_bytes (32 MiB) at stake, so a small instance never cries wolf:
 *
 *  small instance  used_memory < min_waste AND (RSS - rss_baseline) < min_waste: only the
 *                  maxmemory rule runs (a configured limit bites at any size); the report says
 *                  the instance is too small for ratios to mean anything.
 *  allocator-fragmentation  active/allocated > frag_ratio (1.3) AND active - allocated >=
 *                  min_waste. Names the 3 size classes with the most free bytes in their slabs
 *                  and each one's share of the waste (the average ratio hides them).
 *  allocator-rss   resident/active > rss_ratio (1.3) AND resident - active - metadata (freed
 *                  pages jemalloc has not returned) >= min_waste. Next: MEMORY PURGE; says what
 *                  decay and the background thread will (not) do on their own.
 *  rss-overhead    (RSS - baseline)/resident > rss_overhead_ratio (1.5) AND RSS - resident -
 *                  baseline >= min_waste: memory outside jemalloc beyond the empty process's.
 *  rss-over-used   without jemalloc only (no allocator figures): (RSS - baseline)/used >
 *                  frag_ratio AND RSS - baseline - used >= min_waste.
 *  retained        INFO only, never an alarm: retained >= retained_ratio (4) x mapped AND
 *                  retained >= 32 x min_waste (1 GiB). Address space, not RSS.
 *  client-output-buffer / client-query-buffer  the largest single buffer > client_share (0.2) of
 *                  used memory AND >= min_waste: names the client (id, addr, name), the CLIENT
 *                  KILL to free it and the config to cap it.
 *  subsystem-<name>  a non-data subsystem (query_buffers, output_buffers, clients, profiler,
 *                  http, other) > subsystem_share (0.5) of used memory AND >= min_waste. Skipped
 *                  for a buffer subsystem when one client already named holds half of it.
 *  peak            peak >= peak_ratio (2) x used AND peak - used >= min_waste AND the RSS above
 *                  baseline still exceeds used memory by >= min_waste and by half the drop:
 *                  the RSS still reflects the peak. With jemalloc it splits that excess into
 *                  freed pages, slab holes, metadata and non-allocator memory and gives the
 *                  next step for the largest part. INFO when a fragmentation, allocator-rss or
 *                  rss-overhead finding already explains where the RSS is.
 *  subscriber-output-buffer  the pub/sub subscriber with the largest output buffer is behind:
 *                  above the pubsub soft limit, or above subscriber_limit_share (0.5) of the hard
 *                  limit, AND >= subscriber_min_bytes (1 MiB); with no pubsub limit at all,
 *                  >= min_waste. Judged at any size (the limit closes it however small the
 *                  server is). Names the client, its channels and patterns, the limits and the
 *                  time it has spent over the soft one; CRITICAL at 90% of the hard limit or
 *                  half-way through the soft limit's seconds. The client-output-buffer finding
 *                  and the output_buffers subsystem defer to it for the same client.
 *  script-cache    an application generates scripts: >= script_evicted_min (1000) EVAL scripts
 *                  evicted past lua-script-cache-max AND >= script_churn_share (0.5) of the
 *                  distinct scripts ever compiled (at any size: a compile per call is the
 *                  cost, the cap bounds the memory); or, not on a small instance, >=
 *                  script_count_min (1000) scripts cached AND the cache with the Lua heap
 *                  >= min_waste AND > script_share (0.25) of used memory. Names the figures and
 *                  the fix: the values in KEYS/ARGV, SCRIPT LOAD once, EVALSHA. The
 *                  subsystem-scripting finding defers to it.
 *  maxmemory       used > maxmemory_share (0.9) x maxmemory: WARNING (CRITICAL at 100% with
 *                  noeviction or an unknown policy); INFO with an evicting policy (a cache at
 *                  its limit is working as designed).
 *
 * The key-space rules (s->keyspace; silent when the statistics are off):
 *  big-key         the largest key >= big_key_share (0.25) of the data set AND >= min_waste
 *                  (not on a small instance): names it (db, type, length) and how to split or
 *                  drop it.
 *  prefix-growth / type-growth  a key prefix (or, when no prefix does, a type) whose bytes climb
 *                  along a line (r^2 >= growth_steadiness, 0.8) over the history's window AND
 *                  grew >= min_waste in it: the rate, the share of its keys without a TTL, the
 *                  time left to maxmemory (or to the machine's memory) at used memory's rate.
 *                  CRITICAL when maxmemory is under 6 hours away.
 *  eviction-policy a volatile-* policy with maxmemory set, used memory >= half of it, less than
 *                  volatile_share (0.1) of the data under a TTL AND >= min_waste without one:
 *                  eviction cannot free what has no TTL.
 *
 * Severity of a waste finding: CRITICAL when the bytes at stake are >= 8 x min_waste (256 MiB)
 * AND at least a quarter of the process (max of RSS and used memory); WARNING otherwise. Findings
 * are ordered by severity, then bytes at stake. */
#include "memory/memory.h"

#include "alloc/alloc.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIB ((size_t)1024 * 1024)
#define DOCTOR_MAX_FINDINGS 24
#define REPORT_WIDTH 96

mem_doctor_limits mem_doctor_limits_default(void) {
    mem_doctor_limits l = {
        .min_waste_bytes = 32 * MIB,
        .frag_ratio = 1.3,
        .rss_ratio = 1.3,
        .rss_overhead_ratio = 1.5,
        .subsystem_share = 0.5,
        .client_share = 0.2,
        .peak_ratio = 2.0,
        .maxmemory_share = 0.9,
        .retained_ratio = 4.0,
        .big_key_share = 0.25,
        .growth_steadiness = 0.8,
        .volatile_share = 0.1,
        .subscriber_limit_share = 0.5,
        .subscriber_min_bytes = MIB,
        .script_evicted_min = 1000,
        .script_churn_share = 0.5,
        .script_count_min = 1000,
        .script_share = 0.25,
    };
    return l;
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* A human byte count as a value: H(x).s lives until the end of the full expression (C11). */
typedef struct human {
    char s[24];
} human;

static human H(size_t bytes) {
    human h = {{0}};
    util_format_human_bytes(h.s, sizeof(h.s), (long long)bytes);
    return h;
}

static double pct(size_t part, size_t whole) {
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static size_t sub_sat(size_t a, size_t b) {
    return a > b ? a - b : 0;
}

/* The largest power of two in MiB that is <= bytes/2, at least 16: a suggested cap. */
static size_t suggest_cap_mb(size_t bytes) {
    size_t mb = 16;
    while (mb * 2 * MIB <= bytes / 2)
        mb *= 2;
    return mb;
}

typedef struct doctor {
    const mem_snapshot *s;
    const mem_doctor_limits *lim;
    mem_finding f[DOCTOR_MAX_FINDINGS];
    size_t n;
    size_t rss_net;    /* RSS above the start-up baseline */
    size_t used_den;   /* used memory, the denominator of shares */
    size_t total;      /* the process's size: max(RSS, used memory) */
    int named_obuf;    /* the top output-buffer client has its own finding */
    int named_qbuf;    /* the top query-buffer client has its own finding */
    int named_sub;     /* the top subscriber has its own finding */
    int named_scripts; /* the script-cache finding exists */
    int rss_explained; /* a fragmentation, allocator-rss or rss-overhead finding exists */
} doctor;

static mem_severity grade(const doctor *d, size_t bytes) {
    if (bytes >= 8 * d->lim->min_waste_bytes && bytes >= d->total / 4) return MEM_CRITICAL;
    return MEM_WARNING;
}

static void add(doctor *d, mem_severity sev, const char *code, size_t bytes, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(doctor *d, mem_severity sev, const char *code, size_t bytes, const char *fmt, ...) {
    if (d->n >= DOCTOR_MAX_FINDINGS) return;
    mem_finding *f = &d->f[d->n++];
    memset(f, 0, sizeof(*f));
    f->severity = sev;
    f->bytes = bytes;
    snprintf(f->code, sizeof(f->code), "%.31s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof(f->text), fmt, ap);
    va_end(ap);
}

/* A fixed-size char field of the snapshot, bounded even if the caller forgot the NUL. */
static int field_len(const char *s, size_t cap) {
    return (int)strnlen(s, cap);
}

/* ---- rules ------------------------------------------------------------------------------ */

static void rule_fragmentation(doctor *d) {
    const mem_allocator_stats *a = &d->s->alloc;
    if (!a->available || a->allocated == 0 || a->active <= a->allocated) return;
    size_t waste = a->active - a->allocated;
    double r = (double)a->active / (double)a->allocated;
    if (r <= d->lim->frag_ratio || waste < d->lim->min_waste_bytes) return;

    /* The three size classes with the most free bytes, and what all small classes explain. */
    const mem_bin *top[3] = {NULL, NULL, NULL};
    size_t bins_free = 0;
    for (size_t i = 0; d->s->bins && i < d->s->nbins; i++) {
        const mem_bin *b = &d->s->bins[i];
        bins_free += b->free_bytes;
        if (b->free_bytes == 0) continue;
        for (int k = 0; k < 3; k++) {
            if (!top[k] || b->free_bytes > top[k]->free_bytes) {
                for (int m = 2; m > k; m--)
                    top[m] = top[m - 1];
                top[k] = b;
                break;
            }
        }
    }
    char classes[256] = "";
    size_t off = 0;
    int ntop = 0;
    for (int k = 0; k < 3 && top[k]; k++, ntop++) {
        double share = pct(top[k]->free_bytes, waste);
        if (share > 100.0) share = 100.0;
        int w = snprintf(classes + off, sizeof(classes) - off, "%s%zu B (%s free, %.0f%%)",
                         k ? ", " : "", top[k]->size, H(top[k]->free_bytes).s, share);
        if (w < 0 || (size_t)w >= sizeof(classes) - off) break;
        off += (size_t)w;
    }
    char where[512];
    if (ntop > 0) {
        double explained = pct(bins_free, waste);
        char rest[96] = "";
        if (explained < 50.0)
            snprintf(rest, sizeof(rest), " Small size classes explain only %.0f%% of the waste.",
                     explained);
        snprintf(where, sizeof(where),
                 "The holes are free regions in partly used slabs of size class%s %s.%s",
                 ntop > 1 ? "es" : "", classes, rest);
    } else {
        snprintf(where, sizeof(where), "Per-size-class figures were not available.");
    }
    add(d, grade(d, waste), "allocator-fragmentation", waste,
        "Allocator fragmentation: %s of active pages hold no data (active %s vs allocated %s, "
        "ratio %.2f; %.0f%% of RSS). %s New values of these sizes reuse the holes; MEMORY PURGE "
        "cannot return partly used slabs. Next: watch the classes in MEMORY MALLOC-STATS (bins, "
        "column util); if the data set shrank for good, only a restart that reloads the data "
        "compacts it.",
        H(waste).s, H(a->active).s, H(a->allocated).s, r, pct(waste, d->s->rss), where);
    d->rss_explained = 1;
}

static void rule_allocator_rss(doctor *d) {
    const mem_allocator_stats *a = &d->s->alloc;
    if (!a->available || a->active == 0 || a->resident <= a->active) return;
    size_t gap = a->resident - a->active;
    size_t meta = a->metadata < gap ? a->metadata : gap;
    size_t dirty = gap - meta;
    double r = (double)a->resident / (double)a->active;
    if (r <= d->lim->rss_ratio || dirty < d->lim->min_waste_bytes) return;

    char decay[320];
    if (a->dirty_decay_ms < 0)
        snprintf(decay, sizeof(decay),
                 "Decay is off (dirty_decay_ms -1), so they stay until purged; to have them "
                 "returned on their own: CONFIG SET jemalloc-dirty-decay-ms 10000.");
    else if (a->background_thread == 1)
        snprintf(decay, sizeof(decay),
                 "The background thread also returns them on its own over dirty_decay_ms %zd "
                 "(muzzy_decay_ms %zd); a lasting gap means frees keep outpacing it: a shorter "
                 "decay (CONFIG SET jemalloc-dirty-decay-ms %zd) returns them sooner, for a few "
                 "more page faults when the memory is needed again.",
                 a->dirty_decay_ms, a->muzzy_decay_ms,
                 a->dirty_decay_ms > 1000 ? (ssize_t)1000 : (ssize_t)0);
    else
        snprintf(decay, sizeof(decay),
                 "background_thread is %s, so without a purge they are returned (dirty_decay_ms "
                 "%zd) only while the server keeps allocating: an idle server keeps them. To "
                 "change that: CONFIG SET jemalloc-bg-thread yes.",
                 a->background_thread == 0 ? "off" : "unknown", a->dirty_decay_ms);
    add(d, grade(d, dirty), "allocator-rss", dirty,
        "Allocator RSS: jemalloc holds %s of freed pages that still count in RSS (resident %s vs "
        "active %s, ratio %.2f; %s of the gap is its metadata). Next: MEMORY PURGE returns them "
        "now. %s",
        H(dirty).s, H(a->resident).s, H(a->active).s, r, H(meta).s, decay);
    d->rss_explained = 1;
}

static void rule_rss_overhead(doctor *d) {
    const mem_snapshot *s = d->s;
    const mem_allocator_stats *a = &s->alloc;
    if (!a->available || a->resident == 0) return;
    size_t outside = sub_sat(s->rss, a->resident);
    size_t excess = sub_sat(outside, s->rss_baseline);
    double r = (double)d->rss_net / (double)a->resident;
    if (r <= d->lim->rss_overhead_ratio || excess < d->lim->min_waste_bytes) return;
    /* Pages jemalloc released with MADV_FREE (muzzy) stay in RSS until the kernel wants them. */
    char muzzy[192] = "";
    if (a->muzzy_decay_ms != 0)
        snprintf(muzzy, sizeof(muzzy),
                 " With muzzy_decay_ms %zd, lazily freed (muzzy) pages also count here until the "
                 "kernel takes them; MEMORY PURGE returns those.",
                 a->muzzy_decay_ms);
    add(d, grade(d, excess), "rss-overhead", excess,
        "RSS overhead: the process RSS is %s but jemalloc has only %s resident; %s of the %s "
        "outside the allocator is beyond the %s the process had at start-up (ratio %.2f without "
        "that baseline). memkv's counters and the heap profiler cannot see it: thread stacks, "
        "libraries' own malloc, mapped files.%s Next: pmap -x $(pidof memkv-server) | sort -nk3 "
        "shows the largest mappings; INFO memory's used_memory_rss vs allocator_resident gives "
        "the trend.",
        H(s->rss).s, H(a->resident).s, H(excess).s, H(outside).s, H(s->rss_baseline).s, r, muzzy);
    d->rss_explained = 1;
}

static void rule_rss_over_used(doctor *d) {
    const mem_snapshot *s = d->s;
    if (s->alloc.available || s->used_memory == 0 || s->rss_inflated) return;
    size_t excess = sub_sat(d->rss_net, s->used_memory);
    double r = (double)d->rss_net / (double)s->used_memory;
    if (r <= d->lim->frag_ratio || excess < d->lim->min_waste_bytes) return;
    add(d, grade(d, excess), "rss-over-used", excess,
        "RSS over used memory: the process RSS is %s, %s above its %s start-up baseline, for %s "
        "of used memory (ratio %.2f without the baseline). This build has no jemalloc statistics "
        "(libc malloc), so memkv cannot tell fragmentation from freed pages not yet returned or "
        "memory outside the allocator. Next: run the jemalloc build to get the allocator figures "
        "in MEMORY STATS; INFO memory shows the trend.",
        H(s->rss).s, H(d->rss_net).s, H(s->rss_baseline).s, H(s->used_memory).s, r);
}

static void rule_retained(doctor *d) {
    const mem_allocator_stats *a = &d->s->alloc;
    if (!a->available || a->mapped == 0) return;
    double r = (double)a->retained / (double)a->mapped;
    if (r < d->lim->retained_ratio || a->retained < 32 * d->lim->min_waste_bytes) return;
    /* Bytes 0: address space is never at stake, so the note sorts after every other INFO. */
    add(d, MEM_INFO, "retained", 0,
        "Retained: jemalloc keeps %s of address space (%.1fx the %s mapped) that it gave back to "
        "the OS but keeps reserved for reuse. This is virtual address space, not RSS: it costs "
        "no physical memory and needs no action.",
        H(a->retained).s, r, H(a->mapped).s);
}

static void client_desc(char *buf, size_t cap, const char *addr, const char *name) {
    int alen = field_len(addr, 64), nlen = field_len(name, 64);
    if (nlen > 0)
        snprintf(buf, cap, "addr %.*s, name %.*s", alen, addr, nlen, name);
    else
        snprintf(buf, cap, "addr %.*s", alen > 0 ? alen : 1, alen > 0 ? addr : "?");
}

static int client_is_big(const doctor *d, size_t bytes) {
    return bytes >= d->lim->min_waste_bytes &&
           (double)bytes > d->lim->client_share * (double)d->used_den;
}

/* A limit as CONFIG SET takes it: "32mb", "1500kb" (rounded up), "0" for none. */
static void limit_text(char *buf, size_t cap, size_t bytes) {
    if (bytes == 0)
        snprintf(buf, cap, "0");
    else if (bytes % MIB == 0)
        snprintf(buf, cap, "%zumb", bytes / MIB);
    else
        snprintf(buf, cap, "%zukb", (bytes + 1023) / 1024);
}

static int subscriber_is_behind(const doctor *d, const mem_subscriber_top *t) {
    if (t->bytes == 0) return 0;
    if (t->soft_limit == 0 && t->hard_limit == 0) return t->bytes >= d->lim->min_waste_bytes;
    if (t->bytes < d->lim->subscriber_min_bytes) return 0;
    if (t->soft_limit && t->bytes >= t->soft_limit) return 1;
    return t->hard_limit &&
           (double)t->bytes >= d->lim->subscriber_limit_share * (double)t->hard_limit;
}

static void rule_subscriber(doctor *d) {
    const mem_snapshot *s = d->s;
    const mem_subscriber_top *t = &s->top_sub;
    if (!subscriber_is_behind(d, t)) return;
    char who[160], limits[224], others[96] = "";
    client_desc(who, sizeof(who), t->addr, t->name);
    mem_severity sev = MEM_WARNING;
    int none = t->soft_limit == 0 && t->hard_limit == 0;
    if (none) {
        snprintf(limits, sizeof(limits),
                 ". No pubsub output-buffer limit is set: it grows until "
                 "memory runs out.");
        sev = grade(d, t->bytes);
    } else {
        char hard[64] = "no hard limit", soft[96] = "no soft limit";
        if (t->hard_limit) {
            snprintf(hard, sizeof(hard), "%.0f%% of the hard limit %s",
                     pct(t->bytes, t->hard_limit), H(t->hard_limit).s);
            if ((double)t->bytes >= 0.9 * (double)t->hard_limit) sev = MEM_CRITICAL;
        }
        if (t->soft_limit && t->over_soft_ms) {
            snprintf(soft, sizeof(soft), "above the soft limit %s for %.0f s of %llu s",
                     H(t->soft_limit).s, (double)t->over_soft_ms / 1000.0,
                     (unsigned long long)t->soft_seconds);
            if ((double)t->over_soft_ms >= 500.0 * (double)t->soft_seconds) sev = MEM_CRITICAL;
        } else if (t->soft_limit) {
            snprintf(soft, sizeof(soft), "under the soft limit %s", H(t->soft_limit).s);
        }
        snprintf(limits, sizeof(limits),
                 ": %s, %s. It is closed at either limit and loses what is pending.", hard, soft);
    }
    if (t->subscribers > 1)
        snprintf(others, sizeof(others), " All %zu subscribers hold %s.", t->subscribers,
                 H(t->subscribers_bytes).s);
    /* Doubled limits, or Redis's default when there is none. */
    char raise_hard[32], raise_soft[32];
    limit_text(raise_hard, sizeof(raise_hard), none ? 32 * MIB : 2 * t->hard_limit);
    limit_text(raise_soft, sizeof(raise_soft), none ? 8 * MIB : 2 * t->soft_limit);
    add(d, sev, "subscriber-output-buffer", t->bytes,
        "Pub/sub subscriber behind: client id %llu (%s), on %zu channel%s, %zu pattern%s, %zu "
        "shard channel%s, has %s of messages unread%s%s The consumer is slower than the "
        "publishers. Next: CLIENT KILL ID %llu frees it now; scale out the consumers (each on "
        "part of the channels), publish smaller messages, %s: CONFIG SET "
        "client-output-buffer-limit \"pubsub %s %s %llu\".",
        (unsigned long long)t->id, who, t->channels, t->channels == 1 ? "" : "s", t->patterns,
        t->patterns == 1 ? "" : "s", t->shard_channels, t->shard_channels == 1 ? "" : "s",
        H(t->bytes).s, limits, others, (unsigned long long)t->id,
        none ? "and set a limit" : "or raise the limit knowingly (each subscriber may hold it)",
        raise_hard, raise_soft, (unsigned long long)(none ? 60 : t->soft_seconds));
    d->named_sub = 1;
    /* The same client as the largest output buffer: this finding names it, with the reason. */
    if (s->top_obuf.id == t->id) d->named_obuf = 1;
}

static void rule_clients(doctor *d) {
    const mem_snapshot *s = d->s;
    char who[160];
    int obuf_is_sub = d->named_sub && s->top_obuf.id == s->top_sub.id;
    if (!obuf_is_sub && client_is_big(d, s->top_obuf.bytes)) {
        size_t b = s->top_obuf.bytes, cap = suggest_cap_mb(b);
        client_desc(who, sizeof(who), s->top_obuf.addr, s->top_obuf.name);
        add(d, grade(d, b), "client-output-buffer", b,
            "Client output buffer: client id %llu (%s) holds %s of replies it has not read, "
            "%.0f%% of used memory (%s). One slow or stuck reader, or one huge reply (KEYS, a big "
            "LRANGE), costs this much. Next: CLIENT KILL ID %llu frees it now; to cap every "
            "client: CONFIG SET client-output-buffer-limit \"normal %zumb %zumb 60\".",
            (unsigned long long)s->top_obuf.id, who, H(b).s, pct(b, d->used_den),
            H(s->used_memory).s, (unsigned long long)s->top_obuf.id, cap, cap / 4);
        d->named_obuf = 1;
    }
    if (client_is_big(d, s->top_qbuf.bytes)) {
        size_t b = s->top_qbuf.bytes;
        client_desc(who, sizeof(who), s->top_qbuf.addr, s->top_qbuf.name);
        add(d, grade(d, b), "client-query-buffer", b,
            "Client query buffer: client id %llu (%s) has %s of commands read but not yet "
            "executed, %.0f%% of used memory (%s): a huge pipeline or a huge value still arriving. "
            "Next: CLIENT KILL ID %llu frees it now; to cap it: CONFIG SET "
            "client-query-buffer-limit %zumb.",
            (unsigned long long)s->top_qbuf.id, who, H(b).s, pct(b, d->used_den),
            H(s->used_memory).s, (unsigned long long)s->top_qbuf.id, suggest_cap_mb(b));
        d->named_qbuf = 1;
    }
}

/* Subsystems that are not the data set, and what to do when one of them dominates. */
static const struct {
    const char *name;
    const char *advice;
} nondata[] = {
    {"output_buffers", "Replies pile up for clients that read slowly. Next: CLIENT LIST (column "
                       "omem) finds them; CLIENT KILL ID <id> frees one; CONFIG SET "
                       "client-output-buffer-limit \"normal 64mb 16mb 60\" caps them all."},
    {"query_buffers", "Clients send more than memkv has executed yet (huge pipelines or values). "
                      "Next: CLIENT LIST (column qbuf) finds them; CLIENT KILL ID <id> frees one; "
                      "CONFIG SET client-query-buffer-limit 64mb caps them."},
    {"clients", "Per-connection state of many clients. Next: CLIENT LIST shows who is connected; "
                "CONFIG SET timeout 300 closes idle ones and CONFIG SET maxclients caps them."},
    {"profiler", "The heap profiler's own memory. Next: CONFIG SET memory-profiling-max-memory "
                 "64mb caps it; CONFIG SET memory-profiling-enabled no stops sampling."},
    {"http", "Buffers of the HTTP endpoint (large /metrics or pprof responses in flight). Next: "
             "check how many scrapers call it and how often; MEMORY STATS shows the trend."},
    {"keyspace_stats", "memkv's own key-space statistics (per-prefix totals, largest keys). "
                       "Next: CONFIG SET keyspace-prefix-max 1000 tracks fewer prefixes; CONFIG "
                       "SET keyspace-stats no turns them off."},
    {"slowlog", "The SLOWLOG's entries and the LATENCY samples. Next: SLOWLOG RESET frees the "
                "entries; CONFIG SET slowlog-max-len 128 keeps fewer."},
    {"tracking", "Client-side caching's tracking table: which keys each tracking client may "
                 "cache. Next: INFO stats (tracking_total_keys, tracking_total_items) shows "
                 "its size; CONFIG SET tracking-table-max-keys 100000 caps it (random keys "
                 "are invalidated past the cap)."},
    {"scripting", "The Lua heap and the script cache. Next: INFO memory (number_of_cached_scripts, "
                  "used_memory_lua, used_memory_scripts_eval) and INFO stats (evicted_scripts) "
                  "show which; SCRIPT FLUSH frees both; CONFIG SET lua-script-cache-max 500 caps "
                  "the scripts EVAL brings in."},
    {"snapshot", "A running BGSAVE: keys serialized (those about to change go first) and not yet "
                 "written by its writer thread; it never exceeds bgsave-max-memory and is freed "
                 "when the save ends. Next: INFO persistence (current_cow_size, "
                 "rdb_bgsave_in_progress); CONFIG SET bgsave-max-memory 16mb lowers the cap."},
    {"other", "Memory that no named subsystem owns. Next: turn on the heap profiler: CONFIG SET "
              "memory-profiling-enabled yes, let traffic run, and read its top allocation "
              "sites; MEMORY STATS tracks the growth."},
};

static const char *nondata_advice(const char *name) {
    for (size_t i = 0; i < sizeof(nondata) / sizeof(nondata[0]); i++)
        if (strcmp(name, nondata[i].name) == 0) return nondata[i].advice;
    return NULL;
}

static void rule_subsystems(doctor *d) {
    const mem_snapshot *s = d->s;
    size_t nsub = s->nsub < MEM_SUBSYSTEMS_MAX ? s->nsub : MEM_SUBSYSTEMS_MAX;
    size_t data = 0;
    for (size_t i = 0; i < nsub; i++)
        if (s->sub[i].name && !nondata_advice(s->sub[i].name)) data += s->sub[i].bytes;
    for (size_t i = 0; i < nsub; i++) {
        const char *name = s->sub[i].name;
        size_t b = s->sub[i].bytes;
        const char *advice = name ? nondata_advice(name) : NULL;
        if (!advice || b < d->lim->min_waste_bytes ||
            (double)b <= d->lim->subsystem_share * (double)d->used_den)
            continue;
        /* One client already named for most of it: that finding is the culprit, not this. */
        if (strcmp(name, "output_buffers") == 0 && d->named_obuf && s->top_obuf.bytes * 2 >= b)
            continue;
        if (strcmp(name, "query_buffers") == 0 && d->named_qbuf && s->top_qbuf.bytes * 2 >= b)
            continue;
        if (strcmp(name, "scripting") == 0 && d->named_scripts) continue;
        /* For the buffers, name the largest single one: the culprit an average would hide. */
        char largest[320] = "";
        const char *obuf = strcmp(name, "output_buffers") == 0 ? "output" : NULL;
        const char *qbuf = strcmp(name, "query_buffers") == 0 ? "query" : NULL;
        if ((obuf && s->top_obuf.bytes) || (qbuf && s->top_qbuf.bytes)) {
            char who[160];
            const char *addr = obuf ? s->top_obuf.addr : s->top_qbuf.addr;
            const char *cname = obuf ? s->top_obuf.name : s->top_qbuf.name;
            client_desc(who, sizeof(who), addr, cname);
            snprintf(largest, sizeof(largest), " The largest %s buffer is %s (client id %llu, %s).",
                     obuf ? obuf : qbuf, H(obuf ? s->top_obuf.bytes : s->top_qbuf.bytes).s,
                     (unsigned long long)(obuf ? s->top_obuf.id : s->top_qbuf.id), who);
        }
        char code[32];
        snprintf(code, sizeof(code), "subsystem-%.21s", name);
        add(d, grade(d, b), code, b,
            "Subsystem %.32s holds %s, %.0f%% of used memory (%s), against %s for the data set "
            "(keys and values) itself.%s %s",
            name, H(b).s, pct(b, d->used_den), H(s->used_memory).s, H(data).s, largest, advice);
    }
}

static int is_small(const mem_snapshot *s, const mem_doctor_limits *lim);

/* An application that builds a new script text per call: every call compiles, and the cache
 * turns over (or, with a high cap, grows). */
static void rule_scripts(doctor *d) {
    const mem_scripts *sc = &d->s->scripts;
    const mem_doctor_limits *lim = d->lim;
    size_t bytes = sc->cache_bytes + sc->heap_bytes;
    int churn = sc->evicted >= lim->script_evicted_min &&
                (double)sc->evicted >= lim->script_churn_share * (double)sc->compiled;
    int big = !is_small(d->s, lim) && sc->cached >= lim->script_count_min &&
              bytes >= lim->min_waste_bytes &&
              (double)bytes > lim->script_share * (double)d->used_den;
    if (!churn && !big) return;
    char what[384];
    if (churn)
        snprintf(what, sizeof(what),
                 "%zu distinct scripts were compiled and %zu of them (%.0f%%) were evicted past "
                 "lua-script-cache-max (%zu); the cache holds %zu scripts (%zu from EVAL) in %s, "
                 "with a Lua heap of %s",
                 sc->compiled, sc->evicted, pct(sc->evicted, sc->compiled), sc->cache_max,
                 sc->cached, sc->eval_cached, H(sc->cache_bytes).s, H(sc->heap_bytes).s);
    else
        snprintf(
            what, sizeof(what),
            "%zu scripts are cached (%zu from EVAL, lua-script-cache-max %zu) and hold %s with "
            "the Lua heap (%s of it), %.0f%% of used memory (%s)",
            sc->cached, sc->eval_cached, sc->cache_max, H(bytes).s, H(sc->heap_bytes).s,
            pct(bytes, d->used_den), H(d->s->used_memory).s);
    add(d, big ? grade(d, bytes) : MEM_WARNING, "script-cache", bytes,
        "%s: %s. An application is generating scripts: a script text with its "
        "values written in (\"return redis.call('incr', 'user:42')\") is a new script for each "
        "value, compiled on every call and cached until evicted. Next: pass the values as KEYS "
        "and ARGV (EVAL \"return redis.call('incr', KEYS[1])\" 1 user:42) so one script serves "
        "every call; load it once with SCRIPT LOAD and call it with EVALSHA. SCRIPT FLUSH frees "
        "the cache now.",
        churn ? "Script cache churn" : "Script cache", what);
    d->named_scripts = 1;
}

static void rule_peak(doctor *d) {
    const mem_snapshot *s = d->s;
    const mem_allocator_stats *a = &s->alloc;
    size_t peak = s->used_memory_peak, used = s->used_memory;
    if (peak <= used || (double)peak < d->lim->peak_ratio * (double)used) return;
    size_t drop = peak - used;
    size_t still = sub_sat(d->rss_net, used); /* RSS above what is in use */
    if (drop < d->lim->min_waste_bytes || still < d->lim->min_waste_bytes || still * 2 < drop)
        return;
    if (d->rss_explained) {
        add(d, MEM_INFO, "peak", still,
            "Peak: used memory peaked at %s and is now %s, and the RSS (%s) still reflects the "
            "peak; the findings above say where that memory sits.",
            H(peak).s, H(used).s, H(s->rss).s);
        return;
    }
    char where[384];
    if (a->available) {
        /* Where the RSS above used memory sits, so the next step fits the largest part. */
        size_t gap = sub_sat(a->resident, a->active);
        size_t meta = a->metadata < gap ? a->metadata : gap;
        size_t parts[4] = {gap - meta, sub_sat(a->active, a->allocated), meta,
                           sub_sat(sub_sat(s->rss, a->resident), s->rss_baseline)};
        static const char *const next[4] = {
            "MEMORY PURGE returns the free pages now",
            ("MEMORY MALLOC-STATS shows which size classes hold the holes; new data of those "
             "sizes reuses them"),
            "MEMORY MALLOC-STATS shows what the metadata is (large with profiling on)",
            "pmap -x $(pidof memkv-server) | sort -nk3 shows the largest mappings",
        };
        size_t big = 0;
        for (size_t i = 1; i < 4; i++)
            if (parts[i] > parts[big]) big = i;
        snprintf(where, sizeof(where),
                 "Of that, %s are freed pages not yet returned, %s holes in partly used slabs, "
                 "%s allocator metadata and %s outside the allocator. Next: %s.",
                 H(parts[0]).s, H(parts[1]).s, H(parts[2]).s, H(parts[3]).s, next[big]);
    } else {
        snprintf(where, sizeof(where),
                 "Without jemalloc statistics memkv cannot split it into freed pages and holes. "
                 "Next: watch INFO memory; the jemalloc build of memkv can purge and explain it.");
    }
    add(d, grade(d, still), "peak", still,
        "Peak: used memory peaked at %s and is now %s (%.1fx lower), but the RSS is still %s: "
        "%s above what is in use has not gone back to the OS. %s",
        H(peak).s, H(used).s, used ? (double)peak / (double)used : 0.0, H(s->rss).s, H(still).s,
        where);
}

static void rule_maxmemory(doctor *d) {
    const mem_snapshot *s = d->s;
    if (s->maxmemory == 0 ||
        (double)s->used_memory <= d->lim->maxmemory_share * (double)s->maxmemory)
        return;
    const char *policy = s->maxmemory_policy;
    int evicts = policy && strcmp(policy, "noeviction") != 0;
    size_t over = sub_sat(s->used_memory, (size_t)(d->lim->maxmemory_share * (double)s->maxmemory));
    if (evicts) {
        add(d, MEM_INFO, "maxmemory", over,
            "maxmemory: used memory %s is %.0f%% of maxmemory %s; with maxmemory-policy %.32s "
            "memkv evicts keys to stay under it, as a cache should. If these keys must not be "
            "lost, raise the limit: CONFIG SET maxmemory <bytes>.",
            H(s->used_memory).s, pct(s->used_memory, s->maxmemory), H(s->maxmemory).s, policy);
        return;
    }
    /* Memory that is not data still counts against the limit. */
    size_t nondata_bytes = 0;
    size_t nsub = s->nsub < MEM_SUBSYSTEMS_MAX ? s->nsub : MEM_SUBSYSTEMS_MAX;
    for (size_t i = 0; i < nsub; i++)
        if (s->sub[i].name && nondata_advice(s->sub[i].name)) nondata_bytes += s->sub[i].bytes;
    char nd[128] = "";
    if (nondata_bytes >= d->lim->min_waste_bytes)
        snprintf(nd, sizeof(nd), " %s of it is not data (client buffers, profiler, other).",
                 H(nondata_bytes).s);
    add(d, s->used_memory >= s->maxmemory ? MEM_CRITICAL : MEM_WARNING, "maxmemory", over,
        "maxmemory: used memory %s is %.0f%% of maxmemory %s (policy %.32s). At the limit, writes "
        "fail with \"OOM command not allowed\" while reads still work.%s Next: CONFIG SET "
        "maxmemory <bytes> to raise it, delete or expire keys, or let memkv evict: CONFIG SET "
        "maxmemory-policy allkeys-lru.",
        H(s->used_memory).s, pct(s->used_memory, s->maxmemory), H(s->maxmemory).s,
        policy ? policy : "unknown", nd);
}

/* ---- the key space ---------------------------------------------------------------------- */

static void span_text(char *buf, size_t cap, double hours) {
    if (hours < 1.0 / 60.0)
        snprintf(buf, cap, "%.0f seconds", hours * 3600.0);
    else if (hours < 1.0)
        snprintf(buf, cap, "%.0f minutes", hours * 60.0 < 1.0 ? 1.0 : hours * 60.0);
    else if (hours < 48.0)
        snprintf(buf, cap, "%.1f hours", hours);
    else
        snprintf(buf, cap, "%.1f days", hours / 24.0);
}

static void rule_big_key(doctor *d) {
    const mem_keyspace *k = &d->s->keyspace;
    if (!k->known || k->big_key_bytes < d->lim->min_waste_bytes ||
        (double)k->big_key_bytes < d->lim->big_key_share * (double)k->data_bytes)
        return;
    const char *unit = strcmp(k->big_key_type, "string") == 0 ? "bytes" : "elements";
    add(d, grade(d, k->big_key_bytes), "big-key", k->big_key_bytes,
        "Big key: one key holds %.0f%% of the data set: \"%s\" (db %d, a %s of %zu %s) uses %s "
        "of the %s in %zu keys. A key that big is read, copied and deleted in one piece (a "
        "latency spike each time) and eviction can only drop it whole. Next: MEMORY TOP-KEYS "
        "lists the largest keys; split it by a sub-key (per user, per day), give it a TTL, or "
        "delete it without blocking: UNLINK.",
        pct(k->big_key_bytes, k->data_bytes), k->big_key, k->big_key_db, k->big_key_type,
        k->big_key_length, unit, H(k->big_key_bytes).s, H(k->data_bytes).s, k->keys);
}

static int policy_is_volatile(const char *policy) {
    return policy && strncmp(policy, "volatile-", 9) == 0;
}

/* Where a growth leads: the hours until maxmemory (or the machine's memory) at the rate used
 * memory climbs (the culprit's own rate when used memory's is unknown). */
static void time_left(const doctor *d, double rate, char *buf, size_t cap) {
    const mem_snapshot *s = d->s;
    const mem_keyspace *k = &s->keyspace;
    if (k->used_bytes_per_hour > 0 && k->used_steadiness >= d->lim->growth_steadiness)
        rate = k->used_bytes_per_hour;
    char span[32];
    if (s->maxmemory > 0) {
        if (s->used_memory >= s->maxmemory) {
            snprintf(buf, cap, " Used memory is already at maxmemory %s.", H(s->maxmemory).s);
            return;
        }
        span_text(span, sizeof(span), (double)(s->maxmemory - s->used_memory) / rate);
        snprintf(buf, cap, " At this rate used memory (%s) reaches maxmemory %s in about %s.",
                 H(s->used_memory).s, H(s->maxmemory).s, span);
    } else if (k->machine_memory > s->rss) {
        span_text(span, sizeof(span), (double)(k->machine_memory - s->rss) / rate);
        snprintf(buf, cap,
                 " No maxmemory is set: at this rate the process (RSS %s) fills the machine's %s "
                 "in about %s.",
                 H(s->rss).s, H(k->machine_memory).s, span);
    } else {
        buf[0] = '\0';
    }
}

static void rule_growth(doctor *d) {
    const mem_keyspace *k = &d->s->keyspace;
    if (!k->known) return;
    for (size_t i = 0; i < k->ngrowth && i < MEM_GROWTH_MAX; i++) {
        const mem_growth *g = &k->growth[i];
        double grown = g->bytes_per_hour * g->window_seconds / 3600.0;
        if (g->bytes_per_hour <= 0 || g->steadiness < d->lim->growth_steadiness ||
            grown < (double)d->lim->min_waste_bytes)
            continue;
        char left[200], span[32], ttl[300] = "";
        time_left(d, g->bytes_per_hour, left, sizeof(left));
        span_text(span, sizeof(span), g->window_seconds / 3600.0);
        double no_ttl = g->keys ? 100.0 * (double)g->keys_without_ttl / (double)g->keys : 0.0;
        if (g->keys_without_ttl * 2 > g->keys)
            snprintf(ttl, sizeof(ttl),
                     " %.0f%% of its keys have no TTL, so nothing will remove them%s: if they are "
                     "a cache, give them one (SET ... EX, EXPIRE).",
                     no_ttl,
                     policy_is_volatile(d->s->maxmemory_policy) ? ", not even eviction under "
                                                                  "a volatile-* policy"
                                                                : "");
        mem_severity sev = MEM_WARNING;
        if (d->s->maxmemory > 0 && d->s->used_memory < d->s->maxmemory) {
            double rate = k->used_bytes_per_hour > 0 ? k->used_bytes_per_hour : g->bytes_per_hour;
            if ((double)(d->s->maxmemory - d->s->used_memory) / rate < 6.0) sev = MEM_CRITICAL;
        }
        add(d, sev, g->is_type ? "type-growth" : "prefix-growth", (size_t)grown,
            "Growth: %s %s%s%s grows steadily by %s per hour (%s over the last %s, now %s in %zu "
            "keys).%s%s Next: MEMORY PREFIXES SORT growth and MEMORY TOP-KEYS show where; find "
            "the writer of these keys, or set a limit: CONFIG SET maxmemory <bytes> with "
            "maxmemory-policy allkeys-lru.",
            g->is_type ? "the" : "key prefix", g->is_type ? "" : "\"", g->name,
            g->is_type ? " keys" : "\"", H((size_t)g->bytes_per_hour).s, H((size_t)grown).s, span,
            H(g->bytes).s, g->keys, left, ttl);
    }
}

static void rule_volatile_policy(doctor *d) {
    const mem_snapshot *s = d->s;
    const mem_keyspace *k = &s->keyspace;
    if (!k->known || s->maxmemory == 0 || !policy_is_volatile(s->maxmemory_policy)) return;
    size_t fixed = sub_sat(k->data_bytes, k->volatile_bytes);
    if (fixed < d->lim->min_waste_bytes || 2 * s->used_memory < s->maxmemory ||
        (double)k->volatile_bytes >= d->lim->volatile_share * (double)k->data_bytes)
        return;
    add(d, s->used_memory >= s->maxmemory ? MEM_CRITICAL : MEM_WARNING, "eviction-policy", fixed,
        "Eviction: maxmemory-policy %.32s evicts only keys with a TTL, but only %.0f%% of the data "
        "(%zu of %zu keys, %s) has one; %s has none. Used memory is %.0f%% of maxmemory %s: when "
        "it gets there, memkv cannot free enough and writes fail with \"OOM command not "
        "allowed\". Next: CONFIG SET maxmemory-policy allkeys-lru (if every key may go), or give "
        "the keys that grow a TTL.",
        s->maxmemory_policy, pct(k->volatile_bytes, k->data_bytes), k->volatile_keys, k->keys,
        H(k->volatile_bytes).s, H(fixed).s, pct(s->used_memory, s->maxmemory), H(s->maxmemory).s);
}

/* ---- the doctor ------------------------------------------------------------------------- */

static int is_small(const mem_snapshot *s, const mem_doctor_limits *lim) {
    return s->used_memory < lim->min_waste_bytes &&
           sub_sat(s->rss, s->rss_baseline) < lim->min_waste_bytes;
}

static int worse(const mem_finding *a, const mem_finding *b) {
    if (a->severity != b->severity) return a->severity > b->severity;
    return a->bytes > b->bytes;
}

static void diagnose(doctor *d, const mem_snapshot *s, const mem_doctor_limits *lim) {
    memset(d, 0, sizeof(*d));
    d->s = s;
    d->lim = lim;
    d->rss_net = sub_sat(s->rss, s->rss_baseline);
    size_t subs = 0;
    for (size_t i = 0; i < s->nsub && i < MEM_SUBSYSTEMS_MAX; i++)
        subs += s->sub[i].bytes;
    d->used_den = s->used_memory ? s->used_memory : subs;
    d->total = s->rss > s->used_memory ? s->rss : s->used_memory;

    rule_subscriber(d); /* at any size: a configured limit bites; before the clients */
    rule_scripts(d);    /* churn at any size, size on a big instance; before the subsystems */
    if (!is_small(s, lim)) {
        rule_clients(d); /* before the subsystems: a named client replaces its subsystem */
        rule_subsystems(d);
        rule_fragmentation(d);
        rule_allocator_rss(d);
        rule_rss_overhead(d);
        rule_rss_over_used(d);
        rule_peak(d); /* after the allocator rules: it defers to them */
        rule_retained(d);
        rule_big_key(d);
    }
    rule_maxmemory(d);
    rule_growth(d);          /* their own floor: the growth itself >= min_waste_bytes */
    rule_volatile_policy(d); /* a limit bites at any size */

    /* Stable insertion sort, worst first. */
    for (size_t i = 1; i < d->n; i++) {
        mem_finding tmp = d->f[i];
        size_t j = i;
        while (j > 0 && worse(&tmp, &d->f[j - 1])) {
            d->f[j] = d->f[j - 1];
            j--;
        }
        d->f[j] = tmp;
    }
}

size_t mem_doctor(const mem_snapshot *s, const mem_doctor_limits *lim, mem_finding *out,
                  size_t cap) {
    if (!s || (cap && !out)) return 0;
    mem_doctor_limits def = mem_doctor_limits_default();
    doctor *d = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*d));
    diagnose(d, s, lim ? lim : &def);
    size_t n = d->n < cap ? d->n : cap;
    if (n) memcpy(out, d->f, n * sizeof(*out));
    alloc_free(ALLOC_SUB_OTHER, d);
    return n;
}

/* ---- the report ------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1024;
    while (b->len + more + 1 > cap)
        cap *= 2;
    b->p = alloc_realloc(ALLOC_SUB_OTHER, b->p, cap);
    b->cap = cap;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Word-wrap text to REPORT_WIDTH columns: the first line starts with lead, the others with
 * indent spaces. A single word longer than a line gets a line of its own. */
static void sb_wrap(sbuf *b, const char *lead, size_t indent, const char *text) {
    sb_printf(b, "%s", lead);
    size_t col = strlen(lead);
    int first_word = 1;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        size_t w = strcspn(p, " ");
        if (!first_word && col + 1 + w > REPORT_WIDTH) {
            sb_printf(b, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first_word) {
            sb_printf(b, " ");
            col++;
        }
        sb_printf(b, "%.*s", (int)w, p);
        col += w;
        first_word = 0;
        p += w;
    }
    sb_printf(b, "\n");
}

const char *mem_severity_name(mem_severity s) {
    switch (s) {
    case MEM_CRITICAL:
        return "critical";
    case MEM_WARNING:
        return "warning";
    default:
        return "info";
    }
}

static void key_figures(sbuf *b, const mem_snapshot *s) {
    const mem_allocator_stats *a = &s->alloc;
    mem_ratios r;
    mem_ratios_compute(a, s->rss, s->used_memory, &r);

    sb_printf(b, "Key figures:\n");
    char maxmem[64];
    if (s->maxmemory)
        snprintf(maxmem, sizeof(maxmem), "%s, %.0f%% used", H(s->maxmemory).s,
                 pct(s->used_memory, s->maxmemory));
    else
        snprintf(maxmem, sizeof(maxmem), "none");
    sb_printf(b, "  used memory   %s (peak %s, maxmemory %s)\n", H(s->used_memory).s,
              H(s->used_memory_peak).s, maxmem);
    sb_printf(b, "  process RSS   %s (%s of it was there at start-up)\n", H(s->rss).s,
              H(s->rss_baseline).s);
    if (a->available) {
        sb_printf(b, "  allocator     allocated %s, active %s, resident %s, metadata %s\n",
                  H(a->allocated).s, H(a->active).s, H(a->resident).s, H(a->metadata).s);
        sb_printf(b, "                mapped %s, retained %s (address space, not RSS)\n",
                  H(a->mapped).s, H(a->retained).s);
        sb_printf(b,
                  "  ratios        allocator_frag %.2f, allocator_rss %.2f, rss_overhead %.2f,\n",
                  r.allocator_frag_ratio, r.allocator_rss_ratio, r.rss_overhead_ratio);
        sb_printf(b, "                mem_fragmentation %.2f (as in INFO memory)\n",
                  r.mem_fragmentation_ratio);
        char line[192];
        snprintf(line, sizeof(line),
                 "%.31s, %u arenas, background_thread %s, dirty_decay_ms %zd, muzzy_decay_ms %zd",
                 a->version[0] ? a->version : "?", a->narenas,
                 a->background_thread == 1   ? "on"
                 : a->background_thread == 0 ? "off"
                                             : "unknown",
                 a->dirty_decay_ms, a->muzzy_decay_ms);
        sb_wrap(b, "  jemalloc      ", 16, line);
    } else {
        sb_printf(b, "  allocator     libc malloc: no allocator figures in this build\n");
        sb_printf(b, "  ratios        mem_fragmentation %.2f (as in INFO memory)\n",
                  r.mem_fragmentation_ratio);
    }

    /* The three largest subsystems, with their share of used memory. */
    size_t nsub = s->nsub < MEM_SUBSYSTEMS_MAX ? s->nsub : MEM_SUBSYSTEMS_MAX;
    size_t idx[3];
    size_t ntop = 0;
    for (size_t i = 0; i < nsub; i++) {
        if (!s->sub[i].name || s->sub[i].bytes == 0) continue;
        size_t k = ntop < 3 ? ntop++ : 3;
        while (k > 0 && s->sub[idx[k - 1]].bytes < s->sub[i].bytes) {
            if (k < 3) idx[k] = idx[k - 1];
            k--;
        }
        if (k < 3) idx[k] = i;
    }
    if (ntop) {
        size_t den = s->used_memory;
        if (!den)
            for (size_t i = 0; i < nsub; i++)
                den += s->sub[i].bytes;
        char line[192];
        size_t off = 0;
        for (size_t k = 0; k < ntop; k++) {
            int w = snprintf(line + off, sizeof(line) - off, "%s%.20s %s (%.0f%%)", k ? ", " : "",
                             s->sub[idx[k]].name, H(s->sub[idx[k]].bytes).s,
                             pct(s->sub[idx[k]].bytes, den));
            if (w < 0 || (size_t)w >= sizeof(line) - off) break;
            off += (size_t)w;
        }
        sb_wrap(b, "  largest parts ", 16, line);
    }
    sb_printf(b, "  clients, keys %zu clients, %zu keys\n", s->clients, s->keys);
    const mem_scripts *sc = &s->scripts;
    if (sc->cached || sc->evicted) {
        char line[192];
        snprintf(line, sizeof(line),
                 "%zu cached (%zu from EVAL, cap %zu), %zu evicted, %zu compiled; cache %s, Lua "
                 "heap %s",
                 sc->cached, sc->eval_cached, sc->cache_max, sc->evicted, sc->compiled,
                 H(sc->cache_bytes).s, H(sc->heap_bytes).s);
        sb_wrap(b, "  scripts       ", 16, line);
    }
}

char *mem_doctor_report(const mem_snapshot *s, const mem_doctor_limits *lim) {
    mem_doctor_limits def = mem_doctor_limits_default();
    if (!lim) lim = &def;
    sbuf b = {0};
    sb_reserve(&b, 2048);
    b.p[0] = '\0';
    if (!s) {
        sb_printf(&b, "No snapshot to examine.\n");
        return b.p;
    }
    doctor *d = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*d));
    diagnose(d, s, lim);

    size_t problems = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->f[i].severity >= MEM_WARNING) problems++;
    if (problems == 0)
        sb_printf(&b, "No memory problems found.\n");
    else
        sb_printf(&b, "%zu finding(s):\n", d->n);

    if (is_small(s, lim)) {
        char text[512];
        snprintf(text, sizeof(text),
                 "The instance is small: used memory %s and RSS %s above the %s start-up "
                 "baseline are both under %s, too little for fragmentation and overhead ratios "
                 "to mean anything, so they are not judged.%s",
                 H(s->used_memory).s, H(sub_sat(s->rss, s->rss_baseline)).s, H(s->rss_baseline).s,
                 H(lim->min_waste_bytes).s, problems ? "" : " All is well at this size.");
        sb_printf(&b, "\n");
        sb_wrap(&b, "", 0, text);
    } else if (d->n == 0) {
        sb_printf(&b, "\n");
        sb_wrap(&b, "", 0,
                "Fragmentation, freed pages, memory outside the allocator, client buffers and "
                "subsystems are all within their limits.");
    }

    if (problems == 0 && d->n > 0) sb_printf(&b, "\n%zu note(s):\n", d->n);
    for (size_t i = 0; i < d->n; i++) {
        char lead[48];
        snprintf(lead, sizeof(lead), "%zu. [%s] ", i + 1, mem_severity_name(d->f[i].severity));
        sb_printf(&b, "\n");
        sb_wrap(&b, lead, 4, d->f[i].text);
    }
    sb_printf(&b, "\n");
    key_figures(&b, s);
    alloc_free(ALLOC_SUB_OTHER, d);
    return b.p;
}
