/* Commands of Redis 7.0 that applications use beyond the basic groups: LCS, EXPIRETIME,
 * PEXPIRETIME, SWAPDB, and the replication commands a master without replicas answers (WAIT,
 * ROLE). */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/multi.h"
#include "server/server.h"
#include "util/util.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM

/* ---- LCS ---- */

/* A copy of the string at argv[i] ("" when missing); -1 when it holds another type. */
static int lcs_string(client *c, int i, char **out, size_t *len) {
    db_entry *e = lookup_read(c, i);
    if (e && db_entry_type(e) != DB_TYPE_STRING) return -1;
    const char *v = e ? db_entry_str(e, len) : "";
    if (!e) *len = 0;
    *out = alloc_malloc(ALLOC_SUB_OTHER, *len + 1);
    memcpy(*out, v, *len);
    return 0;
}

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
 *
 * The longest common subsequence by the classic table of (len1+1)*(len2+1) lengths. As Redis
 * 7.0, the table may take at most proto-max-bulk-len bytes (4 per cell): two strings of 11 KB
 * each by default; longer pairs are refused with Redis's error rather than allocated. The
 * matches (IDX) come from walking the table back from the ends, so they are listed from the
 * end of the strings towards their start, as Redis lists them. */
static void cmd_lcs(client *c) {
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    uint32_t *dp = NULL;
    /* Both keys are looked up (a hit or a miss each) before either's type is checked. */
    int bad_a = lcs_string(c, 1, &a, &alen) < 0;
    int bad_b = lcs_string(c, 2, &b, &blen) < 0;
    if (bad_a || bad_b) {
        reply_error(c, "ERR The specified keys must contain string values");
        goto done;
    }
    int getlen = 0, getidx = 0, withmatchlen = 0;
    long long minmatchlen = 0;
    for (int j = 3; j < c->argc; j++) {
        if (arg_eq(c, j, "idx")) {
            getidx = 1;
        } else if (arg_eq(c, j, "len")) {
            getlen = 1;
        } else if (arg_eq(c, j, "withmatchlen")) {
            withmatchlen = 1;
        } else if (arg_eq(c, j, "minmatchlen") && j + 1 < c->argc) {
            if (arg_ll(c, j + 1, &minmatchlen) < 0) goto done;
            if (minmatchlen < 0) minmatchlen = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
    }
    if (getidx && getlen) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        goto done;
    }
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        reply_error(c, "ERR String too long for LCS");
        goto done;
    }
    /* Both lengths are below 2^32: the product of the +1s fits 64 bits. */
    uint64_t cells = (uint64_t)(alen + 1) * (uint64_t)(blen + 1);
    if (cells > UINT64_MAX / sizeof(uint32_t) || cells * sizeof(uint32_t) >= SIZE_MAX ||
        cells * sizeof(uint32_t) > (uint64_t)srv.proto_max_bulk_len) {
        reply_error(c, "ERR Insufficient memory, transient memory for LCS exceeds "
                       "proto-max-bulk-len");
        goto done;
    }
    dp = alloc_malloc(ALLOC_SUB_OTHER, (size_t)cells * sizeof(uint32_t));
    size_t w = blen + 1;
#define CELL(i, j) dp[(size_t)(i)*w + (size_t)(j)]
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                CELL(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                CELL(i, j) = CELL(i - 1, j - 1) + 1;
            else
                CELL(i, j) = CELL(i - 1, j) > CELL(i, j - 1) ? CELL(i - 1, j) : CELL(i, j - 1);
        }
    }
    uint32_t total = CELL(alen, blen);
    if (getlen) {
        reply_add_int(&c->reply, total);
        goto done;
    }
    char *result = alloc_malloc(ALLOC_SUB_OTHER, (size_t)total + 1);
    /* With IDX the reply is a map: "matches" (an array whose length is known at the end,
     * so the matches are collected first) and "len". */
    typedef struct match {
        size_t a0, a1, b0, b1;
    } match;
    match *m = NULL;
    size_t nm = 0, capm = 0;
    size_t i = alen, j = blen, k = total;
    int in_range = 0;
    size_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    while (i > 0 && j > 0) {
        int close = 0;
        if (a[i - 1] == b[j - 1]) {
            result[--k] = a[i - 1];
            if (!in_range) {
                in_range = 1;
                a0 = a1 = i - 1;
                b0 = b1 = j - 1;
            } else { /* the walk only ever moves diagonally inside a range */
                a0--;
                b0--;
            }
            if (a0 == 0 || b0 == 0) close = 1;
            i--;
            j--;
        } else {
            if (CELL(i - 1, j) > CELL(i, j - 1))
                i--;
            else
                j--;
            if (in_range) close = 1;
        }
        if (close && in_range) {
            size_t len = a1 - a0 + 1;
            if (getidx && (minmatchlen == 0 || (long long)len >= minmatchlen)) {
                if (nm == capm) {
                    capm = capm ? capm * 2 : 8;
                    m = alloc_realloc(ALLOC_SUB_OTHER, m, capm * sizeof(*m));
                }
                m[nm++] = (match){a0, a1, b0, b1};
            }
            in_range = 0;
        }
    }
#undef CELL
    if (getidx) {
        reply_add_map_len(&c->reply, 2);
        reply_add_bulk_cstr(&c->reply, "matches");
        reply_add_array_len(&c->reply, (long long)nm);
        for (size_t x = 0; x < nm; x++) {
            reply_add_array_len(&c->reply, 2 + withmatchlen);
            reply_add_array_len(&c->reply, 2);
            reply_add_int(&c->reply, (long long)m[x].a0);
            reply_add_int(&c->reply, (long long)m[x].a1);
            reply_add_array_len(&c->reply, 2);
            reply_add_int(&c->reply, (long long)m[x].b0);
            reply_add_int(&c->reply, (long long)m[x].b1);
            if (withmatchlen) reply_add_int(&c->reply, (long long)(m[x].a1 - m[x].a0 + 1));
        }
        reply_add_bulk_cstr(&c->reply, "len");
        reply_add_int(&c->reply, total);
    } else {
        reply_add_bulk(&c->reply, result, total);
    }
    alloc_free(ALLOC_SUB_OTHER, m);
    alloc_free(ALLOC_SUB_OTHER, result);
done:
    alloc_free(ALLOC_SUB_OTHER, dp);
    alloc_free(ALLOC_SUB_OTHER, a);
    alloc_free(ALLOC_SUB_OTHER, b);
}

/* ---- EXPIRETIME / PEXPIRETIME ---- */

/* The key's absolute expire: -2 no key, -1 none; seconds rounded to the nearest (as Redis). */
static void expiretime_generic(client *c, int in_ms) {
    if (!lookup_read_notouch(c, 1)) {
        reply_add_int(&c->reply, -2);
        return;
    }
    int64_t when = db_get_expire(c->db, c->argv[1].ptr, c->argv[1].len);
    if (when < 0) {
        reply_add_int(&c->reply, -1);
        return;
    }
    /* Rounded as Redis rounds, without overflow for an expire near INT64_MAX (when >= 0). */
    int64_t rounded = (int64_t)(((uint64_t)when + 500) / 1000);
    reply_add_int(&c->reply, in_ms ? when : rounded);
}

static void cmd_expiretime(client *c) {
    expiretime_generic(c, 0);
}

static void cmd_pexpiretime(client *c) {
    expiretime_generic(c, 1);
}

/* ---- SWAPDB ---- */

/* Swaps the contents of dbs a and b: clients keep their db number and see the other content,
 * the key-space statistics follow the keys, and clients blocked on a key of either db are
 * served if that key now holds what they wait for. */
void server_swap_dbs(int a, int b) {
    if (a == b) return;
    multi_dbs_swapped(a, b); /* before: it looks the watched keys up on both sides */
    db *da = srv.dbs[a], *dbb = srv.dbs[b];
    db_swap_index(da, dbb);
    srv.dbs[a] = dbb;
    srv.dbs[b] = da;
    for (client *cl = srv.clients; cl; cl = cl->next)
        cl->db = srv.dbs[cl->db_index];
    blocking_signal_db(a);
    blocking_signal_db(b);
}

/* A db index of SWAPDB: an int, else Redis's "ERR invalid first DB index" (or second). */
static int swapdb_index(client *c, int i, const char *which, long long *out) {
    if (util_parse_ll(c->argv[i].ptr, c->argv[i].len, out) < 0 || *out < INT_MIN ||
        *out > INT_MAX) {
        reply_errorf(c, "ERR invalid %s DB index", which);
        return -1;
    }
    return 0;
}

static void cmd_swapdb(client *c) {
    long long a, b;
    if (swapdb_index(c, 1, "first", &a) < 0 || swapdb_index(c, 2, "second", &b) < 0) return;
    if (a < 0 || a >= srv.databases || b < 0 || b >= srv.databases) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    server_swap_dbs((int)a, (int)b);
    srv.dirty++; /* as Redis, even for a db swapped with itself */
    reply_add_status(&c->reply, "OK");
}

/* ---- replication, as a master without replicas ---- */

/* WAIT numreplicas timeout: no replica can acknowledge, so 0 at once. Redis would block the
 * client until the timeout when numreplicas > 0 (forever with 0); memkv answers at once, as the
 * answer cannot change (deliberate). The arguments are checked as Redis checks them. */
static void cmd_wait(client *c) {
    long long n, timeout;
    if (arg_ll(c, 1, &n) < 0) return;
    if (util_parse_ll(c->argv[2].ptr, c->argv[2].len, &timeout) < 0) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    reply_add_int(&c->reply, 0);
}

/* ROLE: a master at replication offset 0 with no replica. */
static void cmd_role(client *c) {
    reply_add_array_len(&c->reply, 3);
    reply_add_bulk_cstr(&c->reply, "master");
    reply_add_int(&c->reply, 0);
    reply_add_array_len(&c->reply, 0);
}

/* clang-format off */
command extra_commands[] = {
    {"lcs", cmd_lcs, -3, R, 1, 2, 1, "string", "Finds the longest common substring."},
    {"expiretime", cmd_expiretime, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix timestamp."},
    {"pexpiretime", cmd_pexpiretime, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp."},
    {"swapdb", cmd_swapdb, 3, W | F, 0, 0, 0, "server", "Swaps two Redis databases."},
    {"wait", cmd_wait, 3, CMD_NOSCRIPT, 0, 0, 0, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."},
    {"role", cmd_role, 1, CMD_NOSCRIPT | F, 0, 0, 0, "server", "Returns the replication role."},
};
/* clang-format on */
const size_t extra_commands_count = sizeof(extra_commands) / sizeof(extra_commands[0]);
