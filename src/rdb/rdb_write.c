/* RDB writer: see rdb.h. Byte for byte what Redis 7.0's rdbSave* functions produce for the
 * same value in the same encoding (strings that are small integers int-encoded, strings over
 * 20 bytes LZF-compressed when that saves more than 4 bytes, compact encodings stored as their
 * blobs), so DUMP payloads and files compare equal with redis-server's. */
#include "rdb/rdb.h"

#include <lzf.h>
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "db/intset.h"
#include "db/quicklist.h"
#include "rdb/rdb_format.h"
#include "util/util.h"

void rdb_out_init(rdb_out *o, int compress) {
    memset(o, 0, sizeof(*o));
    o->compress = compress;
    o->sub = ALLOC_SUB_OTHER;
}

void rdb_out_deinit(rdb_out *o) {
    alloc_free(o->sub, o->buf);
    memset(o, 0, sizeof(*o));
}

static void out_fold_crc(rdb_out *o) {
    o->crc = rdb_crc64(o->crc, o->buf + o->crc_at, o->len - o->crc_at);
    o->crc_at = o->len;
}

void rdb_out_drain(rdb_out *o) {
    out_fold_crc(o);
    o->len = 0;
    o->crc_at = 0;
}

unsigned char *rdb_out_detach(rdb_out *o, size_t *len) {
    unsigned char *b = o->buf;
    *len = o->len;
    o->buf = NULL;
    o->len = o->cap = o->crc_at = 0;
    return b;
}

static unsigned char *out_room(rdb_out *o, size_t n) {
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < n)
            cap *= 2;
        o->buf = alloc_realloc(o->sub, o->buf, cap);
        o->cap = cap;
    }
    unsigned char *p = o->buf + o->len;
    o->len += n;
    o->total += n;
    return p;
}

static void out_raw(rdb_out *o, const void *p, size_t n) {
    if (n) memcpy(out_room(o, n), p, n);
}

static void out_byte(rdb_out *o, unsigned char b) {
    *out_room(o, 1) = b;
}

static void out_len(rdb_out *o, uint64_t len) {
    if (len < 64) {
        out_byte(o, (unsigned char)len);
    } else if (len < 16384) {
        unsigned char *p = out_room(o, 2);
        p[0] = (unsigned char)(RDB_LEN_14BIT << 6 | (len >> 8));
        p[1] = (unsigned char)len;
    } else if (len <= UINT32_MAX) {
        unsigned char *p = out_room(o, 5);
        p[0] = RDB_LEN_32BIT;
        for (int i = 0; i < 4; i++)
            p[1 + i] = (unsigned char)(len >> (24 - 8 * i));
    } else {
        unsigned char *p = out_room(o, 9);
        p[0] = RDB_LEN_64BIT;
        for (int i = 0; i < 8; i++)
            p[1 + i] = (unsigned char)(len >> (56 - 8 * i));
    }
}

static void out_le(rdb_out *o, uint64_t v, int bytes) {
    unsigned char *p = out_room(o, (size_t)bytes);
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Redis's rdbEncodeInteger: values that fit 8, 16 or 32 bits. */
static int out_try_int(rdb_out *o, long long v) {
    if (v >= -128 && v <= 127) {
        out_byte(o, RDB_ENC_HDR | RDB_ENC_INT8);
        out_le(o, (uint64_t)v, 1);
    } else if (v >= -32768 && v <= 32767) {
        out_byte(o, RDB_ENC_HDR | RDB_ENC_INT16);
        out_le(o, (uint64_t)v, 2);
    } else if (v >= -2147483648LL && v <= 2147483647LL) {
        out_byte(o, RDB_ENC_HDR | RDB_ENC_INT32);
        out_le(o, (uint64_t)v, 4);
    } else {
        return 0;
    }
    return 1;
}

static int out_try_lzf(rdb_out *o, const void *s, size_t len) {
    if (len <= 4) return 0;
    size_t room = len - 4;
    size_t mark = o->len;
    /* Compress straight into the buffer after the largest header (1 + 9 + 9 bytes); the
     * header is then written in front and the data moved down if it came out shorter. */
    unsigned char *dst = out_room(o, 19 + room);
    unsigned int clen = lzf_compress(s, (unsigned int)len, dst + 19, (unsigned int)room);
    o->len = mark;
    o->total -= 19 + room;
    if (clen == 0) return 0;
    unsigned char hdr[19];
    rdb_out tmp = {.buf = hdr, .cap = sizeof(hdr)};
    out_byte(&tmp, RDB_ENC_HDR | RDB_ENC_LZF);
    out_len(&tmp, clen);
    out_len(&tmp, len);
    memmove(o->buf + mark + tmp.len, o->buf + mark + 19, clen);
    memcpy(o->buf + mark, hdr, tmp.len);
    o->len = mark + tmp.len + clen;
    o->total += tmp.len + clen;
    return 1;
}

/* Redis's rdbSaveRawString. */
static void out_string(rdb_out *o, const void *s, size_t len) {
    if (len <= 11) {
        long long v;
        if (util_parse_ll(s, len, &v) == 0 && out_try_int(o, v)) return;
    }
    if (o->compress && len > 20 && len <= UINT32_MAX && out_try_lzf(o, s, len)) return;
    out_len(o, len);
    out_raw(o, s, len);
}

static void out_double(rdb_out *o, double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    out_le(o, bits, 8);
}

void rdb_write_aux(rdb_out *o, const char *key, const char *val) {
    out_byte(o, RDB_OPCODE_AUX);
    out_string(o, key, strlen(key));
    out_string(o, val, strlen(val));
}

static void write_aux_int(rdb_out *o, const char *key, long long v) {
    char buf[LP_INTBUF];
    util_format_ll(buf, v);
    rdb_write_aux(o, key, buf);
}

void rdb_write_header(rdb_out *o, const char *version, int64_t now_sec, uint64_t used_mem) {
    char sig[16];
    int n = snprintf(sig, sizeof(sig), "REDIS%04d", RDB_VERSION);
    out_raw(o, sig, (size_t)n);
    rdb_write_aux(o, "redis-ver", version);
    write_aux_int(o, "redis-bits", (long long)(sizeof(void *) * 8));
    write_aux_int(o, "ctime", (long long)now_sec);
    write_aux_int(o, "used-mem", (long long)used_mem);
    write_aux_int(o, "aof-base", 0);
}

void rdb_write_selectdb(rdb_out *o, int dbnum, uint64_t keys, uint64_t expires) {
    out_byte(o, RDB_OPCODE_SELECTDB);
    out_len(o, (uint64_t)dbnum);
    out_byte(o, RDB_OPCODE_RESIZEDB);
    out_len(o, keys);
    out_len(o, expires);
}

static void write_hash(rdb_out *o, const db_entry *e) {
    hash_value h = {db_entry_encoding(e), db_entry_ptr(e)};
    if (h.enc == DB_ENC_LISTPACK) {
        out_string(o, h.ptr, lp_bytes(h.ptr));
        return;
    }
    out_len(o, hash_len(&h));
    hash_iter it;
    hash_str f, v;
    hash_iter_init(&h, &it);
    while (hash_iter_next(&it, &f, &v)) {
        out_string(o, f.p, f.len);
        out_string(o, v.p, v.len);
    }
}

static void write_set(rdb_out *o, const db_entry *e) {
    set_obj s = {db_entry_ptr(e), db_entry_encoding(e)};
    if (s.enc == DB_ENC_INTSET) {
        out_string(o, s.ptr, intset_blob_len(s.ptr));
        return;
    }
    out_len(o, set_card(&s));
    set_iter it;
    set_member m;
    set_iter_init(&s, &it);
    while (set_iter_next(&it, &m))
        out_string(o, m.p, m.len);
}

static void write_zset(rdb_out *o, const db_entry *e) {
    zobj z = {db_entry_encoding(e), db_entry_ptr(e)};
    if (z.enc == DB_ENC_LISTPACK) {
        out_string(o, z.ptr, lp_bytes(z.ptr));
        return;
    }
    /* From the tail, as Redis: loading then inserts every node at the head of its levels. */
    out_len(o, zset_length(&z));
    zset_iter it;
    zset_iter_at_rank(&it, &z, 0, 1);
    const unsigned char *m;
    size_t mlen;
    double score;
    while (zset_iter_get(&it, &m, &mlen, &score)) {
        out_string(o, m, mlen);
        out_double(o, score);
        zset_iter_next(&it);
    }
}

static void write_list(rdb_out *o, const db_entry *e) {
    const quicklist *ql = db_entry_ptr(e);
    out_len(o, ql_nodes(ql));
    for (const ql_node *n = ql_first_node(ql); n; n = ql_next_node(n)) {
        const unsigned char *lp = ql_node_listpack(n);
        out_len(o, RDB_QUICKLIST_PACKED);
        out_string(o, lp, lp_bytes(lp));
    }
}

static int value_rdb_type(const db_entry *e) {
    unsigned enc = db_entry_encoding(e);
    switch (db_entry_type(e)) {
    case DB_TYPE_HASH:
        return enc == DB_ENC_LISTPACK ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
    case DB_TYPE_LIST:
        return RDB_TYPE_LIST_QUICKLIST_2;
    case DB_TYPE_SET:
        return enc == DB_ENC_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
    case DB_TYPE_ZSET:
        return enc == DB_ENC_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
    default:
        return RDB_TYPE_STRING;
    }
}

static void write_value_body(rdb_out *o, const db_entry *e) {
    switch (db_entry_type(e)) {
    case DB_TYPE_HASH:
        write_hash(o, e);
        break;
    case DB_TYPE_LIST:
        write_list(o, e);
        break;
    case DB_TYPE_SET:
        write_set(o, e);
        break;
    case DB_TYPE_ZSET:
        write_zset(o, e);
        break;
    default: {
        size_t vlen;
        const char *v = db_entry_str(e, &vlen);
        out_string(o, v, vlen);
    }
    }
}

void rdb_write_key(rdb_out *o, const db_entry *e, int64_t expire_ms) {
    if (expire_ms >= 0) {
        out_byte(o, RDB_OPCODE_EXPIRETIME_MS);
        out_le(o, (uint64_t)expire_ms, 8);
    }
    size_t klen;
    const char *key = db_entry_key(e, &klen);
    out_byte(o, (unsigned char)value_rdb_type(e));
    out_string(o, key, klen);
    write_value_body(o, e);
}

void rdb_write_select_only(rdb_out *o, int dbnum) {
    out_byte(o, RDB_OPCODE_SELECTDB);
    out_len(o, (uint64_t)dbnum);
}

void rdb_write_eof_opcode(rdb_out *o) {
    out_byte(o, RDB_OPCODE_EOF);
}

void rdb_write_eof(rdb_out *o) {
    out_byte(o, RDB_OPCODE_EOF);
    out_fold_crc(o);
    out_le(o, o->crc, 8);
    o->crc_at = o->len; /* the checksum is not part of what it sums */
}

void rdb_dump_payload(rdb_out *o, const db_entry *e) {
    size_t start = o->len;
    out_byte(o, (unsigned char)value_rdb_type(e));
    write_value_body(o, e);
    out_le(o, RDB_VERSION, 2);
    uint64_t crc = rdb_crc64(0, o->buf + start, o->len - start);
    out_le(o, crc, 8);
}
