/* HyperLogLog commands (PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST) as Redis 7.0 answers them.
 * A sketch is a string value in Redis's byte layout (src/db/hll.h). A command changes a copy
 * and writes it back, through db_string_resize when its length changed, so the key-space
 * statistics, WATCH and client-side caching follow as for any string write. */
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "db/hll.h"
#include "server/notify.h"
#include "server/server.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM

static const char *const ERR_NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value.";
static const char *const ERR_CORRUPT_HLL = "INVALIDOBJ Corrupted HLL object detected";

/* The sketch at argv[i], looked up for a read (hits and misses) or a write: 1 with its entry
 * and bytes, 0 when the key is missing, -1 after an error reply (not a string, not a sketch). */
static int sketch_at(client *c, int i, int write, db_entry **e, const uint8_t **p, size_t *len) {
    int wrongtype;
    *e = lookup_type_or_reply(c, i, DB_TYPE_STRING, write, &wrongtype);
    if (wrongtype) return -1;
    if (!*e) return 0;
    *p = (const uint8_t *)db_entry_str(*e, len);
    if (!hll_valid(*p, *len)) {
        reply_error(c, ERR_NOT_HLL);
        return -1;
    }
    return 1;
}

/* h becomes the value of argv[i] (a new key when e is NULL); returns the entry, which may have
 * moved. signal: tell WATCH and tracking, where Redis calls signalModifiedKey; a write Redis
 * makes unsignalled stays so. */
static db_entry *store(client *c, int i, db_entry *e, const hll *h, int signal) {
    if (!e) {
        e = db_set_string(c->db, c->argv[i].ptr, c->argv[i].len, (const char *)h->p, h->len, 0);
    } else {
        size_t cur;
        db_entry_str(e, &cur);
        db_muted saved;
        if (!signal) db_changes_mute(&saved);
        if (cur != h->len)
            e = db_string_resize(c->db, e, h->len); /* signals */
        else if (signal)
            key_changed(c, i);
        memcpy(db_entry_str_mut(e), h->p, h->len);
        if (!signal) db_changes_unmute(&saved);
    }
    db_entry_set_str_form(e, DB_STR_RAW); /* Redis's sketches are raw strings */
    return e;
}

static size_t sparse_max(void) {
    return (size_t)srv.hll_sparse_max_bytes;
}

/* PFADD's elements added to a dense sketch in place (its length never changes: no copy of its
 * 12 KB). Returns how many registers grew. */
static long long add_dense_in_place(client *c, db_entry *e) {
    uint8_t *mut = (uint8_t *)db_entry_str_mut(e);
    long long updated = 0;
    for (int j = 2; j < c->argc; j++)
        updated += hll_dense_add(mut, c->argv[j].ptr, c->argv[j].len);
    if (updated) {
        hll_invalidate(mut);
        db_entry_set_str_form(e, DB_STR_RAW);
        key_changed(c, 1);
    }
    return updated;
}

/* PFADD's elements added to a copy written back (sparse sketches grow; a new key is made).
 * Returns how many registers grew (a new key counts one), or -1 after an error reply. */
static long long add_to_copy(client *c, db_entry *e, const uint8_t *p, size_t len) {
    hll h;
    long long updated = 0;
    if (e) {
        hll_init_copy(&h, p, len);
    } else {
        hll_init_empty(&h);
        updated = 1; /* a new key is a change even with no element */
    }
    for (int j = 2; j < c->argc; j++) {
        int r = hll_add(&h, c->argv[j].ptr, c->argv[j].len, sparse_max());
        if (r < 0) { /* corrupt: what the earlier elements changed stays, unsignalled */
            store(c, 1, e, &h, 0);
            hll_release(&h);
            reply_error(c, ERR_CORRUPT_HLL);
            return -1;
        }
        updated += r;
    }
    if (updated) {
        hll_invalidate(h.p);
        store(c, 1, e, &h, 1);
    }
    hll_release(&h);
    return updated;
}

static void cmd_pfadd(client *c) {
    db_entry *e;
    const uint8_t *p = NULL;
    size_t len = 0;
    int found = sketch_at(c, 1, 1, &e, &p, &len);
    if (found < 0) return;
    long long updated = found && hll_encoding(p) == HLL_DENSE ? add_dense_in_place(c, e)
                                                              : add_to_copy(c, e, p, len);
    if (updated < 0) return;
    if (updated) {
        notify_key(c, NOTIFY_STRING, "pfadd", 1);
        srv.dirty += updated;
    }
    reply_add_int(&c->reply, updated ? 1 : 0);
}

/* The registers of every sketch among argv[from..], each the greatest: 0, or -1 after an
 * error reply. *dense: one of them was dense. */
static int merge_args(client *c, int from, uint8_t *max, int *dense) {
    for (int j = from; j < c->argc; j++) {
        db_entry *e;
        const uint8_t *p;
        size_t len;
        int found = sketch_at(c, j, 0, &e, &p, &len);
        if (found < 0) return -1;
        if (!found) continue;
        if (hll_encoding(p) == HLL_DENSE) *dense = 1;
        if (hll_merge_max(max, p, len) < 0) {
            reply_error(c, ERR_CORRUPT_HLL);
            return -1;
        }
    }
    return 0;
}

static void cmd_pfcount(client *c) {
    if (c->argc > 2) { /* the count of the union, nothing stored */
        uint8_t *max = alloc_calloc(ALLOC_SUB_OTHER, HLL_REGISTERS);
        int dense = 0;
        if (merge_args(c, 1, max, &dense) == 0)
            reply_add_int(&c->reply, (long long)hll_count_registers(max));
        alloc_free(ALLOC_SUB_OTHER, max);
        return;
    }
    db_entry *e;
    const uint8_t *p;
    size_t len;
    int found = sketch_at(c, 1, 0, &e, &p, &len);
    if (found <= 0) {
        if (found == 0) reply_add_int(&c->reply, 0);
        return;
    }
    uint64_t card;
    if (!hll_cached(p, &card)) {
        int invalid = 0;
        card = hll_count(p, len, &invalid);
        if (invalid) {
            reply_error(c, ERR_CORRUPT_HLL);
            return;
        }
        /* The count is kept in the sketch: a change of the value, as in Redis. */
        hll_set_cached(db_entry_str_mut(e), card);
        key_changed(c, 1);
        srv.dirty++;
    }
    reply_add_int(&c->reply, (long long)card);
}

static void cmd_pfmerge(client *c) {
    uint8_t *max = alloc_calloc(ALLOC_SUB_OTHER, HLL_REGISTERS);
    int dense = 0;
    if (merge_args(c, 1, max, &dense) < 0) { /* the destination is read too */
        alloc_free(ALLOC_SUB_OTHER, max);
        return;
    }
    db_entry *e = lookup_write(c, 1);
    hll h;
    if (e) {
        size_t len;
        const char *p = db_entry_str(e, &len);
        hll_init_copy(&h, p, len);
    } else {
        hll_init_empty(&h);
    }
    /* Dense when a source was; otherwise the destination stays sparse while it can. */
    if (dense && hll_to_dense(&h) < 0) {
        reply_error(c, ERR_CORRUPT_HLL);
    } else {
        for (long j = 0; j < HLL_REGISTERS; j++)
            if (max[j]) hll_set(&h, j, max[j], sparse_max());
        hll_invalidate(h.p);
        store(c, 1, e, &h, 1);
        notify_key(c, NOTIFY_STRING, "pfadd", 1); /* a mass add, as Redis names it */
        srv.dirty++;
        reply_add_status(&c->reply, "OK");
    }
    hll_release(&h);
    alloc_free(ALLOC_SUB_OTHER, max);
}

/* GETREG and TODENSE make a sparse sketch dense (a change Redis does not signal). 1 when
 * converted, 0 when already dense, -1 after an error reply. */
static int make_dense(client *c, db_entry **e, const uint8_t *p, size_t len) {
    if (hll_encoding(p) == HLL_DENSE) return 0;
    hll h;
    hll_init_copy(&h, p, len);
    int r = hll_to_dense(&h);
    if (r < 0) {
        reply_error(c, ERR_CORRUPT_HLL);
    } else {
        *e = store(c, 2, *e, &h, 0);
        srv.dirty++;
    }
    hll_release(&h);
    return r;
}

static void cmd_pfdebug(client *c) {
    db_entry *e = lookup_write(c, 2);
    if (!e) {
        reply_error(c, "ERR The specified key does not exist");
        return;
    }
    if (db_entry_type(e) != DB_TYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    size_t len;
    const uint8_t *p = (const uint8_t *)db_entry_str(e, &len);
    if (!hll_valid(p, len)) {
        reply_error(c, ERR_NOT_HLL);
        return;
    }
    if (arg_eq(c, 1, "getreg")) {
        if (make_dense(c, &e, p, len) < 0) return;
        p = (const uint8_t *)db_entry_str(e, &len);
        reply_add_array_len(&c->reply, HLL_REGISTERS);
        for (long j = 0; j < HLL_REGISTERS; j++)
            reply_add_int(&c->reply, hll_dense_get(p, j));
    } else if (arg_eq(c, 1, "decode")) {
        if (hll_encoding(p) != HLL_SPARSE) {
            reply_error(c, "ERR HLL encoding is not sparse");
            return;
        }
        size_t n;
        char *text = hll_decode(p, len, &n);
        reply_add_bulk(&c->reply, text, n);
        alloc_free(ALLOC_SUB_OTHER, text);
    } else if (arg_eq(c, 1, "encoding")) {
        reply_add_status(&c->reply, hll_encoding(p) == HLL_DENSE ? "dense" : "sparse");
    } else if (arg_eq(c, 1, "todense")) {
        int r = make_dense(c, &e, p, len);
        if (r >= 0) reply_add_int(&c->reply, r);
    } else {
        reply_errorf(c, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)c->argv[1].len,
                     c->argv[1].ptr);
    }
}

static void cmd_pfselftest(client *c) {
    char err[256];
    if (hll_selftest(sparse_max(), err, sizeof(err)) < 0)
        reply_error(c, err);
    else
        reply_add_status(&c->reply, "OK");
}

/* clang-format off */
command hll_commands[] = {
    {"pfadd", cmd_pfadd, -2, W | M | F, 1, 1, 1, "hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."},
    {"pfcount", cmd_pfcount, -2, R | CMD_MAY_REPLICATE, 1, -1, 1, "hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."},
    {"pfmerge", cmd_pfmerge, -2, W | M, 1, -1, 1, "hyperloglog", "Merges one or more HyperLogLog values into a single key."},
    {"pfdebug", cmd_pfdebug, 3, W | M | CMD_ADMIN, 2, 2, 1, "hyperloglog", "Internal commands for debugging HyperLogLog values."},
    {"pfselftest", cmd_pfselftest, 1, CMD_ADMIN, 0, 0, 0, "hyperloglog", "An internal command for testing HyperLogLog values."},
};
/* clang-format on */
const size_t hll_commands_count = sizeof(hll_commands) / sizeof(hll_commands[0]);
