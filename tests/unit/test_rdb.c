#include "rdb/rdb.h"

#include "alloc/alloc.h"
#include "db/intset.h"
#include "db/quicklist.h"
#include "db/t_list.h"

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
    db_register_type(DB_TYPE_HASH, &hash_type_ops);
    db_register_type(DB_TYPE_LIST, &list_type_ops);
    db_register_type(DB_TYPE_SET, &set_type_ops);
    static const db_type_ops zset_ops = {zset_free_value, zset_mem_usage, zset_dup_value,
                                         zset_length_value, NULL};
    db_register_type(DB_TYPE_ZSET, &zset_ops);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_flipped),
        cmocka_unit_test(test_dump_payload),
    };
    return cmocka_run_group_tests(tests, setup_all, NULL);
}
