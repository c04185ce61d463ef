/* The in-process memory history: every memory-history-interval-ms (default a minute) the cron
 * takes a point (used memory, RSS, keys, bytes per type) into a ring of memory-history-points
 * (default 1440: 24 hours), and the bytes of every tracked key prefix into a ring of the last
 * HISTORY_PREFIX_POINTS samples. Growth is the slope of a least-squares line through the last
 * HISTORY_PREFIX_POINTS points, steadiness its r^2. Computed once per point, so the doctor, the
 * metrics snapshot and MEMORY PREFIXES read cached figures. MEMORY HISTORY replies the points.
 * Main thread only. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "db/kstats.h"
#include "metrics/metrics.h"
#include "server/server.h"

#define SUB ALLOC_SUB_KEYSPACE_STATS
#define HISTORY_PREFIX_POINTS 60
#define HISTORY_MIN_POINTS 10 /* a line through fewer points says little */

typedef struct hpoint {
    int64_t t_ms;
    double used, rss, keys;
    double type_bytes[DB_TYPES];
} hpoint;

typedef struct hprefix {
    char *name; /* NULL: free slot */
    uint32_t len;
    uint64_t hv;
    uint64_t first; /* the sample number of its first value */
    int moved;      /* its ring went to the next table (the old table's probe chain stays) */
    uint64_t keys, vkeys, bytes;
    double v[HISTORY_PREFIX_POINTS]; /* indexed by sample number modulo the size */
    double per_hour, r2;             /* at the last sample; 0 with too few points */
} hprefix;

static struct {
    hpoint *ring;
    size_t cap, n, head; /* head: where the next point goes */
    uint64_t samples;    /* points ever taken */
    int64_t next_ms;
    int64_t ts[HISTORY_PREFIX_POINTS]; /* time of each recent sample, by sample number */
    hprefix *pfx;
    size_t pfx_cap, pfx_used;
    /* cached at each point */
    mem_growth growth[MEM_GROWTH_MAX];
    size_t ngrowth;
    double used_per_hour, used_r2, window_s;
} H;

static void prefixes_free(hprefix *p, size_t cap) {
    for (size_t i = 0; i < cap; i++)
        if (!p[i].moved) alloc_free(SUB, p[i].name);
    alloc_free(SUB, p);
}

int history_reset(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    alloc_free(SUB, H.ring);
    prefixes_free(H.pfx, H.pfx_cap);
    memset(&H, 0, sizeof(H));
    H.cap = (size_t)srv.memory_history_points;
    H.ring = alloc_calloc(SUB, H.cap * sizeof(hpoint));
    metrics_history_reset(H.cap, srv.memory_history_interval_ms);
    return 0;
}

void history_shutdown(void) {
    metrics_history_reset(0, 0);
    alloc_free(SUB, H.ring);
    prefixes_free(H.pfx, H.pfx_cap);
    memset(&H, 0, sizeof(H));
}

/* ---- lines through points ---- */

typedef struct fit {
    double per_hour, r2;
} fit;

/* Least squares of y over t (ms) for n points; per hour. */
static fit line_fit(const int64_t *t, const double *y, size_t n) {
    fit f = {0, 0};
    if (n < 2) return f;
    double mt = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mt += (double)(t[i] - t[0]);
        my += y[i];
    }
    mt /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = (double)(t[i] - t[0]) - mt, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx <= 0) return f;
    f.per_hour = sxy / sxx * 3600.0 * 1000.0;
    f.r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 0.0;
    return f;
}

/* The last n (<= HISTORY_PREFIX_POINTS) samples' times, oldest first. */
static size_t recent_times(int64_t *t, uint64_t from) {
    size_t n = 0;
    for (uint64_t s = from; s < H.samples; s++)
        t[n++] = H.ts[s % HISTORY_PREFIX_POINTS];
    return n;
}

static uint64_t window_start(uint64_t first) {
    uint64_t w = H.samples > HISTORY_PREFIX_POINTS ? H.samples - HISTORY_PREFIX_POINTS : 0;
    return first > w ? first : w;
}

/* ---- prefixes ---- */

static size_t pfx_slot(hprefix *tab, size_t cap, const char *name, size_t len, uint64_t hv) {
    size_t i = (size_t)hv & (cap - 1);
    while (tab[i].name &&
           !(tab[i].hv == hv && tab[i].len == len && memcmp(tab[i].name, name, len) == 0))
        i = (i + 1) & (cap - 1);
    return i;
}

/* A new table of the prefixes tracked now, each carrying its ring over from the old table. */
static void sample_prefixes(kstats *ks) {
    size_t n = 0;
    ks_totals none, other;
    ks_prefix *p = kstats_prefixes_enabled(ks)
                       ? kstats_prefixes(ks, kstats_prefix_depth(ks), &n, &none, &other)
                       : NULL;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    hprefix *tab = alloc_calloc(SUB, cap * sizeof(hprefix));
    uint64_t s = H.samples; /* this sample's number */
    for (size_t i = 0; i < n; i++) {
        uint64_t hv = db_hash_bytes(p[i].name, p[i].len);
        hprefix *h = &tab[pfx_slot(tab, cap, p[i].name, p[i].len, hv)];
        hprefix *old =
            H.pfx_cap ? &H.pfx[pfx_slot(H.pfx, H.pfx_cap, p[i].name, p[i].len, hv)] : NULL;
        if (old && old->name) {
            *h = *old;
            old->moved = 1;
        } else {
            memset(h, 0, sizeof(*h));
            h->name = alloc_malloc(SUB, p[i].len ? p[i].len : 1);
            memcpy(h->name, p[i].name, p[i].len);
            h->len = (uint32_t)p[i].len;
            h->hv = hv;
            h->first = s;
        }
        h->keys = p[i].keys;
        h->vkeys = p[i].volatile_keys;
        h->bytes = p[i].bytes;
        h->v[s % HISTORY_PREFIX_POINTS] = (double)p[i].bytes;
    }
    kstats_prefixes_free(p, n);
    prefixes_free(H.pfx, H.pfx_cap); /* what is left there went away */
    H.pfx = tab;
    H.pfx_cap = cap;
    H.pfx_used = n;
}

static void fit_prefixes(void) {
    int64_t t[HISTORY_PREFIX_POINTS];
    double y[HISTORY_PREFIX_POINTS];
    for (size_t i = 0; i < H.pfx_cap; i++) {
        hprefix *h = &H.pfx[i];
        if (!h->name) continue;
        uint64_t from = window_start(h->first);
        size_t n = recent_times(t, from);
        for (size_t j = 0; j < n; j++)
            y[j] = h->v[(from + j) % HISTORY_PREFIX_POINTS];
        fit f = n >= HISTORY_MIN_POINTS ? line_fit(t, y, n) : (fit){0, 0};
        h->per_hour = f.per_hour;
        h->r2 = f.r2;
    }
}

/* ---- the point ---- */

/* A line through one series of the last n points (<= H.n), oldest first: the series is the
 * double at `field` (offsetof in hpoint). */
static fit fit_recent(size_t n, size_t field) {
    int64_t t[HISTORY_PREFIX_POINTS];
    double y[HISTORY_PREFIX_POINTS];
    for (size_t j = 0; j < n; j++) {
        const hpoint *p = &H.ring[(H.head + H.cap - n + j) % H.cap];
        t[j] = p->t_ms;
        memcpy(&y[j], (const char *)p + field, sizeof(double));
    }
    return line_fit(t, y, n);
}

static int growth_cmp(const void *a, const void *b) {
    const mem_growth *x = a, *y = b;
    return (x->bytes_per_hour < y->bytes_per_hour) - (x->bytes_per_hour > y->bytes_per_hour);
}

/* Keeps the MEM_GROWTH_MAX fastest in cand (room for one more), fastest first. */
static void push_growth(mem_growth *cand, size_t *nc, const mem_growth *g) {
    cand[*nc] = *g;
    qsort(cand, *nc + 1, sizeof(cand[0]), growth_cmp);
    if (*nc < MEM_GROWTH_MAX) (*nc)++;
}

/* The fastest steady growers: prefixes; the types only when no prefix grows steadily. */
static void pick_growth(kstats *ks, double steady) {
    mem_growth cand[MEM_GROWTH_MAX + 1];
    size_t nc = 0;
    for (size_t i = 0; i < H.pfx_cap; i++) {
        const hprefix *h = &H.pfx[i];
        if (!h->name || h->per_hour <= 0 || h->r2 < steady) continue;
        mem_growth g;
        memset(&g, 0, sizeof(g));
        snprintf(g.name, sizeof(g.name), "%.*s", (int)(h->len < 79 ? h->len : 79), h->name);
        g.bytes_per_hour = h->per_hour;
        g.steadiness = h->r2;
        g.bytes = h->bytes;
        g.keys = h->keys;
        g.keys_without_ttl = h->keys - h->vkeys;
        push_growth(cand, &nc, &g);
    }
    if (nc == 0 && H.n >= HISTORY_MIN_POINTS) {
        size_t n = H.n < HISTORY_PREFIX_POINTS ? H.n : HISTORY_PREFIX_POINTS;
        for (int ty = 0; ty < DB_TYPES; ty++) {
            fit f = fit_recent(n, offsetof(hpoint, type_bytes) + (size_t)ty * sizeof(double));
            if (f.per_hour <= 0 || f.r2 < steady) continue;
            mem_growth g;
            memset(&g, 0, sizeof(g));
            snprintf(g.name, sizeof(g.name), "%s", db_type_name(ty));
            g.is_type = 1;
            g.bytes_per_hour = f.per_hour;
            g.steadiness = f.r2;
            ks_totals tot = kstats_type_totals(ks, -1, ty);
            g.bytes = tot.bytes;
            g.keys = tot.keys;
            g.keys_without_ttl = tot.keys; /* per type, TTLs are not split out */
            push_growth(cand, &nc, &g);
        }
    }
    H.ngrowth = nc;
    memcpy(H.growth, cand, nc * sizeof(cand[0]));
}

static void take_point(int64_t now_ms) {
    kstats *ks = keyspace_stats();
    hpoint *p = &H.ring[H.head];
    memset(p, 0, sizeof(*p));
    p->t_ms = now_ms;
    p->used = (double)memory_used();
    p->rss = (double)mem_process_rss();
    for (long long i = 0; i < srv.databases; i++)
        p->keys += (double)db_size(srv.dbs[i]);
    if (ks)
        for (int t = 0; t < DB_TYPES; t++)
            p->type_bytes[t] = (double)kstats_type_totals(ks, -1, t).bytes;
    H.head = (H.head + 1) % H.cap;
    if (H.n < H.cap) H.n++;
    /* the console's copy, with the subsystems */
    metrics_history_point mp;
    memset(&mp, 0, sizeof(mp));
    mp.t_ms = now_ms;
    mp.used = (uint64_t)p->used;
    mp.rss = (uint64_t)p->rss;
    mp.keys = (uint64_t)p->keys;
    for (int s = 0; s < ALLOC_SUB_COUNT && s < METRICS_MAX_SUBSYSTEMS; s++) {
        int64_t b = alloc_sub_bytes((alloc_sub)s);
        mp.sub[s] = b > 0 ? (uint64_t)b : 0;
    }
    metrics_history_append(&mp);
    H.ts[H.samples % HISTORY_PREFIX_POINTS] = now_ms;
    if (ks) sample_prefixes(ks);
    H.samples++;
    fit_prefixes();

    size_t n = H.n < HISTORY_PREFIX_POINTS ? H.n : HISTORY_PREFIX_POINTS;
    fit f = n >= HISTORY_MIN_POINTS ? fit_recent(n, offsetof(hpoint, used)) : (fit){0, 0};
    H.used_per_hour = f.per_hour;
    H.used_r2 = f.r2;
    /* the newest point was just written at head - 1; the oldest of the window n - 1 before */
    H.window_s = n >= 2 ? (double)(now_ms - H.ring[(H.head + H.cap - n) % H.cap].t_ms) / 1000.0 : 0;
    H.ngrowth = 0;
    if (ks) pick_growth(ks, mem_doctor_limits_default().growth_steadiness);
    for (size_t i = 0; i < H.ngrowth; i++)
        H.growth[i].window_seconds = H.window_s;
}

void history_cron(int64_t now_ms) {
    if (!H.ring) return;
    if (now_ms < H.next_ms) return;
    H.next_ms = now_ms + srv.memory_history_interval_ms;
    take_point(now_ms);
}

void history_growth(mem_keyspace *k) {
    k->ngrowth = H.ngrowth;
    memcpy(k->growth, H.growth, H.ngrowth * sizeof(H.growth[0]));
    k->used_bytes_per_hour = H.used_per_hour;
    k->used_steadiness = H.used_r2;
    k->window_seconds = H.window_s;
}

int history_prefix_rate(const char *name, size_t len, double *per_hour) {
    if (!H.pfx_cap) return 0;
    const hprefix *h = &H.pfx[pfx_slot(H.pfx, H.pfx_cap, name, len, db_hash_bytes(name, len))];
    if (!h->name || H.samples - window_start(h->first) < HISTORY_MIN_POINTS) return 0;
    *per_hour = h->per_hour;
    return 1;
}

/* MEMORY HISTORY [COUNT n]: the latest points, oldest first. */
void history_reply(client *c, long long count) {
    size_t n = H.n < (size_t)count ? H.n : (size_t)count;
    static const char *const type_fields[DB_TYPES] = {"strings-bytes", "hashes-bytes",
                                                      "lists-bytes", "sets-bytes", "zsets-bytes"};
    reply_add_array_len(&c->reply, (long long)n);
    for (size_t j = 0; j < n; j++) {
        const hpoint *p = &H.ring[(H.head + H.cap - n + j) % H.cap];
        reply_add_map_len(&c->reply, 4 + DB_TYPES);
        reply_add_bulk_cstr(&c->reply, "time-ms");
        reply_add_int(&c->reply, p->t_ms);
        reply_add_bulk_cstr(&c->reply, "used-memory");
        reply_add_int(&c->reply, (long long)p->used);
        reply_add_bulk_cstr(&c->reply, "rss");
        reply_add_int(&c->reply, (long long)p->rss);
        reply_add_bulk_cstr(&c->reply, "keys");
        reply_add_int(&c->reply, (long long)p->keys);
        for (int t = 0; t < DB_TYPES; t++) {
            reply_add_bulk_cstr(&c->reply, type_fields[t]);
            reply_add_int(&c->reply, (long long)p->type_bytes[t]);
        }
    }
}
