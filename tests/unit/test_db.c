#include "db/db.h"

#include "alloc/alloc.h"
#include "db/kstats.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW 1 /* a fake clock: expiry only ever compares against what we pass */
#define FAR (INT64_C(1) << 50)

static size_t kfmt(char *buf, size_t cap, const char *prefix, long i) {
    int n = snprintf(buf, cap, "%s%ld", prefix, i);
    return (size_t)n;
}

static void set_str(db *d, const char *k, const char *v) {
    db_set_string(d, k, strlen(k), v, strlen(v), 0);
}

static db_entry *find(db *d, const char *k) {
    return db_find(d, k, strlen(k), NOW, NULL);
}

static void assert_value(db *d, const char *k, const char *want) {
    db_entry *e = find(d, k);
    assert_non_null(e);
    size_t vlen, klen;
    const char *v = db_entry_str(e, &vlen);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(v, want, vlen);
    const char *key = db_entry_key(e, &klen);
    assert_int_equal(klen, strlen(k));
    assert_memory_equal(key, k, klen);
    assert_int_equal(db_entry_type(e), DB_TYPE_STRING);
}

static void finish_rehash(db *d) {
    while (db_rehash_step(d, 100)) {
    }
}

static int allocator_is_jemalloc(void) {
    return strncmp(alloc_allocator_name(), "jemalloc", 8) == 0;
}

static void test_set_get_overwrite(void **state) {
    (void)state;
    db *d = db_new();
    assert_null(find(d, "missing"));
    assert_int_equal(db_size(d), 0);

    set_str(d, "k", "v");
    assert_value(d, "k", "v");
    assert_int_equal(db_size(d), 1);

    /* Grow, shrink, grow a lot, empty: the key and the count stay right. */
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    set_str(d, "k", "a longer value than before");
    assert_value(d, "k", "a longer value than before");
    set_str(d, "k", "s");
    assert_value(d, "k", "s");
    set_str(d, "k", big);
    assert_value(d, "k", big);
    set_str(d, "k", "");
    assert_value(d, "k", "");
    assert_int_equal(db_size(d), 1);

    /* Empty key and binary-safe keys/values. */
    db_set_string(d, "", 0, "empty", 5, 0);
    assert_value(d, "", "empty");
    const char bk[] = {'a', '\0', 'b'};
    const char bv[] = {'\0', '\1', '\0'};
    db_set_string(d, bk, 3, bv, 3, 0);
    db_entry *e = db_find(d, bk, 3, NOW, NULL);
    assert_non_null(e);
    size_t vlen;
    assert_memory_equal(db_entry_str(e, &vlen), bv, 3);
    assert_int_equal(vlen, 3);
    assert_null(db_find(d, bk, 2, NOW, NULL));
    assert_null(db_find(d, "a", 1, NOW, NULL));
    assert_int_equal(db_size(d), 3);

    /* The returned entry is writable in place. */
    e = find(d, "k");
    db_set_string(d, "k", 1, "abc", 3, 0);
    e = find(d, "k");
    db_entry_str_mut(e)[1] = 'X';
    assert_value(d, "k", "aXc");
    db_free(d);
}

static void test_delete(void **state) {
    (void)state;
    db *d = db_new();
    set_str(d, "a", "1");
    set_str(d, "b", "2");
    assert_int_equal(db_delete(d, "a", 1), 1);
    assert_int_equal(db_delete(d, "a", 1), 0);
    assert_int_equal(db_delete(d, "zzz", 3), 0);
    assert_null(find(d, "a"));
    assert_value(d, "b", "2");
    assert_int_equal(db_size(d), 1);
    db_set_expire(d, "b", 1, FAR);
    assert_int_equal(db_expires_size(d), 1);
    assert_int_equal(db_delete(d, "b", 1), 1);
    assert_int_equal(db_expires_size(d), 0);
    assert_int_equal(db_size(d), 0);
    db_free(d);
}

static void test_many_keys(void **state) {
    (void)state;
    const long n = 100000;
    char k[32], v[32];
    db *d = db_new();
    db_stats st;
    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), "key:", i);
        size_t vl = kfmt(v, sizeof(v), "val-", i * 7);
        db_set_string(d, k, kl, v, vl, 0);
        if (i % 1000 == 0) db_set_expire(d, k, kl, FAR + i);
    }
    assert_int_equal(db_size(d), n);
    assert_int_equal(db_expires_size(d), 100);
    db_get_stats(d, &st);
    assert_true(st.buckets >= (size_t)n / 2); /* grew with the keys */

    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), "key:", i);
        size_t vl = kfmt(v, sizeof(v), "val-", i * 7);
        db_entry *e = db_find(d, k, kl, NOW, NULL);
        assert_non_null(e);
        size_t got;
        const char *val = db_entry_str(e, &got);
        assert_int_equal(got, vl);
        assert_memory_equal(val, v, vl);
        assert_int_equal(db_entry_has_expire(e), i % 1000 == 0);
    }
    finish_rehash(d);
    db_get_stats(d, &st);
    assert_false(st.rehashing);
    assert_true(st.buckets >= (size_t)n); /* load factor <= 1 once settled */
    assert_true(st.buckets <= 2 * (size_t)n);
    assert_null(db_find(d, "key:-1", 6, NOW, NULL));

    /* Delete all: the table shrinks (rehashing the other way) while lookups keep working. */
    int saw_shrink_rehash = 0;
    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), "key:", i);
        assert_int_equal(db_delete(d, k, kl), 1);
        if (i % 997 == 0) {
            db_get_stats(d, &st);
            if (st.rehashing) saw_shrink_rehash = 1;
            long j = i + 1 + (i % 13);
            if (j < n) {
                kl = kfmt(k, sizeof(k), "key:", j);
                assert_non_null(db_find(d, k, kl, NOW, NULL));
            }
        }
    }
    assert_true(saw_shrink_rehash);
    assert_int_equal(db_size(d), 0);
    assert_int_equal(db_expires_size(d), 0);
    finish_rehash(d);
    db_get_stats(d, &st);
    assert_int_equal(st.buckets, 4);
    assert_true(st.expires_buckets <= 4);
    db_free(d);
}

static void test_expire_lazy(void **state) {
    (void)state;
    db *d = db_new();
    uint64_t expired = 0;
    set_str(d, "k", "v");
    assert_int_equal(db_get_expire(d, "k", 1), -1);
    db_set_expire(d, "k", 1, 5000);
    assert_int_equal(db_get_expire(d, "k", 1), 5000);
    assert_int_equal(db_expires_size(d), 1);
    db_entry *e = db_find(d, "k", 1, 4999, &expired);
    assert_non_null(e);
    assert_true(db_entry_has_expire(e));
    assert_int_equal(expired, 0);
    /* Update in place. */
    db_set_expire(d, "k", 1, 6000);
    assert_int_equal(db_get_expire(d, "k", 1), 6000);
    assert_int_equal(db_expires_size(d), 1);
    assert_non_null(db_find(d, "k", 1, 5999, &expired));
    assert_null(db_find(d, "k", 1, 6000, &expired)); /* expire <= now: gone */
    assert_int_equal(expired, 1);
    assert_int_equal(db_size(d), 0);
    assert_int_equal(db_expires_size(d), 0);
    assert_null(db_find(d, "k", 1, 0, &expired));
    assert_int_equal(expired, 1);
    assert_null(db_find(d, "k", 1, 6000, NULL));

    /* Expire on a missing key is ignored. */
    db_set_expire(d, "nope", 4, 1);
    assert_int_equal(db_expires_size(d), 0);

    /* SET drops the TTL unless keep_ttl. */
    set_str(d, "a", "1");
    db_set_expire(d, "a", 1, 7000);
    db_set_string(d, "a", 1, "22", 2, 1);
    assert_int_equal(db_get_expire(d, "a", 1), 7000);
    assert_true(db_entry_has_expire(find(d, "a")));
    db_set_string(d, "a", 1, "333", 3, 0);
    assert_int_equal(db_get_expire(d, "a", 1), -1);
    assert_false(db_entry_has_expire(find(d, "a")));
    assert_int_equal(db_expires_size(d), 0);
    db_free(d);
}

static void test_expire_active(void **state) {
    (void)state;
    db *d = db_new();
    char k[32];
    const long n = 20000;
    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), "e:", i);
        db_set_string(d, k, kl, "v", 1, 0);
        db_set_expire(d, k, kl, i % 2 ? 100 : FAR); /* half of them are stale at 200 */
    }
    for (long i = 0; i < 1000; i++) {
        size_t kl = kfmt(k, sizeof(k), "p:", i);
        db_set_string(d, k, kl, "v", 1, 0); /* persistent keys are never sampled */
    }
    assert_int_equal(db_expires_size(d), n);

    /* Nothing is stale yet. */
    assert_int_equal(db_active_expire(d, 50, 1000), 0);
    /* A bounded pass stops near its budget. */
    size_t first = db_active_expire(d, 200, 10);
    assert_true(first <= 20);
    assert_int_equal(db_active_expire(d, 200, 0), 0);

    size_t total = first;
    for (int round = 0; round < 100000 && db_expires_size(d) > (size_t)n / 2; round++)
        total += db_active_expire(d, 200, 200);
    assert_int_equal(total, (size_t)n / 2);
    assert_int_equal(db_expires_size(d), n / 2);
    assert_int_equal(db_size(d), n / 2 + 1000);
    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), "e:", i);
        db_entry *e = db_find(d, k, kl, 200, NULL);
        if (i % 2)
            assert_null(e);
        else
            assert_non_null(e);
    }
    /* Everything else goes once the clock passes FAR; then the tables shrink. */
    while (db_expires_size(d) > 0)
        db_active_expire(d, FAR, 1000);
    assert_int_equal(db_size(d), 1000);
    finish_rehash(d);
    db_stats st;
    db_get_stats(d, &st);
    assert_true(st.expires_buckets <= 4);
    assert_true(st.buckets <= 10 * 1000); /* at least 10% full */
    db_free(d);
}

static void test_persist(void **state) {
    (void)state;
    db *d = db_new();
    set_str(d, "k", "v");
    assert_int_equal(db_persist(d, "k", 1), 0);
    assert_int_equal(db_persist(d, "missing", 7), 0);
    db_set_expire(d, "k", 1, 10);
    assert_int_equal(db_persist(d, "k", 1), 1);
    assert_int_equal(db_persist(d, "k", 1), 0);
    assert_int_equal(db_get_expire(d, "k", 1), -1);
    assert_int_equal(db_expires_size(d), 0);
    assert_non_null(db_find(d, "k", 1, FAR, NULL)); /* no longer expires */
    assert_false(db_entry_has_expire(find(d, "k")));
    db_free(d);
}

static void test_rename(void **state) {
    (void)state;
    db *d = db_new();
    set_str(d, "a", "va");
    assert_int_equal(db_rename(d, "missing", 7, "x", 1, 0), -1);
    assert_int_equal(db_rename(d, "missing", 7, "x", 1, 1), -1);

    assert_int_equal(db_rename(d, "a", 1, "b", 1, 0), 1);
    assert_null(find(d, "a"));
    assert_value(d, "b", "va");
    assert_int_equal(db_size(d), 1);

    /* Self rename. */
    assert_int_equal(db_rename(d, "b", 1, "b", 1, 0), 1);
    assert_int_equal(db_rename(d, "b", 1, "b", 1, 1), 0);
    assert_value(d, "b", "va");

    /* NX onto an existing key does nothing. */
    set_str(d, "c", "vc");
    assert_int_equal(db_rename(d, "b", 1, "c", 1, 1), 0);
    assert_value(d, "b", "va");
    assert_value(d, "c", "vc");

    /* Plain rename replaces dst, and dst's TTL goes with it. */
    db_set_expire(d, "c", 1, 9000);
    assert_int_equal(db_rename(d, "b", 1, "c", 1, 0), 1);
    assert_null(find(d, "b"));
    assert_value(d, "c", "va");
    assert_int_equal(db_get_expire(d, "c", 1), -1);
    assert_int_equal(db_size(d), 1);
    assert_int_equal(db_expires_size(d), 0);

    /* The expire travels with the key, to a longer and then a shorter name, and the LRU
     * clock and a long value survive the move. */
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    set_str(d, "c", big);
    db_set_expire(d, "c", 1, 12345);
    db_entry_set_lru(find(d, "c"), 777);
    assert_int_equal(db_rename(d, "c", 1, "a-much-longer-key-name-than-before", 34, 1), 1);
    assert_int_equal(db_get_expire(d, "c", 1), -1);
    assert_int_equal(db_get_expire(d, "a-much-longer-key-name-than-before", 34), 12345);
    assert_value(d, "a-much-longer-key-name-than-before", big);
    assert_int_equal(db_rename(d, "a-much-longer-key-name-than-before", 34, "s", 1, 0), 1);
    assert_int_equal(db_get_expire(d, "s", 1), 12345);
    assert_value(d, "s", big);
    db_entry *e = find(d, "s");
    assert_true(db_entry_has_expire(e));
    assert_int_equal(db_entry_lru(e), 777);
    assert_int_equal(db_size(d), 1);
    assert_int_equal(db_expires_size(d), 1);
    /* And it still expires under its new name. */
    assert_null(db_find(d, "s", 1, 12345, NULL));
    assert_int_equal(db_expires_size(d), 0);
    db_free(d);
}

/* Random operations against a plain array model: catches link fix-ups gone wrong when two
 * keys share a chain (rename, resize and overwrite all re-link entries). */
#define MODEL_KEYS 64
typedef struct model_key {
    int present;
    size_t vlen;
    char val[64];
    int64_t when; /* -1: none */
} model_key;

static uint64_t test_rng = 88172645463325252ULL;
static uint64_t next_rand(void) {
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return test_rng;
}

static void test_model_stress(void **state) {
    (void)state;
    db *d = db_new();
    model_key *m = calloc(MODEL_KEYS, sizeof(*m));
    char k[32], k2[32];
    for (int i = 0; i < MODEL_KEYS; i++)
        m[i].when = -1;
    for (int op = 0; op < 200000; op++) {
        int i = (int)(next_rand() % MODEL_KEYS);
        size_t kl = kfmt(k, sizeof(k), i % 2 ? "k" : "longer-key-", i);
        switch (next_rand() % 7) {
        case 0: { /* set */
            size_t vl = next_rand() % sizeof(m[i].val);
            for (size_t j = 0; j < vl; j++)
                m[i].val[j] = (char)('a' + (op + j) % 26);
            int keep = (int)(next_rand() % 2);
            db_set_string(d, k, kl, m[i].val, vl, keep);
            if (!m[i].present || !keep) m[i].when = -1;
            m[i].present = 1;
            m[i].vlen = vl;
            break;
        }
        case 1: /* delete */
            assert_int_equal(db_delete(d, k, kl), m[i].present);
            m[i].present = 0;
            m[i].when = -1;
            break;
        case 2: /* expire / persist */
            if (next_rand() % 2) {
                db_set_expire(d, k, kl, FAR + op);
                if (m[i].present) m[i].when = FAR + op;
            } else {
                assert_int_equal(db_persist(d, k, kl), m[i].present && m[i].when != -1);
                m[i].when = -1;
            }
            break;
        case 3: { /* rename */
            int j = (int)(next_rand() % MODEL_KEYS);
            size_t kl2 = kfmt(k2, sizeof(k2), j % 2 ? "k" : "longer-key-", j);
            int nx = (int)(next_rand() % 2);
            int want = !m[i].present ? -1 : (i == j ? !nx : (nx && m[j].present ? 0 : 1));
            assert_int_equal(db_rename(d, k, kl, k2, kl2, nx), want);
            if (want == 1 && i != j) {
                m[j] = m[i];
                m[i].present = 0;
                m[i].when = -1;
            }
            break;
        }
        case 4: { /* resize */
            db_entry *e = db_find(d, k, kl, NOW, NULL);
            assert_true((e != NULL) == m[i].present);
            if (!e) break;
            size_t nl = next_rand() % sizeof(m[i].val);
            e = db_string_resize(d, e, nl);
            if (nl > m[i].vlen) memset(m[i].val + m[i].vlen, 0, nl - m[i].vlen);
            m[i].vlen = nl;
            assert_ptr_equal(e, db_find(d, k, kl, NOW, NULL));
            break;
        }
        case 5: /* cron */
            db_rehash_step(d, 1);
            break;
        default: { /* check */
            db_entry *e = db_find(d, k, kl, NOW, NULL);
            assert_true((e != NULL) == m[i].present);
            if (e) {
                size_t vl;
                const char *v = db_entry_str(e, &vl);
                assert_int_equal(vl, m[i].vlen);
                assert_memory_equal(v, m[i].val, vl);
                assert_int_equal(db_entry_has_expire(e), m[i].when != -1);
            }
            assert_int_equal(db_get_expire(d, k, kl), m[i].when);
        }
        }
        if (op % 1000 == 0) {
            size_t present = 0, expires = 0;
            for (int j = 0; j < MODEL_KEYS; j++) {
                present += m[j].present != 0;
                expires += m[j].when != -1;
            }
            assert_int_equal(db_size(d), present);
            assert_int_equal(db_expires_size(d), expires);
        }
    }
    free(m);
    db_free(d);
}

/* ---- scan ---- */

typedef struct scan_ctx {
    unsigned *seen; /* per stable key */
    long nstable;
    size_t calls;
} scan_ctx;

static void scan_cb(void *ctx, const db_entry *e) {
    scan_ctx *c = ctx;
    size_t klen;
    const char *k = db_entry_key(e, &klen);
    c->calls++;
    if (klen > 2 && k[0] == 's' && k[1] == ':') {
        char num[32]; /* keys are not NUL-terminated */
        size_t n = klen - 2 < sizeof(num) - 1 ? klen - 2 : sizeof(num) - 1;
        memcpy(num, k + 2, n);
        num[n] = '\0';
        long i = strtol(num, NULL, 10);
        assert_true(i >= 0 && i < c->nstable);
        c->seen[i]++;
    }
}

static void test_scan_exactly_once(void **state) {
    (void)state;
    db *d = db_new();
    char k[32];
    const long n = 5000;
    for (long i = 0; i < n; i++)
        db_set_string(d, k, kfmt(k, sizeof(k), "s:", i), "v", 1, 0);
    finish_rehash(d);
    scan_ctx c = {calloc((size_t)n, sizeof(unsigned)), n, 0};
    uint64_t cur = 0;
    size_t calls = 0;
    do {
        cur = db_scan(d, cur, 10, scan_cb, &c);
        calls++;
    } while (cur != 0);
    for (long i = 0; i < n; i++)
        assert_int_equal(c.seen[i], 1);
    assert_int_equal(c.calls, n);
    assert_true(calls < (size_t)n); /* count batches the work */
    free(c.seen);

    /* Empty db: done at once. */
    db_flush(d);
    scan_ctx e = {NULL, 0, 0};
    assert_int_equal(db_scan(d, 0, 10, scan_cb, &e), 0);
    assert_int_equal(e.calls, 0);
    db_free(d);
}

static void test_scan_while_resizing(void **state) {
    (void)state;
    db *d = db_new();
    char k[32];
    const long nstable = 3000;
    long nextra = 0;
    for (long i = 0; i < nstable; i++)
        db_set_string(d, k, kfmt(k, sizeof(k), "s:", i), "v", 1, 0);
    finish_rehash(d);
    db_stats st;
    db_get_stats(d, &st);
    size_t start_buckets = st.buckets, max_buckets = 0, min_after_max = SIZE_MAX;
    int saw_rehash = 0, saw_shrink_rehash = 0;

    scan_ctx c = {calloc((size_t)nstable, sizeof(unsigned)), nstable, 0};
    uint64_t cur = 0;
    long step = 0;
    do {
        cur = db_scan(d, cur, 5, scan_cb, &c);
        step++;
        if (step < 150) {
            /* Phase 1: pile on transient keys so the table grows (more than once). */
            for (int j = 0; j < 300; j++, nextra++)
                db_set_string(d, k, kfmt(k, sizeof(k), "x:", nextra), "v", 1, 0);
        } else if (step < 400) {
            /* Phase 2: delete them all (and insert/delete more churn) so it shrinks. */
            for (int j = 0; j < 300 && nextra > 0; j++) {
                nextra--;
                assert_int_equal(db_delete(d, k, kfmt(k, sizeof(k), "x:", nextra)), 1);
            }
        }
        if (step >= 150)
            db_rehash_step(d, 50); /* a busy cron, so the shrink completes */
        else if (step % 3 == 0)
            db_rehash_step(d, 1);
        db_get_stats(d, &st);
        if (st.rehashing) saw_rehash = 1;
        if (st.rehashing && step > 310) saw_shrink_rehash = 1; /* deletes are over by then */
        if (st.buckets > max_buckets) max_buckets = st.buckets;
        if (step >= 150 && st.buckets < min_after_max) min_after_max = st.buckets;
    } while (cur != 0);

    for (long i = 0; i < nstable; i++)
        assert_true(c.seen[i] >= 1);
    assert_true(saw_rehash);
    assert_true(saw_shrink_rehash);
    assert_true(max_buckets >= 8 * start_buckets); /* it grew across the scan */
    assert_true(min_after_max < max_buckets / 4);  /* and shrank again */
    free(c.seen);
    db_free(d);
}

/* ---- random, flush, resize, lru, accounting ---- */

static void test_random(void **state) {
    (void)state;
    db *d = db_new();
    assert_null(db_random(d));
    char k[32];
    const long n = 100;
    for (long i = 0; i < n; i++)
        db_set_string(d, k, kfmt(k, sizeof(k), "s:", i), "v", 1, 0);
    unsigned seen[100] = {0};
    for (int r = 0; r < 20000; r++) {
        db_entry *e = db_random(d);
        assert_non_null(e);
        size_t klen;
        const char *key = db_entry_key(e, &klen);
        assert_true(klen > 2 && key[0] == 's');
        char num[32]; /* keys are not NUL-terminated */
        size_t nl = klen - 2 < sizeof(num) - 1 ? klen - 2 : sizeof(num) - 1;
        memcpy(num, key + 2, nl);
        num[nl] = '\0';
        long i = strtol(num, NULL, 10);
        assert_true(i >= 0 && i < n);
        seen[i]++;
    }
    for (long i = 0; i < n; i++)
        assert_true(seen[i] > 0);
    /* While a rehash is in progress too. */
    for (long i = n; i < 5000; i++) {
        db_set_string(d, k, kfmt(k, sizeof(k), "s:", i), "v", 1, 0);
        assert_non_null(db_random(d));
    }
    for (long i = 0; i < 4999; i++)
        db_delete(d, k, kfmt(k, sizeof(k), "s:", i));
    for (int r = 0; r < 100; r++) {
        db_entry *e = db_random(d);
        size_t klen;
        const char *key = db_entry_key(e, &klen);
        assert_int_equal(klen, 6);
        assert_memory_equal(key, "s:4999", 6);
    }
    db_free(d);
}

static void test_flush(void **state) {
    (void)state;
    db *d = db_new();
    char k[32];
    for (long i = 0; i < 1000; i++) {
        size_t kl = kfmt(k, sizeof(k), "f:", i);
        db_set_string(d, k, kl, "v", 1, 0);
        if (i % 3 == 0) db_set_expire(d, k, kl, FAR);
    }
    db_flush(d);
    assert_int_equal(db_size(d), 0);
    assert_int_equal(db_expires_size(d), 0);
    assert_null(db_find(d, "f:1", 3, NOW, NULL));
    assert_null(db_random(d));
    db_stats st;
    db_get_stats(d, &st);
    assert_int_equal(st.buckets, 0);
    assert_int_equal(st.expires_buckets, 0);
    /* Usable again after a flush. */
    set_str(d, "again", "yes");
    assert_value(d, "again", "yes");
    db_flush(d);
    db_flush(d);
    db_free(d);
    db_free(NULL);
}

static void test_string_resize(void **state) {
    (void)state;
    db *d = db_new();
    set_str(d, "k", "abc");
    set_str(d, "other", "zzz");
    db_entry *e = find(d, "k");
    e = db_string_resize(d, e, 10);
    assert_ptr_equal(e, find(d, "k"));
    size_t vlen;
    const char *v = db_entry_str(e, &vlen);
    assert_int_equal(vlen, 10);
    assert_memory_equal(v, "abc\0\0\0\0\0\0\0", 10);
    memcpy(db_entry_str_mut(e) + 3, "defghij", 7);
    assert_value(d, "k", "abcdefghij");
    e = db_string_resize(d, e, 100000);
    v = db_entry_str(e, &vlen);
    assert_int_equal(vlen, 100000);
    assert_memory_equal(v, "abcdefghij", 10);
    for (size_t i = 10; i < vlen; i++)
        assert_int_equal(v[i], 0);
    e = db_string_resize(d, e, 2);
    assert_value(d, "k", "ab");
    e = db_string_resize(d, e, 0);
    assert_value(d, "k", "");
    assert_value(d, "other", "zzz");
    db_set_expire(d, "k", 1, 4242);
    e = db_string_resize(d, find(d, "k"), 5);
    assert_true(db_entry_has_expire(e));
    assert_int_equal(db_get_expire(d, "k", 1), 4242);
    db_free(d);
}

static void test_lru(void **state) {
    (void)state;
    db *d = db_new();
    set_str(d, "k", "value");
    db_entry *e = find(d, "k");
    assert_int_equal(db_entry_lru(e), 0);
    db_entry_set_lru(e, 0xABCDEF);
    assert_int_equal(db_entry_lru(e), 0xABCDEF);
    db_entry_set_lru(e, 0x12345678); /* kept modulo 2^24 */
    assert_int_equal(db_entry_lru(e), 0x345678);
    assert_value(d, "k", "value"); /* value length untouched */
    set_str(d, "k", "a different value");
    assert_int_equal(db_entry_lru(find(d, "k")), 0x345678);
    db_entry_set_lru(find(d, "k"), DB_LRU_MAX);
    assert_int_equal(db_entry_lru(find(d, "k")), DB_LRU_MAX);
    assert_value(d, "k", "a different value");
    db_free(d);
}

static void test_lru_clock(void **state) {
    (void)state;
    db *d = db_new();
    db_set_lru_clock(1000);
    assert_int_equal(db_lru_clock(), 1000);
    set_str(d, "k", "v");
    db_entry *e = db_peek(d, "k", 1);
    assert_non_null(e);
    assert_int_equal(db_entry_lru(e), 1000); /* new entries start at the clock */

    db_set_lru_clock(2000);
    assert_ptr_equal(find(d, "k"), e); /* db_find does not touch */
    assert_int_equal(db_entry_lru(e), 1000);
    assert_ptr_equal(db_peek(d, "k", 1), e); /* neither does db_peek */
    assert_int_equal(db_entry_lru(e), 1000);
    set_str(d, "k", "other"); /* an overwrite keeps it */
    e = db_peek(d, "k", 1);
    assert_int_equal(db_entry_lru(e), 1000);
    e = db_find_touch(d, "k", 1, NOW, NULL);
    assert_non_null(e);
    assert_int_equal(db_entry_lru(e), 2000);
    assert_value(d, "k", "other"); /* the stamp leaves the value length alone */
    assert_null(db_find_touch(d, "missing", 7, NOW, NULL));

    /* Kept modulo 2^24, as entries keep it. */
    db_set_lru_clock(DB_LRU_MAX + 5u);
    assert_int_equal(db_lru_clock(), 4);
    db_find_touch(d, "k", 1, NOW, NULL);
    assert_int_equal(db_entry_lru(db_peek(d, "k", 1)), 4);

    /* db_peek neither expires nor counts; db_find_touch expires like db_find. */
    set_str(d, "old", "v");
    db_set_expire(d, "old", 3, NOW);
    assert_non_null(db_peek(d, "old", 3));
    assert_int_equal(db_size(d), 2);
    uint64_t expired = 0;
    assert_null(db_find_touch(d, "old", 3, NOW, &expired));
    assert_int_equal(expired, 1);
    assert_null(db_peek(d, "old", 3));
    assert_int_equal(db_size(d), 1);

    db_set_lru_clock(0);
    db_free(d);
}

/* Index of a "s:<n>" key, from its (not NUL-terminated) bytes. */
static long sample_index(const db_entry *e) {
    size_t klen;
    const char *key = db_entry_key(e, &klen);
    assert_true(klen > 2 && klen < 16 && key[0] == 's' && key[1] == ':');
    char num[16];
    memcpy(num, key + 2, klen - 2);
    num[klen - 2] = '\0';
    return strtol(num, NULL, 10);
}

/* Every sampled entry is a live entry of the table it was taken from. */
static size_t check_sample(db *d, int from_expires, db_entry **out, size_t n) {
    size_t got = db_sample(d, from_expires, out, n);
    size_t table = from_expires ? db_expires_size(d) : db_size(d);
    assert_true(got <= n && got <= table);
    if (table > 0 && n > 0) assert_true(got >= 1);
    for (size_t j = 0; j < got; j++) {
        size_t klen;
        const char *key = db_entry_key(out[j], &klen);
        db_entry *e = db_peek(d, key, klen);
        assert_non_null(e);
        if (from_expires) {
            assert_true(db_entry_has_expire(e));
            assert_int_equal(db_expires_entry_when(out[j]), db_get_expire(d, key, klen));
        } else {
            assert_ptr_equal(e, out[j]);
        }
    }
    return got;
}

static void test_sample(void **state) {
    (void)state;
    db *d = db_new();
    db_entry *out[64];
    assert_int_equal(db_sample(d, 0, out, 5), 0);
    assert_int_equal(db_sample(d, 1, out, 5), 0);

    char k[32];
    const long n = 300;
    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), "s:", i);
        db_set_string(d, k, kl, "v", 1, 0);
        if (i % 3 == 0) db_set_expire(d, k, kl, FAR + i);
    }
    assert_int_equal(db_sample(d, 0, out, 0), 0);

    /* Every key is reachable: from the key table all of them, from the expires index exactly
     * those with an expire. Not uniformly (a walk from a random bucket, as Redis's
     * dictGetSomeKeys): a key deep in a chain after full buckets is drawn only from its own
     * bucket, about 1 in 512 here, so 3,000 rounds missed one in some 50 runs; 30,000 do not. */
    unsigned seen_keys[300] = {0}, seen_exp[300] = {0};
    for (int r = 0; r < 30000; r++) {
        size_t got = check_sample(d, 0, out, 5);
        for (size_t j = 0; j < got; j++)
            seen_keys[sample_index(out[j])]++;
        got = check_sample(d, 1, out, 5);
        for (size_t j = 0; j < got; j++) {
            long i = sample_index(out[j]);
            assert_int_equal(i % 3, 0);
            assert_int_equal(db_expires_entry_when(out[j]), FAR + i);
            seen_exp[i]++;
        }
    }
    for (long i = 0; i < n; i++) {
        assert_true(seen_keys[i] > 0);
        assert_true((seen_exp[i] > 0) == (i % 3 == 0));
    }

    /* Asking for more than the table holds. */
    db_flush(d);
    for (long i = 0; i < 3; i++)
        db_set_string(d, k, kfmt(k, sizeof(k), "s:", i), "v", 1, 0);
    for (int r = 0; r < 100; r++)
        check_sample(d, 0, out, 64);
    assert_int_equal(db_sample(d, 1, out, 64), 0); /* no expires */

    int rehashing_seen = 0;
    /* Growing (a rehash in progress), then a table left almost empty by deletes (a shrink in
     * progress, the rest of it sparse): still valid entries, and at least one. */
    for (long i = 3; i < 20000; i++) {
        size_t kl = kfmt(k, sizeof(k), "s:", i);
        db_set_string(d, k, kl, "v", 1, 0);
        if (i % 2 == 0) db_set_expire(d, k, kl, FAR);
        if (i % 97 == 0) {
            db_stats st;
            db_get_stats(d, &st);
            rehashing_seen |= st.rehashing;
            check_sample(d, 0, out, 16);
            check_sample(d, 1, out, 16);
        }
    }
    assert_true(rehashing_seen);
    for (long i = 0; i < 19990; i++) {
        db_delete(d, k, kfmt(k, sizeof(k), "s:", i));
        if (i % 101 == 0) {
            check_sample(d, 0, out, 5);
            check_sample(d, 1, out, 5);
        }
    }
    for (int r = 0; r < 200; r++) {
        assert_true(check_sample(d, 0, out, 1) == 1);
        assert_true(check_sample(d, 1, out, 1) == 1);
        check_sample(d, 0, out, 64);
    }
    finish_rehash(d);
    for (int r = 0; r < 200; r++)
        assert_true(check_sample(d, 0, out, 1) == 1);
    db_free(d);
}

typedef struct usage_ctx {
    size_t entries; /* sum of db_entry_mem_usage - bucket share */
    size_t expires; /* sum of expires entries (with their bucket share) */
    db *d;
} usage_ctx;

static void usage_cb(void *ctx, const db_entry *e) {
    usage_ctx *u = ctx;
    size_t m = db_entry_mem_usage(e);
    assert_true(m >= sizeof(void *) + 24);
    u->entries += m - sizeof(void *);
    u->expires += db_key_mem_usage(u->d, e) - m;
}

static usage_ctx sum_usage(db *d) {
    usage_ctx u = {0, 0, d};
    uint64_t cur = 0;
    do
        cur = db_scan(d, cur, 100, usage_cb, &u);
    while (cur);
    return u;
}

static void check_index_bytes(int64_t delta, size_t buckets) {
    if (allocator_is_jemalloc()) {
        assert_int_equal(delta, (int64_t)(buckets * sizeof(void *))); /* power-of-two sizes */
    } else {
        assert_true(delta >= (int64_t)(buckets * sizeof(void *)));
        assert_true(delta <= (int64_t)(buckets * sizeof(void *)) + 8192);
    }
}

static void test_accounting(void **state) {
    (void)state;
    int64_t s0 = alloc_sub_bytes(ALLOC_SUB_STRINGS);
    int64_t x0 = alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX);
    int64_t i0 = alloc_sub_bytes(ALLOC_SUB_KEY_INDEX);
    db *d = db_new();
    int64_t i1 = alloc_sub_bytes(ALLOC_SUB_KEY_INDEX);
    assert_true(i1 > i0);                                     /* the db struct itself */
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS), s0); /* empty db: no tables yet */

    char k[64], v[300];
    memset(v, 'v', sizeof(v));
    const long n = 5000;
    for (long i = 0; i < n; i++) {
        size_t kl = kfmt(k, sizeof(k), i % 3 ? "acct:" : "a-rather-longer-accounting-key:", i);
        db_set_string(d, k, kl, v, (size_t)(i * 37) % sizeof(v), 0);
        if (i % 4 == 0) db_set_expire(d, k, kl, FAR);
    }
    /* Overwrites with other sizes and resizes keep the sum exact. */
    for (long i = 0; i < n; i += 7) {
        size_t kl = kfmt(k, sizeof(k), i % 3 ? "acct:" : "a-rather-longer-accounting-key:", i);
        db_set_string(d, k, kl, v, (size_t)(i * 11) % sizeof(v), 1);
        db_entry *e = db_find(d, k, kl, NOW, NULL);
        if (i % 2) db_string_resize(d, e, 250);
    }
    finish_rehash(d);

    usage_ctx u = sum_usage(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS) - s0, (int64_t)u.entries);
    /* Bytes per key stay small: header 24 + key + value, rounded to a size class. */
    db_stats st;
    db_get_stats(d, &st);
    assert_int_equal(st.keys, n);
    assert_int_equal(st.expires, (n + 3) / 4);
    check_index_bytes(alloc_sub_bytes(ALLOC_SUB_KEY_INDEX) - i1, st.buckets);
    /* expires index = its entries + its bucket array; u.expires counts 8 bytes of bucket share
     * per expires entry on top of the entries themselves. */
    int64_t xdelta = alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX) - x0;
    check_index_bytes(xdelta - (int64_t)(u.expires - st.expires * sizeof(void *)),
                      st.expires_buckets);

    /* A single key's figures, checked against the counters. */
    int64_t before = alloc_sub_bytes(ALLOC_SUB_STRINGS);
    db_entry *e = db_set_string(d, "single", 6, v, 100, 0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS) - before,
                     (int64_t)(db_entry_mem_usage(e) - sizeof(void *)));
    assert_true(db_entry_mem_usage(e) >= 24 + 6 + 100 + sizeof(void *));
    assert_int_equal(db_key_mem_usage(d, e), db_entry_mem_usage(e));
    int64_t xb = alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX);
    db_stats s1;
    db_get_stats(d, &s1);
    db_set_expire(d, "single", 6, FAR);
    db_stats s2;
    db_get_stats(d, &s2);
    e = find(d, "single");
    if (s1.expires_buckets == s2.expires_buckets) /* no resize: the new entry alone */
        assert_int_equal(
            alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX) - xb,
            (int64_t)(db_key_mem_usage(d, e) - db_entry_mem_usage(e) - sizeof(void *)));

    /* Rename keeps the sums. */
    assert_int_equal(db_rename(d, "single", 6, "single-renamed-longer", 21, 0), 1);
    u = sum_usage(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS) - s0, (int64_t)u.entries);

    /* Flush gives everything back. */
    db_flush(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS), s0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX), x0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_KEY_INDEX), i1);

    /* Delete-all and active expiry give back entries too (tables keep 4 buckets). */
    for (long i = 0; i < 1000; i++) {
        size_t kl = kfmt(k, sizeof(k), "acct:", i);
        db_set_string(d, k, kl, v, 20, 0);
        if (i % 2) db_set_expire(d, k, kl, 5);
    }
    while (db_expires_size(d))
        db_active_expire(d, 10, 1000);
    for (long i = 0; i < 1000; i += 2)
        db_delete(d, k, kfmt(k, sizeof(k), "acct:", i));
    assert_int_equal(db_size(d), 0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS), s0);
    finish_rehash(d);
    db_get_stats(d, &st);
    assert_int_equal(st.buckets, 4);
    check_index_bytes(alloc_sub_bytes(ALLOC_SUB_KEY_INDEX) - i1, st.buckets);
    check_index_bytes(alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX) - x0, st.expires_buckets);

    db_free(d);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_KEY_INDEX), i0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_EXPIRES_INDEX), x0);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_STRINGS), s0);
}

static void test_hash_seed(void **state) {
    (void)state;
    /* A new seed changes bucket placement, never lookups (set before any db exists in real
     * use; here a fresh db after the change). */
    uint8_t seed[16];
    for (int i = 0; i < 16; i++)
        seed[i] = (uint8_t)(i * 31 + 7);
    db_set_hash_seed(seed);
    db *d = db_new();
    char k[32];
    for (long i = 0; i < 2000; i++)
        db_set_string(d, k, kfmt(k, sizeof(k), "h:", i), "v", 1, 0);
    for (long i = 0; i < 2000; i++)
        assert_non_null(db_find(d, k, kfmt(k, sizeof(k), "h:", i), NOW, NULL));
    db_free(d);
}

/* A stand-in collection: a counter block in the hashes subsystem. */
static int fake_frees;
static void fake_free(void *ptr, unsigned enc) {
    (void)enc;
    fake_frees++;
    alloc_free(ALLOC_SUB_HASHES, ptr);
}
static size_t fake_mem(const void *ptr, unsigned enc, size_t samples) {
    (void)enc;
    (void)samples;
    return alloc_usable_size(ptr);
}
static void *fake_dup(const void *ptr, unsigned enc) {
    (void)enc;
    long *p = alloc_malloc(ALLOC_SUB_HASHES, sizeof(long));
    *p = *(const long *)ptr;
    return p;
}
static size_t fake_len(const void *ptr, unsigned enc) {
    (void)ptr;
    (void)enc;
    return 1;
}
static const db_type_ops fake_ops = {fake_free, fake_mem, fake_dup, fake_len, NULL, 0};

static void *fake_new(long v) {
    long *p = alloc_malloc(ALLOC_SUB_HASHES, sizeof(long));
    *p = v;
    return p;
}

static void test_objects(void **state) {
    (void)state;
    db_register_type(DB_TYPE_HASH, &fake_ops);
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HASHES);
    db *d = db_new(), *d2 = db_new();
    fake_frees = 0;
    db_entry *e = db_add_object(d, "h", 1, DB_TYPE_HASH, DB_ENC_LISTPACK, fake_new(7));
    assert_int_equal(db_entry_type(e), DB_TYPE_HASH);
    assert_int_equal(db_entry_encoding(e), DB_ENC_LISTPACK);
    assert_int_equal(*(long *)db_entry_ptr(e), 7);
    assert_int_equal(db_type_count(d, DB_TYPE_HASH, DB_ENC_LISTPACK), 1);
    assert_true(db_entry_mem_usage(e) >= 24 + 1 + 8 + sizeof(long));

    /* A conversion: new pointer and encoding, counts follow. */
    void *old = db_entry_ptr(e);
    db_entry_set_object(d, e, DB_ENC_HASHTABLE, fake_new(8));
    alloc_free(ALLOC_SUB_HASHES, old);
    assert_int_equal(db_type_count(d, DB_TYPE_HASH, DB_ENC_LISTPACK), 0);
    assert_int_equal(db_type_count(d, DB_TYPE_HASH, DB_ENC_HASHTABLE), 1);

    /* Copy, rename with an expire, move to another db. */
    db_entry *c = db_copy_entry(d, e, "copy", 4);
    assert_int_equal(*(long *)db_entry_ptr(c), 8);
    assert_ptr_not_equal(db_entry_ptr(c), db_entry_ptr(e));
    assert_int_equal(db_type_count(d, DB_TYPE_HASH, DB_ENC_HASHTABLE), 2);
    db_set_expire(d, "h", 1, INT64_MAX);
    assert_int_equal(db_rename(d, "h", 1, "longer-name", 11, 0), 1);
    e = db_find(d, "longer-name", 11, 0, NULL);
    assert_non_null(e);
    assert_int_equal(*(long *)db_entry_ptr(e), 8);
    assert_int_equal(db_move_key(d, d2, "longer-name", 11), 1);
    assert_null(db_find(d, "longer-name", 11, 0, NULL));
    assert_int_equal(db_get_expire(d2, "longer-name", 11), INT64_MAX);
    assert_int_equal(db_type_count(d2, DB_TYPE_HASH, DB_ENC_HASHTABLE), 1);
    assert_int_equal(db_move_key(d, d2, "nope", 4), 0);

    /* Overwritten by a string: the value is freed, counts move to strings. */
    db_set_string(d, "copy", 4, "v", 1, 0);
    assert_int_equal(fake_frees, 1);
    assert_int_equal(db_type_count(d, DB_TYPE_HASH, DB_ENC_HASHTABLE), 0);
    assert_int_equal(db_type_count(d, DB_TYPE_STRING, DB_ENC_NONE), 1);

    /* Strings copy too. */
    db_entry *s = db_find(d, "copy", 4, 0, NULL);
    db_entry *s2 = db_copy_entry(d2, s, "s2", 2);
    size_t vlen;
    assert_memory_equal(db_entry_str(s2, &vlen), "v", 1);
    assert_int_equal(vlen, 1);

    db_free(d);
    db_free(d2);
    assert_int_equal(fake_frees, 2);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HASHES), base);
}

/* SWAPDB: after db_swap_index the running statistics equal a recount of both dbs under their
 * new numbers (totals, histograms, volatile keys, prefixes, top keys and their db). */
static void test_swap_index_stats(void **state) {
    (void)state;
    char err[128], diff[2048];
    kstats_config cfg = {.separators = ":", .depth = 2, .prefix_max = 64, .top_keys = 2};
    kstats *live = kstats_new(2, &cfg, err, sizeof(err));
    assert_non_null(live);
    db *a = db_new(), *b = db_new();
    db_set_index(a, 0);
    db_set_index(b, 1);
    db_attach_stats(live);
    char big[1000];
    memset(big, 'x', sizeof(big));
    db_set_string(a, "u:1", 3, big, 100, 0);
    db_set_string(a, "u:2", 3, big, 10, 0);
    db_set_string(b, "v:1", 3, big, sizeof(big), 0);
    db_set_expire(b, "v:1", 3, INT64_C(4102444800000));
    db_settle();
    db_swap_index(a, b);
    db_string_resize(b, db_find(b, "v:1", 3, 0, NULL), 500); /* a change after the swap */
    db_settle();
    assert_int_equal(kstats_db_totals(live, 1).keys, 2);
    assert_int_equal(kstats_db_totals(live, 0).keys, 1);
    assert_int_equal(kstats_volatile_totals(live, 0).keys, 1);
    ks_top top[2];
    assert_int_equal(kstats_top(live, DB_TYPE_STRING, top, 2), 2);
    assert_int_equal(top[0].db, 0); /* v:1, now in db 0 */
    assert_int_equal(top[1].db, 1);

    kstats *fresh = kstats_new(2, &cfg, err, sizeof(err));
    db_attach_stats(fresh);
    db_stats_recount(a);
    db_stats_recount(b);
    db_settle();
    assert_int_equal(kstats_diff(live, fresh, 0, diff, sizeof(diff)), 0);
    db_attach_stats(NULL);
    kstats_free(fresh);
    kstats_free(live);
    db_free(a);
    db_free(b);
}

/* ---- change signals (WATCH) ---- */

static struct {
    db *d;
    char key[32];
    int change, calls;
} last_change;

static void record_change(db *d, const char *key, size_t klen, int change) {
    last_change.d = d;
    last_change.change = change;
    last_change.calls++;
    snprintf(last_change.key, sizeof(last_change.key), "%.*s", (int)klen, key ? key : "");
}

/* The call since the last check was (d, key, change), and only that one. */
static void expect_change(db *d, const char *key, int change, int calls) {
    assert_int_equal(last_change.calls, calls);
    if (calls) {
        assert_ptr_equal(last_change.d, d);
        assert_string_equal(last_change.key, key);
        assert_int_equal(last_change.change, change);
    }
    memset(&last_change, 0, sizeof(last_change));
}

static void noop_free(void *ptr, unsigned enc) {
    (void)enc;
    free(ptr);
}
static size_t noop_mem(const void *ptr, unsigned enc, size_t samples) {
    (void)ptr, (void)enc, (void)samples;
    return 0;
}
static void *noop_dup(const void *ptr, unsigned enc) {
    (void)ptr, (void)enc;
    return malloc(1);
}
static size_t noop_len(const void *ptr, unsigned enc) {
    (void)ptr, (void)enc;
    return 1;
}

static void test_change_hook(void **state) {
    (void)state;
    static const db_type_ops ops = {noop_free, noop_mem, noop_dup, noop_len, NULL, 0};
    db_register_type(DB_TYPE_SET, &ops);
    db *a = db_new(), *b = db_new();
    memset(&last_change, 0, sizeof(last_change));
    set_str(a, "k", "v"); /* no hook yet */
    expect_change(a, "", 0, 0);
    db_set_change_hook(record_change);

    set_str(a, "k", "w");
    expect_change(a, "k", DB_CHANGE_WRITE, 1);
    db_entry *e = find(a, "k");
    expect_change(a, "", 0, 0); /* a lookup changes nothing */
    db_string_resize(a, e, 1);  /* same length: the caller writes the bytes, still a change */
    expect_change(a, "k", DB_CHANGE_WRITE, 1);
    db_set_expire(a, "k", 1, FAR);
    expect_change(a, "k", DB_CHANGE_WRITE, 1);
    assert_int_equal(db_persist(a, "k", 1), 1);
    expect_change(a, "k", DB_CHANGE_WRITE, 1);
    assert_int_equal(db_persist(a, "k", 1), 0); /* nothing to remove: no change */
    expect_change(a, "", 0, 0);
    assert_int_equal(db_rename(a, "k", 1, "k", 1, 0), 1); /* onto itself: no change */
    expect_change(a, "", 0, 0);
    assert_int_equal(db_rename(a, "k", 1, "r", 1, 0), 1); /* src deleted, then dst written */
    assert_int_equal(last_change.calls, 2);
    expect_change(a, "r", DB_CHANGE_WRITE, 2);
    assert_int_equal(db_move_key(a, b, "r", 1), 1);
    assert_int_equal(last_change.calls, 2);
    expect_change(b, "r", DB_CHANGE_WRITE, 2);
    db_copy_entry(a, find(b, "r"), "c", 1);
    expect_change(a, "c", DB_CHANGE_WRITE, 1);
    assert_int_equal(db_delete(a, "c", 1), 1);
    expect_change(a, "c", DB_CHANGE_DELETE, 1);
    assert_int_equal(db_delete(a, "c", 1), 0);
    expect_change(a, "", 0, 0);
    db_add_object(a, "s", 1, DB_TYPE_SET, DB_ENC_HASHTABLE, malloc(1));
    expect_change(a, "s", DB_CHANGE_WRITE, 1);
    db_key_changed(a, "s", 1);
    expect_change(a, "s", DB_CHANGE_WRITE, 1);

    /* Lazy and active expiry delete (DB_CHANGE_EXPIRED: no client did it). */
    set_str(a, "e", "v");
    db_set_expire(a, "e", 1, NOW);
    memset(&last_change, 0, sizeof(last_change));
    assert_null(db_find(a, "e", 1, NOW + 1, NULL));
    expect_change(a, "e", DB_CHANGE_EXPIRED, 1);
    set_str(a, "e", "v");
    db_set_expire(a, "e", 1, NOW);
    memset(&last_change, 0, sizeof(last_change));
    assert_int_equal(db_active_expire(a, NOW + 1, 100), 1);
    expect_change(a, "e", DB_CHANGE_EXPIRED, 1);

    db_flush(a);
    expect_change(a, "", DB_CHANGE_FLUSH, 1);
    db_set_change_hook(NULL);
    set_str(a, "k", "v");
    expect_change(a, "", 0, 0);
    db_free(a);
    db_free(b);
}

/* ---- snapshots (db_snapshot_begin) ---- */

static char snap_seen[64][16];
static int snap_nseen;

static void snap_record(db *d, const db_entry *e) {
    (void)d;
    size_t klen;
    const char *k = db_entry_key(e, &klen);
    assert_true(snap_nseen < 64);
    snprintf(snap_seen[snap_nseen++], 16, "%.*s", (int)klen, k);
}

static int snap_saw(const char *k) {
    int n = 0;
    for (int i = 0; i < snap_nseen; i++)
        n += strcmp(snap_seen[i], k) == 0;
    return n;
}

typedef struct snap_scan {
    int claimed;
} snap_scan;

static void snap_claim_fn(void *ctx, const db_entry *e) {
    snap_scan *s = ctx;
    if (db_snapshot_claim(e)) {
        s->claimed++;
        snap_record(NULL, e);
    }
}

static void test_snapshot(void **state) {
    (void)state;
    db *d = db_new();
    for (int round = 0; round < 3; round++) { /* the flip works snapshot after snapshot */
        db_flush(d);
        db_set_string(d, "a", 1, "1", 1, 0);
        db_set_string(d, "b", 1, "2", 1, 0);
        db_set_string(d, "c", 1, "3", 1, 0);
        db_set_string(d, "d", 1, "4", 1, 0);
        db_set_string(d, "e", 1, "5", 1, 0);
        snap_nseen = 0;
        db_snapshot_begin(snap_record);
        /* before a change, a delete, an expire, a rename (both names), a lookup: saved once */
        db_set_string(d, "a", 1, "x", 1, 0);
        db_set_string(d, "a", 1, "y", 1, 0);
        db_delete(d, "b", 1);
        db_set_expire(d, "c", 1, INT64_C(4102444800000));
        db_rename(d, "d", 1, "e", 1, 0);
        assert_non_null(db_find(d, "e", 1, 0, NULL)); /* now the renamed d: already saved */
        db_set_string(d, "new", 3, "n", 1, 0);        /* created after begin: never saved */
        db_set_string(d, "new", 3, "m", 1, 0);
        assert_int_equal(snap_nseen, 5);
        assert_int_equal(snap_saw("a") + snap_saw("b") + snap_saw("c"), 3);
        assert_int_equal(snap_saw("d") + snap_saw("e"), 2);
        assert_int_equal(snap_saw("new"), 0);
        /* the walk claims only what is left: nothing here */
        snap_scan sc = {0};
        uint64_t cur = 0;
        do
            cur = db_scan(d, cur, 10, snap_claim_fn, &sc);
        while (cur);
        assert_int_equal(sc.claimed, 0);
        db_snapshot_end(&d, 1, 1);
    }
    /* an abandoned snapshot: the next one still sees every key unsaved */
    db_snapshot_begin(snap_record);
    snap_nseen = 0;
    db_set_string(d, "a", 1, "z", 1, 0);
    db_snapshot_end(&d, 1, 0);
    snap_nseen = 0;
    db_snapshot_begin(snap_record);
    snap_scan sc = {0};
    uint64_t cur = 0;
    do
        cur = db_scan(d, cur, 10, snap_claim_fn, &sc);
    while (cur);
    assert_int_equal((size_t)sc.claimed, db_size(d));
    /* a flush saves whatever is left first */
    db_snapshot_end(&d, 1, 1);
    db_snapshot_begin(snap_record);
    snap_nseen = 0;
    size_t n = db_size(d);
    db_flush(d);
    assert_int_equal((size_t)snap_nseen, n);
    db_snapshot_end(&d, 1, 1);
    db_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_overwrite),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_expire_lazy),
        cmocka_unit_test(test_expire_active),
        cmocka_unit_test(test_persist),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_model_stress),
        cmocka_unit_test(test_scan_exactly_once),
        cmocka_unit_test(test_scan_while_resizing),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_string_resize),
        cmocka_unit_test(test_lru),
        cmocka_unit_test(test_lru_clock),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_hash_seed),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_swap_index_stats),
        cmocka_unit_test(test_change_hook),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
