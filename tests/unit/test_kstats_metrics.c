/* Unit tests of what /metrics reads from the key-space statistics (src/db/kstats): the running
 * sum of lengths per db and type (the length histogram's _sum), exact through adds, removes and
 * both kinds of change, against a model; and the top-N prefixes by bytes (kstats_prefixes_top)
 * against every tracked prefix sorted in MEMORY PREFIXES's order, for N below, at and above the
 * number tracked, ties included; the TTL buckets, kept as running totals that follow the
 * clock, against a count from scratch as keys come and go and the minute moves by 0, 1, a few,
 * thousands, and backwards; the largest keys of a type and of all types, every count up to K,
 * against a model whose keys come, go and change size among few sizes (ties). */
#include "db/kstats.h"

#include "db/db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kstats *new_stats(int ndbs, size_t prefix_max) {
    kstats_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.separators, sizeof(cfg.separators), ":");
    cfg.depth = 2;
    cfg.prefix_max = prefix_max;
    cfg.top_keys = 4;
    char err[160];
    kstats *ks = kstats_new(ndbs, &cfg, err, sizeof(err));
    if (!ks) fail_msg("kstats_new: %s", err);
    return ks;
}

static uint64_t rng_state = 42;
static uint64_t rnd(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define NKEYS 400
typedef struct model_key {
    char name[32];
    int live;
    ks_key k;
} model_key;

static void test_len_sum(void **state) {
    (void)state;
    kstats *ks = new_stats(3, 0);
    static model_key m[NKEYS];
    memset(m, 0, sizeof(m));
    for (int i = 0; i < NKEYS; i++) {
        snprintf(m[i].name, sizeof(m[i].name), "k:%d", i);
        m[i].k.key = m[i].name;
        m[i].k.klen = strlen(m[i].name);
        m[i].k.db = i % 3;
        m[i].k.type = i % KS_TYPES;
    }
    for (int step = 0; step < 20000; step++) {
        model_key *x = &m[rnd() % NKEYS];
        ks_key before = x->k;
        switch (rnd() % 4) {
        case 0: /* add or remove */
            if (x->live) {
                kstats_remove(ks, &x->k);
                x->live = 0;
            } else {
                x->k.bytes = 50 + rnd() % 5000;
                x->k.len = rnd() % 3 ? rnd() % 1000 : (UINT64_C(1) << 40) + rnd() % 7;
                x->k.when = rnd() % 2 ? -1 : 1700000000000 + (int64_t)(rnd() % 100000000);
                kstats_add(ks, &x->k);
                x->live = 1;
            }
            break;
        case 1: /* length only (bytes and expire the same: the short path) */
            if (!x->live) break;
            x->k.len = rnd() % 100000;
            kstats_change(ks, &before, &x->k);
            break;
        case 2: /* length and bytes */
            if (!x->live) break;
            x->k.len = rnd() % 100;
            x->k.bytes = 50 + rnd() % 500;
            kstats_change(ks, &before, &x->k);
            break;
        default: /* the expire only */
            if (!x->live) break;
            x->k.when = x->k.when < 0 ? 1700000000000 : -1;
            kstats_change(ks, &before, &x->k);
            break;
        }
        if (step % 997 != 0 && step != 19999) continue;
        for (int t = 0; t < KS_TYPES; t++) {
            uint64_t all = 0, hist_keys = 0;
            for (int d = 0; d < 3; d++) {
                uint64_t want = 0, keys = 0;
                for (int i = 0; i < NKEYS; i++)
                    if (m[i].live && m[i].k.db == d && m[i].k.type == t) {
                        want += m[i].k.len;
                        keys++;
                    }
                assert_int_equal(kstats_len_sum(ks, d, t), want);
                assert_int_equal(kstats_type_totals(ks, d, t).keys, keys);
                const uint64_t *h = kstats_len_hist(ks, d, t);
                for (int b = 0; b < KS_BINS; b++)
                    hist_keys += h[b];
                all += want;
            }
            assert_int_equal(kstats_len_sum(ks, -1, t), all);
            assert_int_equal(kstats_type_totals(ks, -1, t).keys, hist_keys);
        }
    }
    for (int i = 0; i < NKEYS; i++)
        if (m[i].live) kstats_remove(ks, &m[i].k);
    for (int t = 0; t < KS_TYPES; t++)
        assert_int_equal(kstats_len_sum(ks, -1, t), 0);
    kstats_free(ks);
}

/* MEMORY PREFIXES's order: bytes, keys (descending), then name. */
static int by_bytes(const void *a, const void *b) {
    const ks_prefix *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->keys != y->keys) return x->keys > y->keys ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void test_prefixes_top(void **state) {
    (void)state;
    kstats *ks = new_stats(1, 1000);
    /* 120 prefixes; bytes drawn from a small range so that ties (bytes and keys) are common. */
    char key[64];
    for (int i = 0; i < 3000; i++) {
        int p = (int)(rnd() % 120);
        snprintf(key, sizeof(key), "p%c%c:%d", 'a' + p % 26, 'a' + p / 26, i);
        ks_key k = {key, strlen(key), 0, DB_TYPE_STRING, 100 + 10 * (rnd() % 4), 5, -1, 0};
        kstats_add(ks, &k);
    }
    assert_int_equal(kstats_prefix_count(ks), 120);
    size_t n;
    ks_totals none, other;
    ks_prefix *all = kstats_prefixes(ks, kstats_prefix_depth(ks), &n, &none, &other);
    assert_int_equal(n, 120);
    qsort(all, n, sizeof(*all), by_bytes);
    static const size_t counts[] = {1, 2, 7, 20, 119, 120, 121, 500};
    ks_prefix top[500];
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        size_t got = kstats_prefixes_top(ks, top, counts[c]);
        assert_int_equal(got, counts[c] < n ? counts[c] : n);
        for (size_t i = 0; i < got; i++) {
            assert_int_equal(top[i].len, all[i].len);
            assert_memory_equal(top[i].name, all[i].name, all[i].len);
            assert_int_equal(top[i].bytes, all[i].bytes);
            assert_int_equal(top[i].keys, all[i].keys);
        }
    }
    assert_int_equal(kstats_prefixes_top(ks, top, 0), 0);
    kstats_prefixes_free(all, n);
    kstats_free(ks);

    ks = new_stats(1, 1000); /* nothing tracked */
    assert_int_equal(kstats_prefixes_top(ks, top, 20), 0);
    kstats_free(ks);
}

/* The buckets counted from scratch: what kstats_ttl_buckets must say. */
static void ttl_model(const model_key *m, size_t n, int64_t now_ms, ks_totals out[]) {
    memset(out, 0, KS_TTL_BUCKETS * sizeof(ks_totals));
    int64_t now_minute = now_ms / 60000;
    for (size_t i = 0; i < n; i++) {
        if (!m[i].live) continue;
        int b = KS_TTL_NONE;
        if (m[i].k.when >= 0) {
            int64_t left = m[i].k.when / 60000 - now_minute;
            b = left < 60      ? KS_TTL_HOUR
                : left < 1440  ? KS_TTL_DAY
                : left < 10080 ? KS_TTL_WEEK
                               : KS_TTL_LONGER;
        }
        out[b].keys++;
        out[b].bytes += m[i].k.bytes;
    }
}

static void test_ttl_buckets_follow_the_clock(void **state) {
    (void)state;
    kstats *ks = new_stats(2, 0);
    static model_key m[NKEYS];
    memset(m, 0, sizeof(m));
    int64_t now = INT64_C(1700000000000);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(m[i].name, sizeof(m[i].name), "t:%d", i);
        m[i].k.key = m[i].name;
        m[i].k.klen = strlen(m[i].name);
        m[i].k.db = i % 2;
        m[i].k.type = DB_TYPE_STRING;
    }
    static const int64_t steps[] = {0,    1,    1,     3,     2,  1, 5,   59, 60, 61,
                                    1439, 1441, 10079, 20000, -5, 2, 400, 1,  1,  4};
    for (int round = 0; round < 3000; round++) {
        model_key *x = &m[rnd() % NKEYS];
        ks_key before = x->k;
        /* expires from the past (not deleted yet) to two weeks ahead; half of them within a
         * few minutes of a bucket's edge, which the clock then moves them across */
        static const int64_t edges[] = {0, 60, 24 * 60, 7 * 24 * 60};
        int64_t minutes = rnd() % 2 ? (int64_t)(rnd() % (14 * 24 * 60)) - 2
                                    : edges[rnd() % 4] + (int64_t)(rnd() % 8) - 2;
        int64_t when = now + minutes * 60000 + (int64_t)(rnd() % 60000);
        if (!x->live) {
            x->k.bytes = 50 + rnd() % 500;
            x->k.when = rnd() % 4 ? when : -1;
            kstats_add(ks, &x->k);
            x->live = 1;
        } else if (rnd() % 3 == 0) {
            kstats_remove(ks, &x->k);
            x->live = 0;
        } else {
            x->k.when = rnd() % 4 ? when : -1;
            x->k.bytes = 50 + rnd() % 500;
            kstats_change(ks, &before, &x->k);
        }
        if (round % 10 != 0) continue;
        now += steps[(size_t)(round / 10) % (sizeof(steps) / sizeof(steps[0]))] * 60000 +
               (int64_t)(rnd() % 1000);
        ks_totals got[KS_TTL_BUCKETS], want[KS_TTL_BUCKETS];
        kstats_ttl_buckets(ks, now, got);
        ttl_model(m, NKEYS, now, want);
        for (int b = 0; b < KS_TTL_BUCKETS; b++) {
            if (got[b].keys != want[b].keys || got[b].bytes != want[b].bytes)
                fail_msg("round %d bucket %s: %llu keys %llu bytes, want %llu %llu", round,
                         kstats_ttl_bucket_name(b), (unsigned long long)got[b].keys,
                         (unsigned long long)got[b].bytes, (unsigned long long)want[b].keys,
                         (unsigned long long)want[b].bytes);
        }
    }
    kstats_free(ks);
}

/* A change whose "before" names the key in memory the change freed (the db reallocs an entry
 * that holds its key): kstats reads only the name of "after" (ASan catches a read of the old). */
static void test_change_reads_only_the_new_name(void **state) {
    (void)state;
    kstats *ks = new_stats(1, 0);
    char *old = malloc(8), now_name[8] = "big:key";
    assert_non_null(old);
    memcpy(old, "big:key", 8);
    ks_key k = {old, 7, 0, DB_TYPE_STRING, 5000, 4000, -1, 0};
    kstats_add(ks, &k); /* a top-key candidate */
    ks_key before = k;
    free(old);
    ks_key after = {now_name, 7, 0, DB_TYPE_STRING, 9000, 8000, -1, 0};
    kstats_change(ks, &before, &after);
    ks_top top[1];
    assert_int_equal(kstats_top(ks, DB_TYPE_STRING, top, 1), 1);
    assert_int_equal(top[0].bytes, 9000);
    kstats_remove(ks, &after);
    assert_int_equal(kstats_top(ks, DB_TYPE_STRING, top, 1), 0);
    kstats_free(ks);
}

/* kstats_change_value (what db_settle reports) counts as kstats_change of the same before and
 * after: two kstats fed the same collection writes, one each way, agree on every figure. */
static void test_change_value_as_change(void **state) {
    (void)state;
    enum { N = 64 };
    /* Its own numbers: the other tests' sequences stay as they were. */
    uint64_t seed = 7;
#define own_rnd() (seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17)
    kstats *by_change = new_stats(2, 16), *by_value = new_stats(2, 16);
    char names[N][24];
    ks_key keys[N];
    int64_t now = 1700000000000;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "cart:%d:items", i);
        keys[i] = (ks_key){names[i],
                           strlen(names[i]),
                           i % 2,
                           DB_TYPE_HASH,
                           100 + own_rnd() % 5000,
                           1 + own_rnd() % 300,
                           i % 3 ? -1 : now + 60000 * i,
                           0};
        kstats_add(by_change, &keys[i]);
        kstats_add(by_value, &keys[i]);
    }
    for (int round = 0; round < 4000; round++) {
        ks_key *k = &keys[own_rnd() % N], after = *k;
        uint64_t r = own_rnd() % 4;
        if (r) after.bytes = r == 1 ? k->bytes : 100 + own_rnd() % 100000; /* same bytes or any */
        after.len = own_rnd() % 2 ? k->len : own_rnd() % 1000;
        kstats_change(by_change, k, &after);
        kstats_change_value(by_value, k, after.bytes, after.len);
        *k = after;
    }
    char out[512];
    size_t differ = kstats_diff(by_value, by_change, now, out, sizeof(out));
    if (differ) fail_msg("%zu figures differ:\n%s", differ, out);
    kstats_free(by_change);
    kstats_free(by_value);
#undef own_rnd
}

/* The largest keys against a model: keys of two types in two dbs come, go and change size
 * (few distinct sizes: ties broken by db and name), and kstats_top answers every count up to K
 * for one type and for all, refilled from the model whenever it says it cannot answer. */
#define TOP_KEYS 120
typedef struct top_model_key {
    char name[16];
    int db, type, present;
    uint64_t bytes;
} top_model_key;

static ks_key top_key_of(top_model_key *x) {
    ks_key k = {x->name, strlen(x->name), x->db, x->type, x->bytes, 1, -1, 0};
    return k;
}

static int top_model_cmp(const void *a, const void *b) {
    const top_model_key *x = *(top_model_key *const *)a, *y = *(top_model_key *const *)b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->db != y->db) return x->db < y->db ? -1 : 1;
    size_t lx = strlen(x->name), ly = strlen(y->name), n = lx < ly ? lx : ly;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (lx > ly) - (lx < ly);
}

static void check_top(kstats *ks, top_model_key *keys, int type, size_t count) {
    ks_top got[4];
    int n = kstats_top(ks, type, got, count);
    if (n < 0) { /* refill the types asked from the model, as the server does from a scan */
        for (int t = DB_TYPE_STRING; t <= DB_TYPE_HASH; t++) {
            if (type >= 0 && t != type) continue;
            kstats_top_reset(ks, t);
            for (size_t i = 0; i < TOP_KEYS; i++) {
                if (!keys[i].present || keys[i].type != t) continue;
                ks_key k = top_key_of(&keys[i]);
                kstats_top_offer(ks, &k);
            }
        }
        n = kstats_top(ks, type, got, count);
    }
    top_model_key *want[TOP_KEYS];
    size_t m = 0;
    for (size_t i = 0; i < TOP_KEYS; i++)
        if (keys[i].present && (type < 0 || keys[i].type == type)) want[m++] = &keys[i];
    qsort(want, m, sizeof(want[0]), top_model_cmp);
    size_t w = m < count ? m : count;
    assert_int_equal(n, (int)w);
    /* The sizes exactly, and the keys above the last size exactly; among the keys of the
     * last size (a tie at the cut), any may be the ones listed. */
    for (size_t i = 0; i < w; i++) {
        assert_int_equal(got[i].bytes, want[i]->bytes);
        int tie = w > 0 && want[i]->bytes == want[w - 1]->bytes;
        size_t k = i;
        if (tie) /* the model's key of that size with this name, if any */
            for (k = 0; k < m; k++)
                if (want[k]->bytes == got[i].bytes && want[k]->db == got[i].db &&
                    strlen(want[k]->name) == got[i].klen &&
                    !memcmp(want[k]->name, got[i].key, got[i].klen))
                    break;
        assert_true(k < m);
        assert_int_equal(got[i].db, want[k]->db);
        assert_int_equal(got[i].klen, strlen(want[k]->name));
        assert_memory_equal(got[i].key, want[k]->name, got[i].klen);
    }
}

static void test_top_keys_against_model(void **state) {
    (void)state;
    kstats *ks = new_stats(2, 0); /* K = 4: candidate sets of 16 */
    static top_model_key keys[TOP_KEYS];
    memset(keys, 0, sizeof(keys));
    for (size_t i = 0; i < TOP_KEYS; i++) {
        snprintf(keys[i].name, sizeof(keys[i].name), "k%zu", i);
        keys[i].db = (int)(i % 2);
        keys[i].type = i % 3 ? DB_TYPE_STRING : DB_TYPE_HASH;
    }
    for (int round = 0; round < 6000; round++) {
        top_model_key *x = &keys[rnd() % TOP_KEYS];
        uint64_t bytes = 16 * (1 + rnd() % 12);
        if (!x->present) {
            x->bytes = bytes;
            x->present = 1;
            ks_key k = top_key_of(x);
            kstats_add(ks, &k);
        } else if (rnd() % 3 == 0) {
            ks_key k = top_key_of(x);
            kstats_remove(ks, &k);
            x->present = 0;
        } else {
            ks_key b = top_key_of(x);
            x->bytes = bytes;
            ks_key a = top_key_of(x);
            kstats_change(ks, &b, &a);
        }
        if (round % 20 != 0) continue;
        for (size_t count = 1; count <= 4; count++) {
            check_top(ks, keys, -1, count);
            check_top(ks, keys, DB_TYPE_STRING, count);
            check_top(ks, keys, DB_TYPE_HASH, count);
        }
    }
    kstats_free(ks);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_len_sum),
        cmocka_unit_test(test_prefixes_top),
        cmocka_unit_test(test_ttl_buckets_follow_the_clock),
        cmocka_unit_test(test_change_reads_only_the_new_name),
        cmocka_unit_test(test_change_value_as_change),
        cmocka_unit_test(test_top_keys_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
