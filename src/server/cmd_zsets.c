/* Sorted set commands (Redis 7.0's ZADD ... ZINTERCARD): argument parsing, replies and key
 * life cycle; the data structure is src/db/t_zset.c. Error texts and the order in which
 * arguments are checked follow Redis 7.0. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/t_set.h"
#include "db/t_zset.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

static const char *const ERR_RANGE_FLOAT = "ERR min or max is not a float";
static const char *const ERR_RANGE_LEX = "ERR min or max not valid string range item";

static const zset_limits *limits(void) {
    static zset_limits lim;
    lim.max_entries = srv.zset_max_listpack_entries < 0 ? 0 : (size_t)srv.zset_max_listpack_entries;
    lim.max_value = srv.zset_max_listpack_value < 0 ? 0 : (size_t)srv.zset_max_listpack_value;
    return &lim;
}

const zset_limits *zset_config_limits(void) {
    return limits();
}

static uint64_t zrng_state;
static uint64_t zrand(void) {
    uint64_t x = zrng_state ? zrng_state : ((uint64_t)util_ustime() | 1);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    zrng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void reply_score(client *c, double v) {
    reply_add_double(&c->reply, v);
}

static zobj zobj_of(const db_entry *e) {
    zobj z = {db_entry_encoding(e), db_entry_ptr(e)};
    return z;
}

/* After a change: store the (possibly moved or converted) value back, and delete the key when
 * the set became empty. Returns 1 if the key was deleted. */
static int zset_commit(client *c, int key_idx, db_entry *e, zobj *z) {
    if (z->ptr != db_entry_ptr(e) || z->enc != db_entry_encoding(e))
        db_entry_set_object(c->db, e, z->enc, z->ptr);
    if (zset_length(z) == 0) {
        db_delete(c->db, c->argv[key_idx].ptr, c->argv[key_idx].len);
        return 1;
    }
    return 0;
}

/* Store a result under the key argv[i] (replacing whatever it held), or delete the key when the
 * result is empty (z->ptr NULL). Returns the number of elements stored. Events as Redis's
 * setKey + `event`, or "del" when an empty result deleted the key. */
size_t zset_store_result(client *c, int i, zobj *z, const char *event) {
    const resp_arg *k = &c->argv[i];
    size_t n = z->ptr ? zset_length(z) : 0;
    if (n == 0) {
        if (z->ptr) zset_free_value(z->ptr, z->enc);
        if (db_delete(c->db, k->ptr, k->len)) {
            notify_key(c, NOTIFY_GENERIC, "del", i);
            srv.dirty++;
        }
        return 0;
    }
    int existed = lookup_write(c, i) != NULL;
    if (existed) db_delete(c->db, k->ptr, k->len);
    notify_overwrite_begin(existed);
    db_add_object(c->db, k->ptr, k->len, DB_TYPE_ZSET, z->enc, z->ptr);
    notify_overwrite_end();
    /* As Redis 7.0's setKey: a new key wakes its blocked clients (dbAdd), one written over
     * (dbOverwrite) does not, so a BZPOPMIN that waits on a key since made a string stays. */
    if (!existed) blocking_signal_key(c->db_index, k->ptr, k->len);
    notify_key(c, NOTIFY_ZSET, event, i);
    srv.dirty++;
    return n;
}

/* --- ZADD / ZINCRBY ------------------------------------------------------------------------ */

/* ZADD's work once its arguments are parsed: `elements` scores, the members at argv[first],
 * argv[first + stride], ... (GEOADD calls it with its own scores and stride). */
void zadd_apply(client *c, int flags, int ch, int elements, const double *scores, int first,
                int stride) {
    int incr = flags & ZADD_IN_INCR;
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_ZSET, 1, &wrongtype);
    if (wrongtype) return;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!e) {
        if (flags & ZADD_IN_XX) goto reply;
        zobj nz;
        zset_create(&nz, c->argv[first].len, limits());
        e = db_add_object(c->db, c->argv[1].ptr, c->argv[1].len, DB_TYPE_ZSET, nz.enc, nz.ptr);
        blocking_signal_key(c->db_index, c->argv[1].ptr, c->argv[1].len);
    }
    zobj z = zobj_of(e);
    for (int j = 0; j < elements; j++) {
        const resp_arg *m = &c->argv[first + stride * j];
        int out;
        double newscore = 0;
        if (!zset_add(&z, scores[j], m->ptr, m->len, flags, &out, &newscore, limits())) {
            zset_commit(c, 1, e, &z);
            if (added || updated) key_changed(c, 1);
            reply_error(c, "ERR resulting score is not a number (NaN)");
            return;
        }
        if (out & ZADD_OUT_ADDED) added++;
        if (out & ZADD_OUT_UPDATED) updated++;
        if (!(out & ZADD_OUT_NOP)) {
            processed++;
            score = newscore;
        }
    }
    zset_commit(c, 1, e, &z);
    if (added || updated) key_changed(c, 1);
    srv.dirty += added + updated; /* not after a NaN, as Redis */
reply:
    if (incr) {
        if (processed)
            reply_score(c, score);
        else
            reply_add_null(&c->reply);
    } else {
        reply_add_int(&c->reply, ch ? added + updated : added);
    }
    if (added || updated) notify_key(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", 1);
}

static void zadd_generic(client *c, int flags) {
    int ch = 0, i = 2;
    for (; i < c->argc; i++) {
        if (arg_eq(c, i, "nx"))
            flags |= ZADD_IN_NX;
        else if (arg_eq(c, i, "xx"))
            flags |= ZADD_IN_XX;
        else if (arg_eq(c, i, "ch"))
            ch = 1;
        else if (arg_eq(c, i, "incr"))
            flags |= ZADD_IN_INCR;
        else if (arg_eq(c, i, "gt"))
            flags |= ZADD_IN_GT;
        else if (arg_eq(c, i, "lt"))
            flags |= ZADD_IN_LT;
        else
            break;
    }
    int incr = flags & ZADD_IN_INCR;
    int elements = c->argc - i;
    if (elements % 2 || elements == 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    if ((flags & ZADD_IN_NX) && (flags & ZADD_IN_XX)) {
        reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    int gt = flags & ZADD_IN_GT, lt = flags & ZADD_IN_LT, nx = flags & ZADD_IN_NX;
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(c, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double stack_scores[16];
    double *scores = elements <= 16
                         ? stack_scores
                         : alloc_malloc(ALLOC_SUB_OTHER, sizeof(double) * (size_t)elements);
    for (int j = 0; j < elements; j++) {
        const resp_arg *a = &c->argv[i + 2 * j];
        if (zset_parse_score(a->ptr, a->len, &scores[j]) < 0) {
            reply_error(c, ERR_NOT_FLOAT);
            goto done;
        }
    }
    zadd_apply(c, flags, ch, elements, scores, i + 1, 2);
done:
    if (scores != stack_scores) alloc_free(ALLOC_SUB_OTHER, scores);
}

static void cmd_zadd(client *c) {
    zadd_generic(c, 0);
}

static void cmd_zincrby(client *c) {
    /* ZINCRBY key increment member: ZADD's INCR path without options */
    double score;
    if (zset_parse_score(c->argv[2].ptr, c->argv[2].len, &score) < 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_ZSET, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        zobj nz;
        zset_create(&nz, c->argv[3].len, limits());
        e = db_add_object(c->db, c->argv[1].ptr, c->argv[1].len, DB_TYPE_ZSET, nz.enc, nz.ptr);
        blocking_signal_key(c->db_index, c->argv[1].ptr, c->argv[1].len);
    }
    zobj z = zobj_of(e);
    int out;
    double newscore = 0;
    int ok = zset_add(&z, score, c->argv[3].ptr, c->argv[3].len, ZADD_IN_INCR, &out, &newscore,
                      limits());
    zset_commit(c, 1, e, &z);
    if (ok && (out & (ZADD_OUT_ADDED | ZADD_OUT_UPDATED))) key_changed(c, 1); /* not +0 */
    if (!ok) {
        reply_error(c, "ERR resulting score is not a number (NaN)");
        return;
    }
    if (out & (ZADD_OUT_ADDED | ZADD_OUT_UPDATED)) { /* by 0: no change, no event (Redis) */
        notify_key(c, NOTIFY_ZSET, "zincr", 1);
        srv.dirty++;
    }
    reply_score(c, newscore);
}

/* --- simple reads and ZREM ---------------------------------------------------------------- */

static void cmd_zrem(client *c) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_ZSET, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        reply_add_int(&c->reply, 0);
        return;
    }
    zobj z = zobj_of(e);
    long long deleted = 0;
    for (int i = 2; i < c->argc; i++) {
        deleted += zset_del(&z, c->argv[i].ptr, c->argv[i].len);
        if (zset_length(&z) == 0) break;
    }
    int removed = zset_commit(c, 1, e, &z);
    if (deleted) {
        key_changed(c, 1);
        srv.dirty += deleted;
        notify_key(c, NOTIFY_ZSET, "zrem", 1);
        if (removed) notify_key(c, NOTIFY_GENERIC, "del", 1);
    }
    reply_add_int(&c->reply, deleted);
}

/* The zset at argv[i] for a read: 1 and *z set, 0 when missing, -1 after WRONGTYPE. */
int zset_read(client *c, int i, zobj *z) {
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, i, DB_TYPE_ZSET, 0, &wrongtype);
    if (wrongtype) return -1;
    if (!e) return 0;
    *z = zobj_of(e);
    return 1;
}

static void cmd_zcard(client *c) {
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r >= 0) reply_add_int(&c->reply, r ? (long long)zset_length(&z) : 0);
}

static void cmd_zscore(client *c) {
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r < 0) return;
    double s;
    if (r && zset_score(&z, c->argv[2].ptr, c->argv[2].len, &s))
        reply_score(c, s);
    else
        reply_add_null(&c->reply);
}

static void cmd_zmscore(client *c) {
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r < 0) return;
    reply_add_array_len(&c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        double s;
        if (r && zset_score(&z, c->argv[i].ptr, c->argv[i].len, &s))
            reply_score(c, s);
        else
            reply_add_null(&c->reply);
    }
}

static void rank_generic(client *c, int reverse) {
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r < 0) return;
    long rank = r ? zset_rank(&z, c->argv[2].ptr, c->argv[2].len, reverse, NULL) : -1;
    if (rank < 0)
        reply_add_null(&c->reply);
    else
        reply_add_int(&c->reply, rank);
}

static void cmd_zrank(client *c) {
    rank_generic(c, 0);
}

static void cmd_zrevrank(client *c) {
    rank_generic(c, 1);
}

static int parse_score_range(client *c, int imin, int imax, zrange_score *r) {
    const resp_arg *a = &c->argv[imin], *b = &c->argv[imax];
    if (zset_parse_range_end(a->ptr, a->len, &r->min, &r->minex) < 0 ||
        zset_parse_range_end(b->ptr, b->len, &r->max, &r->maxex) < 0) {
        reply_error(c, ERR_RANGE_FLOAT);
        return -1;
    }
    return 0;
}

static int parse_lex_range(client *c, int imin, int imax, zrange_lex *r) {
    const resp_arg *a = &c->argv[imin], *b = &c->argv[imax];
    if (zset_parse_lex_end(a->ptr, a->len, &r->min) < 0 ||
        zset_parse_lex_end(b->ptr, b->len, &r->max) < 0) {
        reply_error(c, ERR_RANGE_LEX);
        return -1;
    }
    return 0;
}

static void cmd_zcount(client *c) {
    zrange_score rg;
    if (parse_score_range(c, 2, 3, &rg) < 0) return;
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r >= 0) reply_add_int(&c->reply, r ? (long long)zset_count_score(&z, &rg) : 0);
}

static void cmd_zlexcount(client *c) {
    zrange_lex rg;
    if (parse_lex_range(c, 2, 3, &rg) < 0) return;
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r >= 0) reply_add_int(&c->reply, r ? (long long)zset_count_lex(&z, &rg) : 0);
}

/* --- ZRANGE family ------------------------------------------------------------------------ */

enum { RANGE_AUTO = 0, RANGE_RANK, RANGE_SCORE, RANGE_LEX };
enum { DIR_AUTO = 0, DIR_FORWARD, DIR_REVERSE };

/* Elements collected for a reply or a store: pointers into the source set, which does not
 * change until they are used; members that a listpack holds as integers are formatted into
 * `ints`. */
typedef struct zitem {
    const unsigned char *m; /* NULL: the text is in ints[i] */
    size_t len;
    double score;
} zitem;

typedef struct zvec {
    zitem *v;
    unsigned char (*ints)[LP_INTBUF];
    size_t n, cap;
} zvec;

static void zvec_push(zvec *z, const zset_iter *it, const unsigned char *m, size_t len,
                      double score) {
    if (z->n == z->cap) {
        size_t ncap = z->cap ? z->cap * 2 : 16;
        z->v = alloc_realloc(ALLOC_SUB_OTHER, z->v, ncap * sizeof(zitem));
        z->ints = alloc_realloc(ALLOC_SUB_OTHER, z->ints, ncap * LP_INTBUF);
        z->cap = ncap;
    }
    if (m == it->buf) {
        memcpy(z->ints[z->n], m, len);
        m = NULL;
    }
    z->v[z->n].m = m;
    z->v[z->n].len = len;
    z->v[z->n].score = score;
    z->n++;
}

static const unsigned char *zvec_member(const zvec *z, size_t i) {
    return z->v[i].m ? z->v[i].m : z->ints[i];
}

static void zvec_free(zvec *z) {
    alloc_free(ALLOC_SUB_OTHER, z->v);
    alloc_free(ALLOC_SUB_OTHER, z->ints);
}

typedef struct range_spec {
    int type, dir;
    long long start, end; /* rank */
    zrange_score score;
    zrange_lex lex;
    long long offset, limit;
} range_spec;

/* Is the element still inside the range, walking in the range's direction? */
static int still_in(const range_spec *rs, const unsigned char *m, size_t len, double s) {
    int rev = rs->dir == DIR_REVERSE;
    if (rs->type == RANGE_SCORE)
        return rev ? zrange_score_gte_min(&rs->score, s) : zrange_score_lte_max(&rs->score, s);
    return rev ? zrange_lex_gte_min(&rs->lex, m, len) : zrange_lex_lte_max(&rs->lex, m, len);
}

/* The elements of z in the range, in reply order. */
static void collect_range(const zobj *z, const range_spec *rs, zvec *out) {
    zset_iter it;
    const unsigned char *m;
    size_t len;
    double s;
    int rev = rs->dir == DIR_REVERSE;
    long long llen = (long long)zset_length(z);
    if (rs->type == RANGE_RANK) {
        long long start = rs->start, end = rs->end;
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen) return;
        if (end >= llen) end = llen - 1;
        long long n = end - start + 1;
        for (zset_iter_at_rank(&it, z, (size_t)start, rev);
             n > 0 && zset_iter_get(&it, &m, &len, &s); zset_iter_next(&it), n--)
            zvec_push(out, &it, m, len, s);
        return;
    }
    long long offset = rs->offset, limit = rs->limit;
    if (offset > 0 && offset >= llen) return;
    if (offset < 0) return; /* Redis's skip loop runs off the end on a negative offset */
    if (rs->type == RANGE_SCORE)
        zset_iter_in_score(&it, z, &rs->score, rev);
    else
        zset_iter_in_lex(&it, z, &rs->lex, rev);
    while (offset > 0 && zset_iter_get(&it, &m, &len, &s)) { /* no range check, as Redis */
        zset_iter_next(&it);
        offset--;
    }
    while (limit != 0 && zset_iter_get(&it, &m, &len, &s)) {
        if (!still_in(rs, m, len, s)) break;
        zvec_push(out, &it, m, len, s);
        zset_iter_next(&it);
        if (limit > 0) limit--;
    }
}

static void reply_zvec(client *c, const zvec *v, int withscores) {
    if (withscores)
        reply_add_pairs_len(&c->reply, (long long)v->n);
    else
        reply_add_array_len(&c->reply, (long long)v->n);
    for (size_t i = 0; i < v->n; i++) {
        if (withscores) reply_add_pair(&c->reply);
        reply_add_bulk(&c->reply, zvec_member(v, i), v->v[i].len);
        if (withscores) reply_score(c, v->v[i].score);
    }
}

/* Redis's zrangeGenericCommand: the key at argv[ks], then min max, then options; store: the
 * destination is argv[1]. */
static void zrange_generic(client *c, int ks, int store, int type, int dir) {
    range_spec rs;
    memset(&rs, 0, sizeof(rs));
    rs.limit = -1;
    int withscores = 0;
    int imin = ks + 1, imax = ks + 2;
    for (int j = ks + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (!store && arg_eq(c, j, "withscores")) {
            withscores = 1;
        } else if (arg_eq(c, j, "limit") && left >= 2) {
            if (arg_ll(c, j + 1, &rs.offset) < 0 || arg_ll(c, j + 2, &rs.limit) < 0) return;
            j += 2;
        } else if (dir == DIR_AUTO && arg_eq(c, j, "rev")) {
            dir = DIR_REVERSE;
        } else if (type == RANGE_AUTO && arg_eq(c, j, "bylex")) {
            type = RANGE_LEX;
        } else if (type == RANGE_AUTO && arg_eq(c, j, "byscore")) {
            type = RANGE_SCORE;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (dir == DIR_AUTO) dir = DIR_FORWARD;
    if (type == RANGE_AUTO) type = RANGE_RANK;
    if (rs.limit != -1 && type == RANGE_RANK) {
        reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == RANGE_LEX) {
        reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if (dir == DIR_REVERSE && type != RANGE_RANK) { /* given as max min */
        imin = ks + 2;
        imax = ks + 1;
    }
    rs.type = type;
    rs.dir = dir;
    if (type == RANGE_RANK) {
        if (arg_ll(c, imin, &rs.start) < 0 || arg_ll(c, imax, &rs.end) < 0) return;
    } else if (type == RANGE_SCORE) {
        if (parse_score_range(c, imin, imax, &rs.score) < 0) return;
    } else {
        if (parse_lex_range(c, imin, imax, &rs.lex) < 0) return;
    }
    zobj z;
    int r = zset_read(c, ks, &z);
    if (r < 0) return;
    zvec v = {0};
    if (r) collect_range(&z, &rs, &v);
    if (store) {
        zobj dst = {0, NULL};
        if (v.n) {
            zset_create(&dst, v.v[0].len, limits());
            for (size_t i = 0; i < v.n; i++) {
                int out;
                zset_add(&dst, v.v[i].score, zvec_member(&v, i), v.v[i].len, 0, &out, NULL,
                         limits());
            }
        }
        zvec_free(&v);
        reply_add_int(&c->reply, (long long)zset_store_result(c, 1, &dst, "zrangestore"));
        return;
    }
    reply_zvec(c, &v, withscores);
    zvec_free(&v);
}

static void cmd_zrange(client *c) {
    zrange_generic(c, 1, 0, RANGE_AUTO, DIR_AUTO);
}
static void cmd_zrangestore(client *c) {
    zrange_generic(c, 2, 1, RANGE_AUTO, DIR_AUTO);
}
static void cmd_zrevrange(client *c) {
    zrange_generic(c, 1, 0, RANGE_RANK, DIR_REVERSE);
}
static void cmd_zrangebyscore(client *c) {
    zrange_generic(c, 1, 0, RANGE_SCORE, DIR_FORWARD);
}
static void cmd_zrevrangebyscore(client *c) {
    zrange_generic(c, 1, 0, RANGE_SCORE, DIR_REVERSE);
}
static void cmd_zrangebylex(client *c) {
    zrange_generic(c, 1, 0, RANGE_LEX, DIR_FORWARD);
}
static void cmd_zrevrangebylex(client *c) {
    zrange_generic(c, 1, 0, RANGE_LEX, DIR_REVERSE);
}

/* --- ZREMRANGEBY* ------------------------------------------------------------------------- */

static void zremrange_generic(client *c, int type) {
    long long start = 0, end = 0;
    zrange_score sr;
    zrange_lex lr;
    if (type == RANGE_RANK) {
        if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
    } else if (type == RANGE_SCORE) {
        if (parse_score_range(c, 2, 3, &sr) < 0) return;
    } else {
        if (parse_lex_range(c, 2, 3, &lr) < 0) return;
    }
    int wrongtype;
    db_entry *e = lookup_type_or_reply(c, 1, DB_TYPE_ZSET, 1, &wrongtype);
    if (wrongtype) return;
    if (!e) {
        reply_add_int(&c->reply, 0);
        return;
    }
    zobj z = zobj_of(e);
    size_t deleted;
    if (type == RANGE_RANK) {
        long long llen = (long long)zset_length(&z);
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen) {
            reply_add_int(&c->reply, 0);
            return;
        }
        if (end >= llen) end = llen - 1;
        deleted = zset_delete_rank_range(&z, (size_t)start, (size_t)end);
    } else if (type == RANGE_SCORE) {
        deleted = zset_delete_score_range(&z, &sr);
    } else {
        deleted = zset_delete_lex_range(&z, &lr);
    }
    int removed = zset_commit(c, 1, e, &z);
    if (deleted) {
        key_changed(c, 1);
        srv.dirty += (long long)deleted;
        static const char *const events[] = {[RANGE_RANK] = "zremrangebyrank",
                                             [RANGE_SCORE] = "zremrangebyscore",
                                             [RANGE_LEX] = "zremrangebylex"};
        notify_key(c, NOTIFY_ZSET, events[type], 1);
        if (removed) notify_key(c, NOTIFY_GENERIC, "del", 1);
    }
    reply_add_int(&c->reply, (long long)deleted);
}

static void cmd_zremrangebyrank(client *c) {
    zremrange_generic(c, RANGE_RANK);
}
static void cmd_zremrangebyscore(client *c) {
    zremrange_generic(c, RANGE_SCORE);
}
static void cmd_zremrangebylex(client *c) {
    zremrange_generic(c, RANGE_LEX);
}

/* --- pops ----------------------------------------------------------------------------------- */

/* How a pop replies: ZPOPMIN/MAX without a count (member, score), with one (pairs: flat in
 * RESP2, [member, score] arrays in RESP3), ZMPOP/BZMPOP (key, then [member, score] pairs in
 * both; a null array when no key), BZPOPMIN/MAX (key, member, score). */
enum { POP_PLAIN = 0, POP_PAIRS, POP_NESTED, POP_WITH_KEY };

/* The first existing sorted set among argv[first..last] (only argv[only] when only >= 0): 1
 * and *ki, *e set; 0 if none; -1 after WRONGTYPE. */
static int first_zset(client *c, int first, int last, int only, int *ki, db_entry **e) {
    for (int i = first; i <= last; i++) {
        if (only >= 0 && i != only) continue;
        int wrongtype;
        *e = lookup_type_or_reply(c, i, DB_TYPE_ZSET, 1, &wrongtype);
        if (wrongtype) return -1;
        if (*e) {
            *ki = i;
            return 1;
        }
    }
    return 0;
}

/* Pop up to count (-1: no count given) from the zset e at argv[ki]. */
static void zpop_from(client *c, int ki, db_entry *e, int max, long long count, int mode) {
    if (count == 0) { /* ZPOPMIN key 0: after the type check, as Redis */
        reply_add_array_len(&c->reply, 0);
        return;
    }
    if (count == -1) count = 1;
    zobj z = zobj_of(e);
    long long llen = (long long)zset_length(&z);
    long long n = count > llen ? llen : count;
    if (mode == POP_NESTED) {
        reply_add_array_len(&c->reply, 2);
        reply_add_bulk(&c->reply, c->argv[ki].ptr, c->argv[ki].len);
        reply_add_array_len(&c->reply, n);
    } else if (mode == POP_WITH_KEY) {
        reply_add_array_len(&c->reply, n * 2 + 1);
        reply_add_bulk(&c->reply, c->argv[ki].ptr, c->argv[ki].len);
    } else if (mode == POP_PAIRS) {
        reply_add_pairs_len(&c->reply, n);
    } else {
        reply_add_array_len(&c->reply, n * 2);
    }
    for (long long i = 0; i < n; i++) {
        zset_iter it;
        const unsigned char *m;
        size_t len;
        double s;
        zset_iter_at_rank(&it, &z, 0, max);
        zset_iter_get(&it, &m, &len, &s);
        if (mode == POP_NESTED)
            reply_add_array_len(&c->reply, 2);
        else if (mode == POP_PAIRS)
            reply_add_pair(&c->reply);
        reply_add_bulk(&c->reply, m, len);
        reply_score(c, s);
        size_t at = max ? (size_t)(llen - 1 - i) : 0;
        zset_delete_rank_range(&z, at, at);
    }
    if (n) key_changed(c, ki); /* before the commit, which may delete the key */
    srv.dirty += n;
    int removed = zset_commit(c, ki, e, &z);
    notify_key(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", ki);
    if (removed) notify_key(c, NOTIFY_GENERIC, "del", ki);
}

static void zpop_generic(client *c, int first, int last, int max, long long count, int mode) {
    db_entry *e;
    int ki;
    int r = first_zset(c, first, last, -1, &ki, &e);
    if (r < 0) return;
    if (r == 0) {
        if (mode == POP_NESTED)
            reply_add_null_array(&c->reply);
        else
            reply_add_array_len(&c->reply, 0);
        return;
    }
    zpop_from(c, ki, e, max, count, mode);
}

static void zpop_minmax(client *c, int max) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3) {
        if (util_parse_ll(c->argv[2].ptr, c->argv[2].len, &count) < 0 || count < 0) {
            reply_error(c, "ERR value is out of range, must be positive");
            return;
        }
    }
    zpop_generic(c, 1, 1, max, count, count == -1 ? POP_PLAIN : POP_PAIRS);
}

static void cmd_zpopmin(client *c) {
    zpop_minmax(c, 0);
}
static void cmd_zpopmax(client *c) {
    zpop_minmax(c, 1);
}

/* ZMPOP numkeys key... MIN|MAX [COUNT n] with numkeys at argv[nk]: 0 and the parsed
 * fields, or -1 after an error reply. */
static int parse_mpop(client *c, int nk, int *first, int *last, int *max, long long *count) {
    long long numkeys;
    if (util_parse_ll(c->argv[nk].ptr, c->argv[nk].len, &numkeys) < 0 || numkeys < 1) {
        reply_error(c, "ERR numkeys should be greater than 0");
        return -1;
    }
    if (numkeys >= c->argc) { /* the MIN|MAX index would be past the end */
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    int where = nk + (int)numkeys + 1;
    if (where >= c->argc) {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    if (arg_eq(c, where, "min")) {
        *max = 0;
    } else if (arg_eq(c, where, "max")) {
        *max = 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    *count = -1;
    for (int j = where + 1; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (*count == -1 && arg_eq(c, j, "count") && more) {
            j++;
            if (util_parse_ll(c->argv[j].ptr, c->argv[j].len, count) < 0 || *count < 1) {
                reply_error(c, "ERR count should be greater than 0");
                return -1;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    *first = nk + 1;
    *last = nk + (int)numkeys;
    return 0;
}

static void cmd_zmpop(client *c) {
    int first, last, max;
    long long count;
    if (parse_mpop(c, 1, &first, &last, &max, &count) < 0) return;
    zpop_generic(c, first, last, max, count, POP_NESTED);
}

/* --- BZPOPMIN / BZPOPMAX / BZMPOP (src/server/blocking.h) ---------------------------------- */

/* Pop from the first non-empty key of argv[first..last], or block on all of them. When the
 * machinery runs the handler again for a key that became ready, only that key is tried. */
static void bzpop_generic(client *c, int first, int last, int max, long long count, int mode,
                          int64_t deadline) {
    db_entry *e;
    int ki;
    int r = first_zset(c, first, last, blocking_serving_key(c), &ki, &e);
    if (r < 0) return;
    if (r > 0) {
        zpop_from(c, ki, e, max, count, mode);
        return;
    }
    int keys[64] = {0}, *kp = keys; /* (initialised: GCC -O2 cannot see nkeys >= 1) */
    int nkeys = last - first + 1;
    if (nkeys > 64) kp = alloc_malloc(ALLOC_SUB_OTHER, sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < nkeys; i++)
        kp[i] = first + i;
    blocking_block(c, DB_TYPE_ZSET, kp, nkeys, deadline);
    if (kp != keys) alloc_free(ALLOC_SUB_OTHER, kp);
}

static void bzpop_minmax(client *c, int max) {
    int64_t deadline;
    if (blocking_parse_timeout(c, c->argc - 1, &deadline) < 0) return;
    bzpop_generic(c, 1, c->argc - 2, max, -1, POP_WITH_KEY, deadline);
}

static void cmd_bzpopmin(client *c) {
    bzpop_minmax(c, 0);
}

static void cmd_bzpopmax(client *c) {
    bzpop_minmax(c, 1);
}

static void cmd_bzmpop(client *c) {
    /* Redis parses numkeys, MIN|MAX and COUNT before the timeout */
    int first, last, max;
    long long count;
    if (parse_mpop(c, 2, &first, &last, &max, &count) < 0) return;
    int64_t deadline;
    if (blocking_parse_timeout(c, 1, &deadline) < 0) return;
    bzpop_generic(c, first, last, max, count, POP_NESTED, deadline);
}

/* --- ZRANDMEMBER ---------------------------------------------------------------------------- */

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void reply_at_rank(client *c, const zobj *z, size_t rank, int withscores) {
    zset_iter it;
    const unsigned char *m;
    size_t len;
    double s;
    zset_iter_at_rank(&it, z, rank, 0);
    zset_iter_get(&it, &m, &len, &s);
    if (withscores) reply_add_pair(&c->reply);
    reply_add_bulk(&c->reply, m, len);
    if (withscores) reply_score(c, s);
}

/* n members, or n (member, score) pairs WITHSCORES. */
static void reply_members_len(client *c, long long n, int withscores) {
    if (withscores)
        reply_add_pairs_len(&c->reply, n);
    else
        reply_add_array_len(&c->reply, n);
}

static void cmd_zrandmember(client *c) {
    zobj z;
    if (c->argc == 2) {
        int r = zset_read(c, 1, &z);
        if (r < 0) return;
        if (r == 0)
            reply_add_null(&c->reply);
        else
            reply_at_rank(c, &z, (size_t)(zrand() % zset_length(&z)), 0);
        return;
    }
    long long l;
    int withscores;
    if (arg_random_count(c, "withscores", &l, &withscores) < 0) return;
    int r = zset_read(c, 1, &z);
    if (r < 0) return;
    if (r == 0 || l == 0) {
        reply_add_array_len(&c->reply, 0);
        return;
    }
    size_t size = zset_length(&z);
    if (l < 0) { /* repetitions allowed */
        long long count = -l;
        reply_members_len(c, count, withscores);
        for (long long i = 0; i < count; i++) {
            reply_at_rank(c, &z, (size_t)(zrand() % size), withscores);
            /* a huge count stops at the output-buffer limit (the client is closed) instead
             * of growing the reply until memory runs out */
            if ((i & 1023) == 1023 && client_obuf_check(c) < 0) return;
        }
        return;
    }
    size_t count = (size_t)l;
    if (count >= size) { /* the whole set, in order, as Redis */
        reply_members_len(c, (long long)size, withscores);
        zset_iter it;
        const unsigned char *m;
        size_t len;
        double s;
        for (zset_iter_at_rank(&it, &z, 0, 0); zset_iter_get(&it, &m, &len, &s);
             zset_iter_next(&it)) {
            if (withscores) reply_add_pair(&c->reply);
            reply_add_bulk(&c->reply, m, len);
            if (withscores) reply_score(c, s);
        }
        return;
    }
    /* distinct ranks: draw, sort, drop duplicates, draw again for the missing ones */
    size_t *ranks = alloc_malloc(ALLOC_SUB_OTHER, sizeof(size_t) * count);
    size_t have = 0;
    while (have < count) {
        for (size_t i = have; i < count; i++)
            ranks[i] = (size_t)(zrand() % size);
        qsort(ranks, count, sizeof(size_t), cmp_size);
        size_t u = 0;
        for (size_t i = 0; i < count; i++)
            if (u == 0 || ranks[u - 1] != ranks[i]) ranks[u++] = ranks[i];
        have = u;
    }
    for (size_t i = count; i > 1; i--) { /* no order, as Redis's reply */
        size_t j = (size_t)(zrand() % i);
        size_t t = ranks[i - 1];
        ranks[i - 1] = ranks[j];
        ranks[j] = t;
    }
    reply_members_len(c, (long long)count, withscores);
    for (size_t i = 0; i < count; i++)
        reply_at_rank(c, &z, ranks[i], withscores);
    alloc_free(ALLOC_SUB_OTHER, ranks);
}

/* --- ZSCAN ---------------------------------------------------------------------------------- */

/* Matching members and their scores, copied (the reply is sent after the walk). */
typedef struct scan_out {
    const scan_args *args;
    size_t *lens;
    char *buf;
    size_t n, cap, bused, bcap;
} scan_out;

static void scan_keep(scan_out *so, const void *p, size_t len) {
    if (so->n == so->cap) {
        so->cap = so->cap ? so->cap * 2 : 32;
        so->lens = alloc_realloc(ALLOC_SUB_OTHER, so->lens, so->cap * sizeof(size_t));
    }
    if (so->bused + len > so->bcap) {
        size_t ncap = so->bcap ? so->bcap * 2 : 1024;
        while (ncap < so->bused + len)
            ncap *= 2;
        so->buf = alloc_realloc(ALLOC_SUB_OTHER, so->buf, ncap);
        so->bcap = ncap;
    }
    if (len) memcpy(so->buf + so->bused, p, len);
    so->lens[so->n++] = len;
    so->bused += len;
}

static void scan_cb(void *ctx, const unsigned char *m, size_t len, const char *score, size_t slen) {
    scan_out *so = ctx;
    if (!scan_args_match(so->args, m, len)) return;
    scan_keep(so, m, len);
    scan_keep(so, score, slen);
}

static void cmd_zscan(client *c) {
    uint64_t cursor;
    if (arg_scan_cursor(c, 2, &cursor) < 0) return; /* before the key, as Redis */
    zobj z;
    int r = zset_read(c, 1, &z);
    if (r < 0) return;
    if (r == 0) {
        reply_scan_head(c, 0);
        reply_add_array_len(&c->reply, 0);
        return;
    }
    scan_args a;
    if (parse_scan_args(c, 3, 0, &a) < 0) return;
    scan_out so = {.args = &a};
    uint64_t next = zset_scan(&z, cursor, (size_t)a.count, scan_cb, &so);
    reply_scan_head(c, next);
    reply_add_array_len(&c->reply, (long long)so.n);
    size_t off = 0;
    for (size_t i = 0; i < so.n; i++) {
        reply_add_bulk(&c->reply, so.buf + off, so.lens[i]);
        off += so.lens[i];
    }
    alloc_free(ALLOC_SUB_OTHER, so.lens);
    alloc_free(ALLOC_SUB_OTHER, so.buf);
}

/* --- ZUNION / ZINTER / ZDIFF / ZINTERCARD --------------------------------------------------- */

/* A plain set as an input of the set algebra: every member with score 1 (as Redis). */
static size_t set_in_size(const void *obj, unsigned enc) {
    set_obj so = {(void *)(uintptr_t)obj, enc};
    return set_card(&so);
}

static int set_in_lookup(const void *obj, unsigned enc, const void *m, size_t len, double *score) {
    set_obj so = {(void *)(uintptr_t)obj, enc};
    if (!set_ismember(&so, m, len)) return 0;
    if (score) *score = 1.0;
    return 1;
}

static void set_in_each(const void *obj, unsigned enc,
                        void (*fn)(void *ctx, const unsigned char *m, size_t len, double score),
                        void *ctx) {
    set_obj so = {(void *)(uintptr_t)obj, enc};
    set_iter it;
    set_member m;
    set_iter_init(&so, &it);
    while (set_iter_next(&it, &m))
        fn(ctx, m.p, m.len, 1.0);
}

static void set_input_of(zset_input *in, const db_entry *e) {
    in->obj = db_entry_ptr(e);
    in->enc = db_entry_encoding(e);
    in->weight = 1.0;
    in->size = set_in_size;
    in->lookup = set_in_lookup;
    in->each = set_in_each;
}

/* Redis's zunionInterDiffGenericCommand: numkeys at argv[nk], the destination at argv[dst]
 * (0: none). Every key is looked up (WRONGTYPE first) before the options are parsed. */
static void zalgebra_generic(client *c, int dst, int nk, enum zset_op op, int card_only,
                             const char *name) {
    long long setnum;
    if (arg_ll(c, nk, &setnum) < 0) return;
    if (setnum < 1) {
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", name);
        return;
    }
    if (setnum > c->argc - (nk + 1)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    zset_input *ins = alloc_malloc(ALLOC_SUB_OTHER, sizeof(zset_input) * (size_t)setnum);
    zobj *objs = alloc_malloc(ALLOC_SUB_OTHER, sizeof(zobj) * (size_t)setnum);
    int j = nk + 1;
    for (long long i = 0; i < setnum; i++, j++) {
        db_entry *e = lookup_read(c, j); /* the STORE forms too, as Redis 7.0 */
        if (e && db_entry_type(e) != DB_TYPE_ZSET && db_entry_type(e) != DB_TYPE_SET) {
            reply_error(c, ERR_WRONGTYPE);
            goto done;
        }
        if (e && db_entry_type(e) == DB_TYPE_SET) {
            set_input_of(&ins[i], e);
        } else if (e) {
            objs[i] = zobj_of(e);
            zset_input_of(&ins[i], &objs[i], 1.0);
        } else {
            zset_input_of(&ins[i], NULL, 1.0);
        }
    }
    enum zset_aggregate agg = ZSET_AGG_SUM;
    int withscores = 0;
    long long limit = 0;
    while (j < c->argc) {
        long long remaining = c->argc - j;
        if (op != ZSET_DIFF && !card_only && remaining >= setnum + 1 && arg_eq(c, j, "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++) {
                if (zset_parse_score(c->argv[j].ptr, c->argv[j].len, &ins[i].weight) < 0) {
                    reply_error(c, "ERR weight value is not a float");
                    goto done;
                }
            }
        } else if (op != ZSET_DIFF && !card_only && remaining >= 2 && arg_eq(c, j, "aggregate")) {
            j++;
            if (arg_eq(c, j, "sum")) {
                agg = ZSET_AGG_SUM;
            } else if (arg_eq(c, j, "min")) {
                agg = ZSET_AGG_MIN;
            } else if (arg_eq(c, j, "max")) {
                agg = ZSET_AGG_MAX;
            } else {
                reply_error(c, ERR_SYNTAX);
                goto done;
            }
            j++;
        } else if (!dst && !card_only && arg_eq(c, j, "withscores")) {
            j++;
            withscores = 1;
        } else if (card_only && remaining >= 2 && arg_eq(c, j, "limit")) {
            j++;
            if (util_parse_ll(c->argv[j].ptr, c->argv[j].len, &limit) < 0 || limit < 0) {
                reply_error(c, "ERR LIMIT can't be negative");
                goto done;
            }
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
    }
    if (card_only) {
        reply_add_int(&c->reply, (long long)zset_inter_card(ins, (size_t)setnum, (size_t)limit));
        goto done;
    }
    zobj out;
    zset_algebra(op, ins, (size_t)setnum, agg, &out);
    if (dst) {
        if (out.ptr) zset_shrink_if_fits(&out, limits());
        static const char *const events[] = {
            [ZSET_UNION] = "zunionstore", [ZSET_INTER] = "zinterstore", [ZSET_DIFF] = "zdiffstore"};
        reply_add_int(&c->reply, (long long)zset_store_result(c, dst, &out, events[op]));
        goto done;
    }
    if (!out.ptr) {
        reply_add_array_len(&c->reply, 0);
        goto done;
    }
    reply_members_len(c, (long long)zset_length(&out), withscores);
    zset_iter it;
    const unsigned char *m;
    size_t len;
    double s;
    for (zset_iter_at_rank(&it, &out, 0, 0); zset_iter_get(&it, &m, &len, &s);
         zset_iter_next(&it)) {
        if (withscores) reply_add_pair(&c->reply);
        reply_add_bulk(&c->reply, m, len);
        if (withscores) reply_score(c, s);
    }
    zset_free_value(out.ptr, out.enc);
done:
    alloc_free(ALLOC_SUB_OTHER, ins);
    alloc_free(ALLOC_SUB_OTHER, objs);
}

static void cmd_zunion(client *c) {
    zalgebra_generic(c, 0, 1, ZSET_UNION, 0, "zunion");
}
static void cmd_zinter(client *c) {
    zalgebra_generic(c, 0, 1, ZSET_INTER, 0, "zinter");
}
static void cmd_zdiff(client *c) {
    zalgebra_generic(c, 0, 1, ZSET_DIFF, 0, "zdiff");
}
static void cmd_zunionstore(client *c) {
    zalgebra_generic(c, 1, 2, ZSET_UNION, 0, "zunionstore");
}
static void cmd_zinterstore(client *c) {
    zalgebra_generic(c, 1, 2, ZSET_INTER, 0, "zinterstore");
}
static void cmd_zdiffstore(client *c) {
    zalgebra_generic(c, 1, 2, ZSET_DIFF, 0, "zdiffstore");
}
static void cmd_zintercard(client *c) {
    zalgebra_generic(c, 0, 1, ZSET_INTER, 1, "zintercard");
}

/* --- table ------------------------------------------------------------------------------------ */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM
#define K CMD_MOVABLEKEYS
#define B CMD_BLOCKING

/* name, handler, arity, flags, first key, last key, step, group, summary (Redis 7.0's) */
/* clang-format off */
command zsets_commands[] = {
    {"zadd", cmd_zadd, -4, W | M | F, 1, 1, 1, "sorted_set", "Add one or more members to a sorted set, or update its score if it already exists"},
    {"zincrby", cmd_zincrby, 4, W | M | F, 1, 1, 1, "sorted_set", "Increment the score of a member in a sorted set"},
    {"zrem", cmd_zrem, -3, W | F, 1, 1, 1, "sorted_set", "Remove one or more members from a sorted set"},
    {"zscore", cmd_zscore, 3, R | F, 1, 1, 1, "sorted_set", "Get the score associated with the given member in a sorted set"},
    {"zmscore", cmd_zmscore, -3, R | F, 1, 1, 1, "sorted_set", "Get the score associated with the given members in a sorted set"},
    {"zcard", cmd_zcard, 2, R | F, 1, 1, 1, "sorted_set", "Get the number of members in a sorted set"},
    {"zcount", cmd_zcount, 4, R | F, 1, 1, 1, "sorted_set", "Count the members in a sorted set with scores within the given values"},
    {"zlexcount", cmd_zlexcount, 4, R | F, 1, 1, 1, "sorted_set", "Count the number of members in a sorted set between a given lexicographical range"},
    {"zrank", cmd_zrank, 3, R | F, 1, 1, 1, "sorted_set", "Determine the index of a member in a sorted set"},
    {"zrevrank", cmd_zrevrank, 3, R | F, 1, 1, 1, "sorted_set", "Determine the index of a member in a sorted set, with scores ordered from high to low"},
    {"zrange", cmd_zrange, -4, R, 1, 1, 1, "sorted_set", "Return a range of members in a sorted set"},
    {"zrangestore", cmd_zrangestore, -5, W | M, 1, 2, 1, "sorted_set", "Store a range of members from sorted set into another key"},
    {"zrevrange", cmd_zrevrange, -4, R, 1, 1, 1, "sorted_set", "Return a range of members in a sorted set, by index, with scores ordered from high to low"},
    {"zrangebyscore", cmd_zrangebyscore, -4, R, 1, 1, 1, "sorted_set", "Return a range of members in a sorted set, by score"},
    {"zrevrangebyscore", cmd_zrevrangebyscore, -4, R, 1, 1, 1, "sorted_set", "Return a range of members in a sorted set, by score, with scores ordered from high to low"},
    {"zrangebylex", cmd_zrangebylex, -4, R, 1, 1, 1, "sorted_set", "Return a range of members in a sorted set, by lexicographical range"},
    {"zrevrangebylex", cmd_zrevrangebylex, -4, R, 1, 1, 1, "sorted_set", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings."},
    {"zremrangebyrank", cmd_zremrangebyrank, 4, W, 1, 1, 1, "sorted_set", "Remove all members in a sorted set within the given indexes"},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, W, 1, 1, 1, "sorted_set", "Remove all members in a sorted set within the given scores"},
    {"zremrangebylex", cmd_zremrangebylex, 4, W, 1, 1, 1, "sorted_set", "Remove all members in a sorted set between the given lexicographical range"},
    {"zpopmin", cmd_zpopmin, -2, W | F, 1, 1, 1, "sorted_set", "Remove and return members with the lowest scores in a sorted set"},
    {"zpopmax", cmd_zpopmax, -2, W | F, 1, 1, 1, "sorted_set", "Remove and return members with the highest scores in a sorted set"},
    {"zmpop", cmd_zmpop, -4, W | K, 0, 0, 0, "sorted_set", "Remove and return members with scores in a sorted set"},
    {"bzpopmin", cmd_bzpopmin, -3, W | CMD_NOSCRIPT | B | F, 1, -2, 1, "sorted_set", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available"},
    {"bzpopmax", cmd_bzpopmax, -3, W | CMD_NOSCRIPT | B | F, 1, -2, 1, "sorted_set", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available"},
    {"bzmpop", cmd_bzmpop, -5, W | B | K, 0, 0, 0, "sorted_set", "Remove and return members with scores in a sorted set or block until one is available"},
    {"zrandmember", cmd_zrandmember, -2, R, 1, 1, 1, "sorted_set", "Get one or multiple random elements from a sorted set"},
    {"zscan", cmd_zscan, -3, R, 1, 1, 1, "sorted_set", "Incrementally iterate sorted sets elements and associated scores"},
    {"zunion", cmd_zunion, -3, R | K, 0, 0, 0, "sorted_set", "Add multiple sorted sets"},
    {"zinter", cmd_zinter, -3, R | K, 0, 0, 0, "sorted_set", "Intersect multiple sorted sets"},
    {"zdiff", cmd_zdiff, -3, R | K, 0, 0, 0, "sorted_set", "Subtract multiple sorted sets"},
    {"zunionstore", cmd_zunionstore, -4, W | M | K, 1, 1, 1, "sorted_set", "Add multiple sorted sets and store the resulting sorted set in a new key"},
    {"zinterstore", cmd_zinterstore, -4, W | M | K, 1, 1, 1, "sorted_set", "Intersect multiple sorted sets and store the resulting sorted set in a new key"},
    {"zdiffstore", cmd_zdiffstore, -4, W | M | K, 1, 1, 1, "sorted_set", "Subtract multiple sorted sets and store the resulting sorted set in a new key"},
    {"zintercard", cmd_zintercard, -3, R | K, 0, 0, 0, "sorted_set", "Intersect multiple sorted sets and return the cardinality of the result"},
};
/* clang-format on */
const size_t zsets_commands_count = sizeof(zsets_commands) / sizeof(zsets_commands[0]);
