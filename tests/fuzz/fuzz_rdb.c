/* rdb (src/rdb): the RDB file reader and the DUMP payload decoder on untrusted bytes.
 *
 * Byte 0 picks the mode:
 *  - even: the rest is an RDB file, fed to the reader in pieces whose sizes come from byte 1
 *    (each piece an exact-size copy, so any read past it is an ASan report). On "need more"
 *    the reader must ask for more than it was given; every key it hands back goes into a db,
 *    is DUMPed and restored again (the payload must decode), and everything is freed: the
 *    subsystem counters end where they started.
 *  - odd: the rest is a DUMP payload, decoded with the checksum check off (so the fuzzer
 *    reaches the value decoders); a decoded value is DUMPed again and must restore.
 * Small encoding thresholds (from byte 1) make conversions happen while loading. */
#include "fuzz.h"

#include "alloc/alloc.h"
#include "db/types.h"
#include "db/t_list.h"
#include "rdb/rdb.h"

#include <string.h>

static int inited;

static void init_once(void) {
    if (inited) return;
    inited = 1;
    uint8_t seed[16] = {7};
    db_set_hash_seed(seed);
    db_register_types();
}

static void put(db *d, const char *key, size_t klen, rdb_value *v) {
    if (db_peek(d, key, klen)) db_delete(d, key, klen);
    if (v->type == DB_TYPE_STRING) {
        db_set_string(d, key, klen, v->str, v->slen, 0);
    } else {
        db_add_object(d, key, klen, v->type, v->enc, v->ptr);
        v->ptr = NULL;
    }
}

/* DUMP the key and restore the payload: the writer's output must always read back. */
static void redump(db *d, const char *key, size_t klen, const rdb_limits *lim) {
    rdb_out o;
    rdb_out_init(&o, 1);
    rdb_dump_payload(&o, db_peek(d, key, klen));
    rdb_value v;
    const char *err;
    FUZZ_CHECK(rdb_restore_payload(o.buf, o.len, lim, &v, &err) == RDB_OK);
    rdb_value_free(&v);
    rdb_out_deinit(&o);
}

static void fuzz_file(const uint8_t *data, size_t size, const rdb_limits *lim, size_t piece) {
    rdb_reader r;
    rdb_reader_init(&r, lim);
    /* --analyze-rdb's estimator rides along on inputs of odd size: any value it sees must not
     * crash it. (An observer turns off the reader's shortcuts, e.g. lists' nodes taken whole,
     * so inputs of even size run without it.) */
    rdb_cost cost;
    rdb_cost_reset(&cost);
    if (size & 1) {
        r.observe = rdb_cost_observe;
        r.observe_ctx = &cost;
    }
    db *d = db_new();
    size_t pos = 0, avail = piece < size ? piece : size;
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = avail - pos;
        unsigned char *copy = malloc(n ? n : 1);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, data + pos, n);
        rdb_item it;
        size_t used;
        int rc = rdb_read_item(&r, copy, n, &used, &it);
        free(copy);
        if (rc == RDB_NEED_MORE) {
            FUZZ_CHECK(r.need > n);
            if (avail == size) break;
            avail = pos + r.need > avail + piece ? pos + r.need : avail + piece;
            if (avail > size) avail = size;
            continue;
        }
        if (rc == RDB_ERR) {
            FUZZ_CHECK(strstr(r.err, "offset") != NULL);
            break;
        }
        FUZZ_CHECK(used <= n);
        pos += used;
        if (avail < pos) avail = pos;
        int kind = it.kind;
        if (kind == RDB_ITEM_KEY) {
            size_t est = rdb_cost_value(&cost, it.rdb_type, it.val.str, it.val.slen, lim) +
                         rdb_cost_key(it.klen, it.expire_ms >= 0);
            FUZZ_CHECK(est >= 8 || (it.val.type == DB_TYPE_STRING && it.val.slen <= 4));
            put(d, it.key, it.klen, &it.val);
            redump(d, it.key, it.klen, lim);
        }
        rdb_item_clear(&it);
        if (kind == RDB_ITEM_EOF) break;
    }
    db_free(d);
}

static void fuzz_payload(const uint8_t *data, size_t size, rdb_limits *lim) {
    unsigned char *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    lim->check_crc = 0;
    rdb_value v;
    const char *err;
    if (rdb_restore_payload(copy, size, lim, &v, &err) == RDB_OK) {
        db *d = db_new();
        put(d, "k", 1, &v);
        lim->check_crc = 1;
        redump(d, "k", 1, lim);
        db_free(d);
    }
    rdb_value_free(&v);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 2) return 0;
    int64_t before = alloc_total_bytes();
    rdb_limits lim;
    rdb_limits_default(&lim);
    lim.max_string = 1 << 20;
    if (data[1] & 0x80) { /* tiny thresholds: conversions while loading */
        lim.hash.max_entries = lim.zset.max_entries = data[1] & 3;
        lim.hash.max_value = lim.zset.max_value = data[1] & 7;
        lim.set.max_intset_entries = lim.set.max_listpack_entries = data[1] & 3;
        lim.set.max_listpack_value = 4;
        lim.list_fill = (data[1] & 0x10) ? 2 : -1;
    }
    if (data[0] & 1)
        fuzz_payload(data + 2, size - 2, &lim);
    else
        fuzz_file(data + 2, size - 2, &lim, (size_t)(data[1] & 0x3f) + 1);
    FUZZ_CHECK(alloc_total_bytes() == before);
    return 0;
}
