#include "rdb/rdb.h"

#include "alloc/alloc.h"
#include "db/types.h"
#include "db/intset.h"
#include "db/quicklist.h"
#include "db/t_list.h"
#include "rdb/rdb_format.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static rdb_limits lim;

static int setup_all(void **state) {
    (void)state;
    uint8_t seed[16] = {1, 2, 3};
    db_set_hash_seed(seed);
    db_register_types();
    rdb_limits_default(&lim);
    return 0;
}

static void test_crc64_vector(void **state) {
    (void)state;
    assert_true(rdb_crc64(0, "123456789", 9) == UINT64_C(0xe9c6d914c4b8d9ca));
    /* incremental = whole, across the 8-byte slicing boundary */
    const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
    uint64_t whole = rdb_crc64(0, s, strlen(s));
    for (size_t cut = 0; cut <= strlen(s); cut++)
        assert_true(rdb_crc64(rdb_crc64(0, s, cut), s + cut, strlen(s) - cut) == whole);
}

/* ---- a db with every type and encoding ---- */

static void put_str(db *d, const char *k, const void *v, size_t vlen) {
    db_set_string(d, k, strlen(k), v, vlen, 0);
}

static void put_hash(db *d, const char *k, int n, int vlen) {
    hash_value h;
    hash_init(&h);
    for (int i = 0; i < n; i++) {
        char f[32], v[256];
        snprintf(f, sizeof(f), "f%d", i);
        memset(v, 'a' + i % 26, (size_t)vlen);
        snprintf(v, sizeof(v) > (size_t)vlen ? (size_t)vlen + 1 : sizeof(v), "%d", i * 7);
        hash_set(&h, &lim.hash, f, strlen(f), v,
                 strlen(v) < (size_t)vlen ? (size_t)vlen : strlen(v));
    }
    db_add_object(d, k, strlen(k), DB_TYPE_HASH, h.enc, h.ptr);
}

static void put_list(db *d, const char *k, int n, size_t big) {
    quicklist *ql = ql_new(-2);
    for (int i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), i % 3 ? "item-%d" : "%d", i);
        ql_push(ql, QL_TAIL, v, (size_t)len);
    }
    if (big) {
        char *b = malloc(big);
        memset(b, 'z', big);
        ql_push(ql, QL_HEAD, b, big);
        free(b);
    }
    db_add_object(d, k, strlen(k), DB_TYPE_LIST, DB_ENC_QUICKLIST, ql);
}

static void put_set(db *d, const char *k, int n, int ints) {
    set_obj s = {0};
    for (int i = 0; i < n; i++) {
        char m[32];
        int len = snprintf(m, sizeof(m), ints ? "%d" : "m%d", ints ? i * 1000 - 5000 : i);
        if (!s.ptr) s = set_new_for(m, (size_t)len, (size_t)n, &lim.set);
        set_add(&s, m, (size_t)len, &lim.set);
    }
    db_add_object(d, k, strlen(k), DB_TYPE_SET, s.enc, s.ptr);
}

static void put_zset(db *d, const char *k, int n) {
    zobj z;
    zset_create(&z, 4, &lim.zset);
    for (int i = 0; i < n; i++) {
        char m[32];
        int len = snprintf(m, sizeof(m), "z%d", i);
        double sc = i == 0 ? -INFINITY : i == 1 ? INFINITY : i * 1.5 - 10;
        int out;
        zset_add(&z, sc, m, (size_t)len, 0, &out, NULL, &lim.zset);
    }
    db_add_object(d, k, strlen(k), DB_TYPE_ZSET, z.enc, z.ptr);
}

static db *make_db(void) {
    db *d = db_new();
    put_str(d, "s:small", "hello", 5);
    put_str(d, "s:int8", "-12", 3);
    put_str(d, "s:int16", "12345", 5);
    put_str(d, "s:int32", "-2000000000", 11);
    put_str(d, "s:bigint", "123456789012345", 15);
    put_str(d, "s:zeroes", "007", 3);
    put_str(d, "s:empty", "", 0);
    char big[3000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + (i / 100) % 3);
    put_str(d, "s:lzf", big, sizeof(big));
    unsigned char rnd[100];
    for (size_t i = 0; i < sizeof(rnd); i++)
        rnd[i] = (unsigned char)(i * 131 + 7);
    put_str(d, "s:binary", rnd, sizeof(rnd));
    put_str(d, "12", "key that is an integer", 22);
    put_hash(d, "h:lp", 5, 4);
    put_hash(d, "h:ht", 300, 10);
    put_hash(d, "h:longval", 3, 200);
    put_list(d, "l:small", 5, 0);
    put_list(d, "l:many", 3000, 0);
    put_list(d, "l:bigelem", 10, 20000);
    put_set(d, "set:int", 50, 1);
    put_set(d, "set:lp", 20, 0);
    put_set(d, "set:ht", 400, 0);
    put_set(d, "set:bigint", 1000, 1);
    put_zset(d, "z:lp", 10);
    put_zset(d, "z:sl", 500);
    db_set_expire(d, "s:small", 7, INT64_C(4102444800000));
    db_set_expire(d, "h:ht", 4, INT64_C(4102444800123));
    return d;
}

/* A canonical text of a value: equal for equal contents whatever the encoding. */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *canon(db *d, const char *key) {
    db_entry *e = db_peek(d, key, strlen(key));
    assert_non_null(e);
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    char **items = malloc(sizeof(char *) * 20000);
    size_t n = 0;
    len += (size_t)snprintf(out + len, cap - len, "%s|%lld|", db_type_name(db_entry_type(e)),
                            (long long)db_get_expire(d, key, strlen(key)));
    switch (db_entry_type(e)) {
    case DB_TYPE_STRING: {
        size_t vl;
        const char *v = db_entry_str(e, &vl);
        for (size_t i = 0; i < vl; i++)
            len += (size_t)snprintf(out + len, cap - len, "%02x", (unsigned char)v[i]);
        break;
    }
    case DB_TYPE_HASH: {
        hash_value h = {db_entry_encoding(e), db_entry_ptr(e)};
        hash_iter it;
        hash_str f, v;
        hash_iter_init(&h, &it);
        while (hash_iter_next(&it, &f, &v)) {
            char *s = malloc(f.len + v.len + 2);
            memcpy(s, f.p, f.len);
            s[f.len] = '=';
            memcpy(s + f.len + 1, v.p, v.len);
            s[f.len + v.len + 1] = 0;
            items[n++] = s;
        }
        break;
    }
    case DB_TYPE_SET: {
        set_obj so = {db_entry_ptr(e), db_entry_encoding(e)};
        set_iter it;
        set_member m;
        set_iter_init(&so, &it);
        while (set_iter_next(&it, &m)) {
            char *s = malloc(m.len + 1);
            memcpy(s, m.p, m.len);
            s[m.len] = 0;
            items[n++] = s;
        }
        break;
    }
    case DB_TYPE_LIST: {
        ql_iter it;
        ql_entry qe;
        ql_iter_init(db_entry_ptr(e), &it, 1);
        while (ql_iter_next(&it, &qe)) {
            len += (size_t)snprintf(out + len, cap - len, "%.*s,", (int)(qe.len > 50 ? 50 : qe.len),
                                    qe.s);
            len += (size_t)snprintf(out + len, cap - len, "%zu;", qe.len);
        }
        ql_iter_release(&it);
        break;
    }
    case DB_TYPE_ZSET: {
        zobj z = {db_entry_encoding(e), db_entry_ptr(e)};
        zset_iter it;
        zset_iter_at_rank(&it, &z, 0, 0);
        const unsigned char *m;
        size_t ml;
        double sc;
        while (zset_iter_get(&it, &m, &ml, &sc)) {
            len += (size_t)snprintf(out + len, cap - len, "%.*s:%.17g,", (int)ml, m, sc);
            zset_iter_next(&it);
        }
        break;
    }
    }
    qsort(items, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s,", items[i]);
        free(items[i]);
    }
    free(items);
    return out;
}

static const char *all_keys[] = {
    "s:small",  "s:int8", "s:int16", "s:int32",    "s:bigint",  "s:zeroes", "s:empty", "s:lzf",
    "s:binary", "12",     "h:lp",    "h:ht",       "h:longval", "l:small",  "l:many",  "l:bigelem",
    "set:int",  "set:lp", "set:ht",  "set:bigint", "z:lp",      "z:sl"};
#define NKEYS (sizeof(all_keys) / sizeof(all_keys[0]))

static void save_db(db *d, rdb_out *o) {
    rdb_out_init(o, 1);
    rdb_write_header(o, "7.0.15", 1700000000, 1000000);
    rdb_write_selectdb(o, 0, db_size(d), db_expires_size(d));
    for (size_t i = 0; i < NKEYS; i++) {
        db_entry *e = db_peek(d, all_keys[i], strlen(all_keys[i]));
        rdb_write_key(o, e, db_get_expire(d, all_keys[i], strlen(all_keys[i])));
    }
    rdb_write_eof(o);
}

/* Loads buf into a new db, offering the reader `step` more bytes each time it needs more.
 * Returns the db, or NULL with *rc the failing code. */
static db *load(const unsigned char *buf, size_t len, size_t step, int *rc) {
    rdb_reader r;
    rdb_reader_init(&r, &lim);
    db *d = db_new();
    size_t pos = 0, avail = step < len ? step : len;
    for (;;) {
        rdb_item it;
        size_t used;
        int x = rdb_read_item(&r, buf + pos, avail - pos, &used, &it);
        if (x == RDB_NEED_MORE) {
            assert_true(r.need > avail - pos);
            if (avail == len) {
                *rc = x;
                db_free(d);
                return NULL;
            }
            avail = avail + step < len ? avail + step : len;
            continue;
        }
        if (x == RDB_ERR) {
            assert_true(strstr(r.err, "offset") != NULL);
            *rc = x;
            db_free(d);
            return NULL;
        }
        pos += used;
        if (it.kind == RDB_ITEM_KEY) {
            if (it.val.type == DB_TYPE_STRING) {
                db_set_string(d, it.key, it.klen, it.val.str, it.val.slen, 0);
            } else {
                db_add_object(d, it.key, it.klen, it.val.type, it.val.enc, it.val.ptr);
                it.val.ptr = NULL;
            }
            if (it.expire_ms >= 0) db_set_expire(d, it.key, it.klen, it.expire_ms);
        }
        int kind = it.kind;
        rdb_item_clear(&it);
        if (kind == RDB_ITEM_EOF) break;
    }
    *rc = RDB_OK;
    return d;
}

static void test_round_trip(void **state) {
    (void)state;
    db *d = make_db();
    rdb_out o;
    save_db(d, &o);
    assert_memory_equal(o.buf, "REDIS0010", 9);
    size_t steps[] = {1, 7, 4096, o.len};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        int rc;
        db *d2 = load(o.buf, o.len, steps[s], &rc);
        assert_non_null(d2);
        assert_int_equal(db_size(d2), db_size(d));
        for (size_t i = 0; i < NKEYS; i++) {
            char *a = canon(d, all_keys[i]), *b = canon(d2, all_keys[i]);
            assert_string_equal(a, b);
            free(a);
            free(b);
        }
        db_free(d2);
    }
    rdb_out_deinit(&o);
    db_free(d);
}

static void test_truncated_and_flipped(void **state) {
    (void)state;
    db *d = db_new();
    put_str(d, "s:lzf", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64);
    put_hash(d, "h:lp", 3, 4);
    put_list(d, "l:small", 5, 0);
    put_set(d, "set:int", 5, 1);
    put_zset(d, "z:lp", 4);
    put_zset(d, "z:sl", 200);
    rdb_out o;
    rdb_out_init(&o, 1);
    rdb_write_header(&o, "7.0.15", 1, 1);
    rdb_write_selectdb(&o, 0, 6, 0);
    const char *keys[] = {"s:lzf", "h:lp", "l:small", "set:int", "z:lp", "z:sl"};
    for (size_t i = 0; i < 6; i++)
        rdb_write_key(&o, db_peek(d, keys[i], strlen(keys[i])), -1);
    rdb_write_eof(&o);
    int rc;
    /* every proper prefix: "need more", never an error or an early end */
    for (size_t n = 0; n < o.len; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan catches an over-read */
        memcpy(copy, o.buf, n);
        assert_null(load(copy, n, n ? n : 1, &rc));
        assert_int_equal(rc, RDB_NEED_MORE);
        free(copy);
    }
    /* every flipped bit: refused (an error, or a length now reaching past the end) */
    for (size_t i = 0; i < o.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            unsigned char *copy = malloc(o.len);
            memcpy(copy, o.buf, o.len);
            copy[i] ^= (unsigned char)(1 << bit);
            db *d2 = load(copy, o.len, o.len, &rc);
            if (d2) fail_msg("flip of bit %d at %zu loaded", bit, i);
            free(copy);
        }
    }
    rdb_out_deinit(&o);
    db_free(d);
}

static void test_dump_payload(void **state) {
    (void)state;
    db *d = make_db();
    for (size_t i = 0; i < NKEYS; i++) {
        rdb_out o;
        rdb_out_init(&o, 1);
        rdb_dump_payload(&o, db_peek(d, all_keys[i], strlen(all_keys[i])));
        rdb_value v;
        const char *err = NULL;
        assert_int_equal(rdb_restore_payload(o.buf, o.len, &lim, &v, &err), RDB_OK);
        db *d2 = db_new();
        if (v.type == DB_TYPE_STRING) {
            db_set_string(d2, all_keys[i], strlen(all_keys[i]), v.str, v.slen, 0);
        } else {
            db_add_object(d2, all_keys[i], strlen(all_keys[i]), v.type, v.enc, v.ptr);
            v.ptr = NULL;
        }
        rdb_value_free(&v);
        if (db_get_expire(d, all_keys[i], strlen(all_keys[i])) >= 0)
            db_set_expire(d2, all_keys[i], strlen(all_keys[i]),
                          db_get_expire(d, all_keys[i], strlen(all_keys[i])));
        char *a = canon(d, all_keys[i]), *b = canon(d2, all_keys[i]);
        assert_string_equal(a, b);
        free(a);
        free(b);
        db_free(d2);
        /* a flipped byte fails the checksum */
        o.buf[0] ^= 1;
        assert_int_equal(rdb_restore_payload(o.buf, o.len, &lim, &v, &err), RDB_ERR);
        assert_string_equal(err, "DUMP payload version or checksum are wrong");
        rdb_out_deinit(&o);
    }
    db_free(d);
    /* Redis's documentation: SET mykey 10, DUMP mykey (RDB version 9) */
    static const unsigned char doc[] = "\x00\xc0\n\t\x00\xbem\x06\x89Z(\x00\n";
    rdb_value v;
    const char *err;
    assert_int_equal(rdb_restore_payload(doc, sizeof(doc) - 1, &lim, &v, &err), RDB_OK);
    assert_int_equal(v.type, DB_TYPE_STRING);
    assert_int_equal(v.slen, 2);
    assert_memory_equal(v.str, "10", 2);
    rdb_value_free(&v);
    /* and memkv writes the same bytes for it, apart from the version */
    db *d3 = db_new();
    put_str(d3, "mykey", "10", 2);
    rdb_out o;
    rdb_out_init(&o, 1);
    rdb_dump_payload(&o, db_peek(d3, "mykey", 5));
    assert_int_equal(o.len, 13);
    assert_memory_equal(o.buf, "\x00\xc0\n\n\x00", 5);
    rdb_out_deinit(&o);
    db_free(d3);
}

/* The Redis 7.0 estimate's building blocks (the whole is checked against redis-server in
 * tests/integration/test_analyze_rdb.py). */
static void test_redis_cost(void **state) {
    (void)state;
    /* jemalloc 5.3 size classes */
    static const size_t in[] = {1, 8, 9, 16, 17, 128, 129, 160, 161, 257, 1025, 14337, 16385};
    static const size_t out[] = {8, 8, 16, 16, 32, 128, 160, 160, 192, 320, 1280, 16384, 20480};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        assert_int_equal(rdb_cost_je_class(in[i]), out[i]);
    /* sds: a 1-byte header under 32 bytes, 3 under 256 */
    assert_int_equal(rdb_cost_sds(5), 8);   /* 1 + 5 + 1 */
    assert_int_equal(rdb_cost_sds(31), 48); /* 1 + 31 + 1 = 33 */
    assert_int_equal(rdb_cost_sds(32), 48); /* 3 + 32 + 1 = 36 */
    /* strings: shared integers, int robj, embstr up to 44 bytes, raw beyond */
    rdb_cost c;
    rdb_cost_reset(&c);
    rdb_limits limits;
    rdb_limits_default(&limits);
    assert_int_equal(rdb_cost_value(&c, 0, "9999", 4, &limits), 0);
    assert_int_equal(rdb_cost_value(&c, 0, "10000", 5, &limits), 16);
    assert_int_equal(rdb_cost_value(&c, 0, "007", 3, &limits), 32); /* not an integer to Redis */
    char s[64];
    memset(s, 'x', sizeof(s));
    assert_int_equal(rdb_cost_value(&c, 0, s, 44, &limits), 64);      /* 16 + 3 + 44 + 1 */
    assert_int_equal(rdb_cost_value(&c, 0, s, 45, &limits), 16 + 64); /* robj + 3 + 45 + 1 */
    assert_string_equal(rdb_cost_string_encoding(s, 45), "raw");
    assert_string_equal(rdb_cost_string_encoding("-12", 3), "int");
    /* a key: dictEntry 24 -> 32, its sds, an expires entry */
    assert_int_equal(rdb_cost_key(5, 0), 32 + 8);
    assert_int_equal(rdb_cost_key(5, 1), 32 + 8 + 32);
    /* bucket arrays: 8 bytes times the power of two >= n, at least 4 */
    assert_int_equal(rdb_cost_buckets(0), 0);
    assert_int_equal(rdb_cost_buckets(3), 32);
    assert_int_equal(rdb_cost_buckets(1000), 8192);
    /* a listpack blob is taken as the file holds it */
    rdb_cost_observe(&c, RDB_OBS_BEGIN, NULL, 0);
    rdb_cost_observe(&c, RDB_OBS_BLOB, (const unsigned char *)s, 50);
    assert_int_equal(rdb_cost_value(&c, 16, NULL, 0, &limits), 16 + 64);
    assert_string_equal(rdb_type_encoding_name(16), "hash/listpack");
}

/* ---- the shortcuts of loading: a value taken as it is in the file, or built by encoding ---- */

/* A DUMP payload of type `type` whose body is the string blob[0..len) (len < 16384). */
static size_t blob_payload(unsigned char *out, int type, const void *blob, size_t len) {
    size_t n = 0;
    out[n++] = (unsigned char)type;
    if (len < 64) {
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = (unsigned char)(0x40 | (len >> 8));
        out[n++] = (unsigned char)(len & 0xff);
    }
    memcpy(out + n, blob, len);
    n += len;
    out[n++] = RDB_VERSION & 0xff;
    out[n++] = RDB_VERSION >> 8;
    uint64_t crc = rdb_crc64(0, out, n);
    for (int i = 0; i < 8; i++)
        out[n++] = (unsigned char)(crc >> (8 * i));
    return n;
}

/* A listpack hash of n fields "f<i>" (field `dup` repeats field 0 when >= 0) restored. */
static int restore_lp_hash(int n, int dup, rdb_value *v) {
    unsigned char *lp = lp_new(ALLOC_SUB_OTHER);
    for (int i = 0; i < n; i++) {
        char f[16];
        int len = snprintf(f, sizeof(f), "f%d", i == dup ? 0 : i);
        lp = lp_append(ALLOC_SUB_OTHER, lp, f, (size_t)len);
        lp = lp_append_int(ALLOC_SUB_OTHER, lp, i);
    }
    static unsigned char pl[16384];
    size_t len = blob_payload(pl, RDB_TYPE_HASH_LISTPACK, lp, lp_bytes(lp));
    lp_free(ALLOC_SUB_OTHER, lp);
    const char *err = NULL;
    return rdb_restore_payload(pl, len, &lim, v, &err);
}

static void test_listpack_hash_fields(void **state) {
    (void)state;
    rdb_value v;
    int sizes[] = {1, 2, 20, 128, 129};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int n = sizes[i];
        assert_int_equal(restore_lp_hash(n, -1, &v), RDB_OK);
        assert_int_equal(v.type, DB_TYPE_HASH);
        /* kept as it is up to hash-max-listpack-entries, rebuilt as a hashtable beyond */
        assert_int_equal(v.enc, n <= 128 ? DB_ENC_LISTPACK : DB_ENC_HASHTABLE);
        hash_value h = {v.enc, v.ptr};
        assert_int_equal(hash_len(&h), n);
        rdb_value_free(&v);
        /* a repeated field, first or last: refused, whatever the size */
        if (n > 1) {
            assert_int_equal(restore_lp_hash(n, 1, &v), RDB_ERR);
            assert_int_equal(restore_lp_hash(n, n - 1, &v), RDB_ERR);
        }
    }
}

static int restore_intset(unsigned width, const int64_t *vals, size_t n, rdb_value *v) {
    unsigned char blob[8 + 8 * 16];
    uint32_t hdr[2] = {width, (uint32_t)n};
    memcpy(blob, hdr, 8);
    for (size_t i = 0; i < n; i++)
        memcpy(blob + 8 + i * width, &vals[i], width); /* little-endian: the low bytes */
    unsigned char pl[256];
    size_t len = blob_payload(pl, RDB_TYPE_SET_INTSET, blob, 8 + n * width);
    const char *err = NULL;
    return rdb_restore_payload(pl, len, &lim, v, &err);
}

static void test_intset_taken_as_is(void **state) {
    (void)state;
    rdb_value v;
    int64_t small[] = {-5, 1, 300}, wide[] = {-5, 1, 70000};
    /* the smallest width: taken as it is; a wider one than needed (Redis never narrows after
     * removals): rebuilt, to the width memkv would have */
    unsigned cases[][2] = {{2, 2}, {8, 2}};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(restore_intset(cases[i][0], small, 3, &v), RDB_OK);
        assert_int_equal(v.enc, DB_ENC_INTSET);
        assert_int_equal(intset_width(v.ptr), cases[i][1]);
        assert_int_equal(intset_len(v.ptr), 3);
        assert_true(intset_get(v.ptr, 0) == -5 && intset_get(v.ptr, 2) == 300);
        rdb_value_free(&v);
    }
    assert_int_equal(restore_intset(4, wide, 3, &v), RDB_OK);
    assert_int_equal(intset_width(v.ptr), 4);
    assert_true(intset_get(v.ptr, 2) == 70000);
    rdb_value_free(&v);
    /* out of order or repeated: refused */
    int64_t bad[] = {1, 1, 2};
    assert_int_equal(restore_intset(2, bad, 3, &v), RDB_ERR);
    /* over set-max-intset-entries: a hashtable */
    rdb_limits saved = lim;
    lim.set.max_intset_entries = 2;
    assert_int_equal(restore_intset(2, small, 3, &v), RDB_OK);
    assert_int_not_equal(v.enc, DB_ENC_INTSET);
    set_obj so = {v.ptr, v.enc};
    assert_int_equal(set_card(&so), 3);
    rdb_value_free(&v);
    lim = saved;
}

/* A listpack of n elements, each `width` bytes of one letter. */
static unsigned char *lp_of(int n, size_t width) {
    unsigned char *lp = lp_new(ALLOC_SUB_OTHER);
    char e[256];
    memset(e, 'a', sizeof(e));
    for (int i = 0; i < n; i++)
        lp = lp_append(ALLOC_SUB_OTHER, lp, e, width);
    return lp;
}

/* A quicklist's nodes as the file holds them (Redis's node format is memkv's): taken whole
 * when within list-max-listpack-size, split element by element when not. */
static void test_list_nodes_taken_whole(void **state) {
    (void)state;
    unsigned char *small = lp_of(10, 5), *big = lp_of(200, 50); /* 10 KB: over -2's 8 KB */
    size_t ls = lp_bytes(small);
    unsigned char *p = malloc(2 * ls + lp_bytes(big) + 64);
    size_t n = 0;
    p[n++] = RDB_TYPE_LIST_QUICKLIST_2;
    p[n++] = 3; /* nodes */
    const unsigned char *nodes[] = {small, big, small};
    for (int k = 0; k < 3; k++) {
        size_t len = lp_bytes(nodes[k]);
        p[n++] = RDB_QUICKLIST_PACKED;
        if (len < 16384) { /* RDB's 14-bit length */
            p[n++] = (unsigned char)(0x40 | (len >> 8));
            p[n++] = (unsigned char)(len & 0xff);
        } else { /* 32-bit, big-endian */
            p[n++] = 0x80;
            for (int i = 3; i >= 0; i--)
                p[n++] = (unsigned char)(len >> (8 * i));
        }
        memcpy(p + n, nodes[k], len);
        n += len;
    }
    p[n++] = RDB_VERSION & 0xff;
    p[n++] = RDB_VERSION >> 8;
    uint64_t crc = rdb_crc64(0, p, n);
    for (int i = 0; i < 8; i++)
        p[n++] = (unsigned char)(crc >> (8 * i));
    rdb_value v;
    const char *err;
    int rc = rdb_restore_payload(p, n, &lim, &v, &err);
    if (rc != RDB_OK) fprintf(stderr, "restore: %s\n", err);
    assert_int_equal(rc, RDB_OK);
    quicklist *ql = v.ptr;
    assert_int_equal(ql_count(ql), 220);
    assert_int_equal(ql_check(ql, 1), 0);
    /* the first small node whole, the big one's elements pushed after it (into it, then a new
     * node: 8 KB each at most), the last small node whole */
    assert_int_equal(ql_nodes(ql), 3);
    const ql_node *last = ql_first_node(ql);
    while (ql_next_node(last))
        last = ql_next_node(last);
    assert_int_equal(lp_bytes(ql_node_listpack(last)), ls);
    assert_memory_equal(ql_node_listpack(last), small, ls);
    rdb_value_free(&v);
    free(p);
    lp_free(ALLOC_SUB_OTHER, small);
    lp_free(ALLOC_SUB_OTHER, big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_nodes_taken_whole),
        cmocka_unit_test(test_crc64_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_flipped),
        cmocka_unit_test(test_dump_payload),
        cmocka_unit_test(test_redis_cost),
        cmocka_unit_test(test_listpack_hash_fields),
        cmocka_unit_test(test_intset_taken_as_is),
    };
    return cmocka_run_group_tests(tests, setup_all, NULL);
}
