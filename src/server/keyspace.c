/* Key-space insight in the server: the statistics' life (config, rebuild), MEMORY PREFIXES,
 * MEMORY TOP-KEYS, INFO keysizes and DEBUG KEYSPACE-STATS-CHECK. The figures themselves are
 * kept by src/db/kstats, fed by the db on every change (db_attach_stats). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "db/kstats.h"
#include "metrics/metrics.h"
#include "server/server.h"

static kstats *stats;

static kstats_config current_config(void) {
    kstats_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.separators, sizeof(cfg.separators), "%s", srv.keyspace_prefix_separators);
    cfg.depth = (int)srv.keyspace_prefix_depth;
    cfg.prefix_max = (size_t)srv.keyspace_prefix_max;
    cfg.top_keys = (size_t)srv.keyspace_top_keys;
    return cfg;
}

/* Builds the statistics afresh from every key (one pass over the key space, on the event
 * loop: only at start-up and when an operator changes how they are kept). The settings are
 * checked even while the statistics are off, so that none is accepted that would later keep
 * them from being switched on. */
int keyspace_stats_apply(const cfg_param *p, char *err) {
    (void)p;
    kstats_config cfg = current_config();
    char why[160];
    if (strlen(srv.keyspace_prefix_separators) > KS_SEPARATORS_MAX) {
        snprintf(err, CFG_ERR_LEN, "keyspace-prefix-separators: at most %d characters",
                 KS_SEPARATORS_MAX);
        return -1;
    }
    if (kstats_config_check(&cfg, why, sizeof(why)) < 0) {
        snprintf(err, CFG_ERR_LEN, "keyspace statistics: %s", why);
        return -1;
    }
    db_settle();
    kstats *fresh = NULL;
    if (srv.keyspace_stats) {
        fresh = kstats_new((int)srv.databases, &cfg, why, sizeof(why));
        if (!fresh) {
            snprintf(err, CFG_ERR_LEN, "keyspace statistics: %s", why);
            return -1;
        }
    }
    db_attach_stats(NULL);
    kstats_free(stats);
    stats = fresh;
    if (!stats) return 0;
    db_attach_stats(stats);
    for (long long i = 0; i < srv.databases; i++)
        db_stats_recount(srv.dbs[i]);
    return 0;
}

void keyspace_stats_shutdown(void) {
    db_attach_stats(NULL);
    kstats_free(stats);
    stats = NULL;
}

kstats *keyspace_stats(void) {
    db_settle();
    return stats;
}

static int require_stats(client *c) {
    if (keyspace_stats()) return 0;
    reply_error(c, "ERR keyspace statistics are off (CONFIG SET keyspace-stats yes)");
    return -1;
}

/* ---- MEMORY PREFIXES [COUNT n] [DEPTH d] [SORT bytes|keys] ---- */

/* A row of MEMORY PREFIXES: the prefix's figures and its growth from the history. */
typedef struct prefix_row {
    ks_prefix p;
    int has_rate;
    double per_hour;
} prefix_row;

enum { SORT_BYTES, SORT_KEYS, SORT_GROWTH };
static int sort_mode;

static int prefix_cmp(const void *a, const void *b) {
    const prefix_row *ra = a, *rb = b;
    if (sort_mode == SORT_GROWTH) {
        double ga = ra->has_rate ? ra->per_hour : -1e300, gb = rb->has_rate ? rb->per_hour : -1e300;
        if (ga != gb) return ga > gb ? -1 : 1;
    }
    int sort_by_keys = sort_mode == SORT_KEYS;
    const ks_prefix *x = &ra->p, *y = &rb->p;
    uint64_t xa = sort_by_keys ? x->keys : x->bytes, ya = sort_by_keys ? y->keys : y->bytes;
    if (xa != ya) return xa > ya ? -1 : 1;
    uint64_t xb = sort_by_keys ? x->bytes : x->keys, yb = sort_by_keys ? y->bytes : y->keys;
    if (xb != yb) return xb > yb ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void reply_prefix(client *c, const char *name, size_t len, uint64_t keys, uint64_t bytes,
                         long long volatile_keys, const prefix_row *row) {
    int rate = row && row->has_rate;
    reply_add_map_len(&c->reply, (volatile_keys >= 0 ? 4 : 3) + rate);
    reply_add_bulk_cstr(&c->reply, "prefix");
    reply_add_bulk(&c->reply, name, len);
    reply_add_bulk_cstr(&c->reply, "keys");
    reply_add_int(&c->reply, (long long)keys);
    reply_add_bulk_cstr(&c->reply, "bytes");
    reply_add_int(&c->reply, (long long)bytes);
    if (volatile_keys >= 0) {
        reply_add_bulk_cstr(&c->reply, "keys-with-ttl");
        reply_add_int(&c->reply, volatile_keys);
    }
    if (rate) {
        reply_add_bulk_cstr(&c->reply, "bytes-per-hour");
        reply_add_int(&c->reply, (long long)row->per_hour);
    }
}

static void memory_prefixes(client *c) {
    if (require_stats(c) < 0) return;
    long long count = 10, depth = kstats_prefix_depth(stats);
    sort_mode = SORT_BYTES;
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (arg_eq(c, i, "count")) {
            if (arg_ll(c, i + 1, &count) < 0) return;
            if (count < 1) {
                reply_error(c, "ERR COUNT must be positive");
                return;
            }
        } else if (arg_eq(c, i, "depth")) {
            if (arg_ll(c, i + 1, &depth) < 0) return;
            if (depth < 0 || depth > kstats_prefix_depth(stats)) {
                reply_errorf(c, "ERR DEPTH must be between 0 and keyspace-prefix-depth (%d)",
                             kstats_prefix_depth(stats));
                return;
            }
        } else if (arg_eq(c, i, "sort")) {
            if (arg_eq(c, i + 1, "keys")) {
                sort_mode = SORT_KEYS;
            } else if (arg_eq(c, i + 1, "bytes")) {
                sort_mode = SORT_BYTES;
            } else if (arg_eq(c, i + 1, "growth")) {
                sort_mode = SORT_GROWTH;
            } else {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (!kstats_prefixes_enabled(stats)) {
        reply_error(c, "ERR prefix tracking is off (CONFIG SET keyspace-prefix-max 4096)");
        return;
    }
    size_t n;
    ks_totals none, other;
    ks_prefix *p = kstats_prefixes(stats, (int)depth, &n, &none, &other);
    prefix_row *rows = alloc_malloc(ALLOC_SUB_OTHER, (n ? n : 1) * sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        rows[i].p = p[i];
        /* Growth is kept for the configured depth only. */
        rows[i].has_rate = depth == kstats_prefix_depth(stats) &&
                           history_prefix_rate(p[i].name, p[i].len, &rows[i].per_hour);
    }
    if (n) qsort(rows, n, sizeof(*rows), prefix_cmp);
    size_t shown = n < (size_t)count ? n : (size_t)count;
    /* The listed prefixes, then what the key space holds outside them, so the rows add up to
     * the whole key space. */
    reply_add_array_len(&c->reply, (long long)shown + 2);
    for (size_t i = 0; i < shown; i++)
        reply_prefix(c, rows[i].p.name, rows[i].p.len, rows[i].p.keys, rows[i].p.bytes,
                     (long long)rows[i].p.volatile_keys, &rows[i]);
    uint64_t rest_keys = other.keys, rest_bytes = other.bytes;
    for (size_t i = shown; i < n; i++) {
        rest_keys += rows[i].p.keys;
        rest_bytes += rows[i].p.bytes;
    }
    reply_prefix(c, "(other)", 7, rest_keys, rest_bytes, -1, NULL);
    reply_prefix(c, "(none)", 6, none.keys, none.bytes, -1, NULL);
    alloc_free(ALLOC_SUB_OTHER, rows);
    kstats_prefixes_free(p, n);
}

/* ---- MEMORY TOP-KEYS [COUNT n] [TYPE t] ---- */

typedef struct refill_ctx {
    int type;
} refill_ctx;

static void refill_offer(void *ctx, db *d, const db_entry *e) {
    const refill_ctx *r = ctx;
    if (db_entry_type(e) != r->type) return;
    ks_key k;
    db_entry_stats(d, e, &k);
    kstats_top_offer(stats, &k);
}

/* A type whose candidates ran out (many big keys shrank or went) is rebuilt from a pass over
 * its keys, once; then the answer is exact again. */
static void refill_if_needed(int type) {
    for (int t = type < 0 ? 0 : type; t <= (type < 0 ? DB_TYPES - 1 : type); t++) {
        if (kstats_top_exact(stats, t)) continue;
        kstats_top_reset(stats, t);
        refill_ctx r = {t};
        for (long long i = 0; i < srv.databases; i++)
            db_for_each(srv.dbs[i], refill_offer, &r);
        srv.stats.keyspace_top_refills++;
    }
}

static void memory_top_keys(client *c) {
    if (require_stats(c) < 0) return;
    long long count = 10;
    int type = -1;
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        if (arg_eq(c, i, "count")) {
            if (arg_ll(c, i + 1, &count) < 0) return;
            if (count < 1 || count > (long long)kstats_top_keys(stats)) {
                reply_errorf(c, "ERR COUNT must be between 1 and keyspace-top-keys (%zu)",
                             kstats_top_keys(stats));
                return;
            }
        } else if (arg_eq(c, i, "type")) {
            type = -1;
            for (int t = 0; t < DB_TYPES; t++)
                if (arg_eq(c, i + 1, db_type_name(t))) type = t;
            if (type < 0) {
                reply_error(c, "ERR unknown TYPE: use string, list, set, zset or hash");
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    ks_top *top = alloc_malloc(ALLOC_SUB_OTHER, (size_t)count * sizeof(ks_top));
    int n = kstats_top(stats, type, top, (size_t)count);
    if (n < 0) {
        refill_if_needed(type);
        n = kstats_top(stats, type, top, (size_t)count);
    }
    if (n < 0) n = 0; /* unreachable: a refilled set is exact */
    reply_add_array_len(&c->reply, n);
    for (int i = 0; i < n; i++) {
        db_entry *e = db_peek(srv.dbs[top[i].db], top[i].key, top[i].klen);
        ks_key k = {0};
        if (e) db_entry_stats(srv.dbs[top[i].db], e, &k);
        reply_add_map_len(&c->reply, 6);
        reply_add_bulk_cstr(&c->reply, "key");
        reply_add_bulk(&c->reply, top[i].key, top[i].klen);
        reply_add_bulk_cstr(&c->reply, "db");
        reply_add_int(&c->reply, top[i].db);
        reply_add_bulk_cstr(&c->reply, "type");
        reply_add_bulk_cstr(&c->reply, db_type_name(top[i].type));
        reply_add_bulk_cstr(&c->reply, "bytes");
        reply_add_int(&c->reply, (long long)top[i].bytes);
        reply_add_bulk_cstr(&c->reply, "length");
        reply_add_int(&c->reply, (long long)k.len);
        reply_add_bulk_cstr(&c->reply, "ttl-ms");
        reply_add_int(&c->reply, k.when < 0 ? -1 : (long long)(k.when - server_now_ms()));
    }
    alloc_free(ALLOC_SUB_OTHER, top);
}

int keyspace_memory_subcommand(client *c) {
    if (arg_eq(c, 1, "prefixes")) {
        memory_prefixes(c);
        return 1;
    }
    if (arg_eq(c, 1, "top-keys")) {
        memory_top_keys(c);
        return 1;
    }
    if (arg_eq(c, 1, "history")) {
        long long count = 60;
        if (c->argc == 4 && arg_eq(c, 2, "count")) {
            if (arg_ll(c, 3, &count) < 0) return 1;
            if (count < 1) {
                reply_error(c, "ERR COUNT must be positive");
                return 1;
            }
        } else if (c->argc != 2) {
            reply_error(c, ERR_SYNTAX);
            return 1;
        }
        history_reply(c, count);
        return 1;
    }
    return 0;
}

/* ---- the doctor's view ---- */

/* Printable form of a key for a finding's text: control and non-ASCII bytes as \xHH, cut with
 * "..." when it does not fit. */
static void printable_key(const char *k, size_t klen, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < klen; i++) {
        unsigned char ch = (unsigned char)k[i];
        static const char hex[] = "0123456789abcdef";
        char tmp[4] = {(char)ch};
        int n = 1; /* written by hand: the metrics snapshot prints the top keys every tick */
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hex[ch >> 4];
            tmp[3] = hex[ch & 15];
            n = 4;
        }
        if (o + (size_t)n + 4 >= cap) {
            snprintf(out + o, cap - o, "...");
            return;
        }
        memcpy(out + o, tmp, (size_t)n);
        o += (size_t)n;
    }
    out[o] = '\0';
}

size_t keyspace_top_for_console(metrics_top_key *out, size_t cap) {
    if (!keyspace_stats() || cap == 0) return 0;
    ks_top top[METRICS_TOP_KEYS];
    if (cap > METRICS_TOP_KEYS) cap = METRICS_TOP_KEYS;
    if (cap > kstats_top_keys(stats)) cap = kstats_top_keys(stats);
    int n = kstats_top(stats, -1, top, cap);
    if (n < 0) return 0;
    int64_t now = server_now_ms();
    for (int i = 0; i < n; i++) {
        metrics_top_key *t = &out[i];
        memset(t, 0, sizeof(*t));
        printable_key(top[i].key, top[i].klen, t->key, sizeof(t->key));
        t->db = top[i].db;
        t->type = db_type_name(top[i].type);
        t->bytes = top[i].bytes;
        t->ttl_ms = -1;
        db_entry *e = db_peek(srv.dbs[top[i].db], top[i].key, top[i].klen);
        if (e) {
            ks_key kk;
            db_entry_stats(srv.dbs[top[i].db], e, &kk);
            t->length = kk.len;
            if (kk.when >= 0) t->ttl_ms = kk.when > now ? kk.when - now : 0;
        }
    }
    return (size_t)n;
}

void keyspace_fill_doctor(mem_keyspace *k, int may_scan) {
    memset(k, 0, sizeof(*k));
    k->machine_memory = memory_system_total();
    if (!keyspace_stats()) return;
    k->known = 1;
    ks_totals all = kstats_db_totals(stats, -1), vol = kstats_volatile_totals(stats, -1);
    k->data_bytes = all.bytes;
    k->keys = all.keys;
    k->volatile_keys = vol.keys;
    k->volatile_bytes = vol.bytes;
    ks_top top;
    int n = kstats_top(stats, -1, &top, 1);
    if (n < 0 && may_scan) {
        refill_if_needed(-1);
        n = kstats_top(stats, -1, &top, 1);
    }
    if (n == 1) {
        printable_key(top.key, top.klen, k->big_key, sizeof(k->big_key));
        k->big_key_db = top.db;
        snprintf(k->big_key_type, sizeof(k->big_key_type), "%s", db_type_name(top.type));
        k->big_key_bytes = top.bytes;
        db_entry *e = db_peek(srv.dbs[top.db], top.key, top.klen);
        if (e) {
            ks_key kk;
            db_entry_stats(srv.dbs[top.db], e, &kk);
            k->big_key_length = kk.len;
        }
    }
    history_growth(k);
}

/* ---- DEBUG KEYSPACE-STATS-CHECK ---- */

static void add_fresh(void *ctx, db *d, const db_entry *e) {
    ks_key k;
    db_entry_stats(d, e, &k);
    kstats_add(ctx, &k);
}

void keyspace_stats_check(client *c) {
    if (require_stats(c) < 0) return;
    kstats_config cfg = current_config();
    if (cfg.prefix_max) cfg.prefix_max = 1000000; /* the scan tracks every prefix */
    char why[160];
    kstats *fresh = kstats_new((int)srv.databases, &cfg, why, sizeof(why));
    if (!fresh) {
        reply_errorf(c, "ERR %s", why);
        return;
    }
    for (long long i = 0; i < srv.databases; i++)
        db_for_each(srv.dbs[i], add_fresh, fresh);
    size_t cap = 4096;
    char *out = alloc_malloc(ALLOC_SUB_OTHER, cap);
    size_t n = kstats_diff(stats, fresh, server_now_ms(), out, cap);
    kstats_free(fresh);
    if (n == 0) {
        reply_add_status(&c->reply, "OK");
    } else {
        for (char *p = out; *p; p++)
            if (*p == '\n') *p = ';';
        reply_errorf(c, "ERR keyspace statistics differ from a scan in %zu figures: %s", n, out);
    }
    alloc_free(ALLOC_SUB_OTHER, out);
}

/* ---- INFO keysizes ---- */

/* Redis 8's labels: the bin's lower bound, in K/M/G/T/P when it is a whole multiple. */
static void bin_label(uint64_t v, char *buf, size_t cap) {
    static const char units[] = "KMGTP";
    int u = -1;
    while (v >= 1024 && v % 1024 == 0 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, cap, "%llu", (unsigned long long)v);
    else
        snprintf(buf, cap, "%llu%c", (unsigned long long)v, units[u]);
}

/* One line "db0_distrib_strings_sizes:1=2,4=1" into buf; 0 when the histogram is empty. */
static size_t hist_line(int dbi, const char *field, const uint64_t *h, char *buf, size_t cap) {
    size_t o = 0;
    for (int b = 0; b < KS_BINS; b++) {
        if (!h[b]) continue;
        char label[24];
        bin_label(kstats_bin_floor(b), label, sizeof(label));
        int n = o == 0 ? snprintf(buf, cap, "db%d_%s:%s=%llu", dbi, field, label,
                                  (unsigned long long)h[b])
                       : snprintf(buf + o, cap - o, ",%s=%llu", label, (unsigned long long)h[b]);
        if (n < 0 || (size_t)n >= cap - o) break;
        o += (size_t)n;
    }
    return o;
}

void keyspace_info_keysizes(void (*emit)(void *ctx, const char *line, size_t len), void *ctx) {
    /* Redis's order of types, and its field names for the length histograms; the byte
     * histograms (MEMORY USAGE of each key) are memkv's. */
    static const struct {
        int type;
        const char *len_field, *bytes_field;
    } kinds[] = {
        {DB_TYPE_STRING, "distrib_strings_sizes", "distrib_strings_bytes"},
        {DB_TYPE_LIST, "distrib_lists_items", "distrib_lists_bytes"},
        {DB_TYPE_SET, "distrib_sets_items", "distrib_sets_bytes"},
        {DB_TYPE_ZSET, "distrib_zsets_items", "distrib_zsets_bytes"},
        {DB_TYPE_HASH, "distrib_hashes_items", "distrib_hashes_bytes"},
    };
    if (!keyspace_stats()) return;
    char line[KS_BINS * 48];
    for (int d = 0; d < kstats_dbs(stats); d++) {
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                const uint64_t *h = pass == 0 ? kstats_len_hist(stats, d, kinds[i].type)
                                              : kstats_bytes_hist(stats, d, kinds[i].type);
                const char *f = pass == 0 ? kinds[i].len_field : kinds[i].bytes_field;
                size_t n = hist_line(d, f, h, line, sizeof(line));
                if (n) emit(ctx, line, n);
            }
        }
    }
}
