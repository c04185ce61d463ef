/* Bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO) as Redis 7.0
 * answers them. A bitmap is a string value: bit 0 is the most significant bit of byte 0. Strings
 * grow through db_string_resize and are written through db_set_string, so the key-space
 * statistics follow every change of size. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define M CMD_DENYOOM

static const char *const ERR_BIT_OFFSET = "ERR bit offset is not an integer or out of range";
static const char *const ERR_BIT_VALUE = "ERR bit is not an integer or out of range";
static const char *const ERR_BITFIELD_TYPE =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is.";

/* ---- arguments ---- */

/* A bit offset (argv[i]): an integer >= 0 whose byte lies below the string size limit. With
 * `bits` > 0, "#n" means n * bits (BITFIELD's offsets counted in fields). Returns 0, or -1 after
 * replying. */
static int arg_bit_offset(client *c, int i, int bits, uint64_t *out) {
    const resp_arg *a = &c->argv[i];
    int hash = bits > 0 && a->len > 0 && a->ptr[0] == '#';
    long long v;
    if (util_parse_ll(a->ptr + hash, a->len - (size_t)hash, &v) < 0) {
        reply_error(c, ERR_BIT_OFFSET);
        return -1;
    }
    /* As Redis: the multiplication wraps rather than failing, the sign check catches most. */
    if (hash) v = (long long)((unsigned long long)v * (unsigned long long)bits);
    if (v < 0 || (uint64_t)(v >> 3) >= string_max_len()) {
        reply_error(c, ERR_BIT_OFFSET);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* A BITFIELD type: i1..i64 or u1..u63 (lower-case letter; the number ends at a NUL, as Redis
 * reads a C string). Returns 0, or -1 after replying. */
static int arg_bitfield_type(client *c, int i, int *is_signed, int *bits) {
    const resp_arg *a = &c->argv[i];
    if (a->len == 0 || (a->ptr[0] != 'i' && a->ptr[0] != 'u')) {
        reply_error(c, ERR_BITFIELD_TYPE);
        return -1;
    }
    *is_signed = a->ptr[0] == 'i';
    const char *nul = memchr(a->ptr, '\0', a->len);
    size_t n = (nul ? (size_t)(nul - a->ptr) : a->len) - 1;
    long long v;
    if (util_parse_ll(a->ptr + 1, n, &v) < 0 || v < 1 || v > (*is_signed ? 64 : 63)) {
        reply_error(c, ERR_BITFIELD_TYPE);
        return -1;
    }
    *bits = (int)v;
    return 0;
}

/* BYTE or BIT (argv[i]): 1 for BIT, 0 for BYTE, -1 after a syntax error. */
static int arg_bit_unit(client *c, int i) {
    if (arg_eq(c, i, "bit")) return 1;
    if (arg_eq(c, i, "byte")) return 0;
    reply_error(c, ERR_SYNTAX);
    return -1;
}

/* ---- the string a write works on ---- */

/* The string at argv[1], created or zero-padded so that bit `maxbit` exists, for SETBIT and a
 * BITFIELD that writes. NULL after replying WRONGTYPE. Redis keeps such a value "raw". */
static db_entry *string_for_bit_write(client *c, uint64_t maxbit, int *grew) {
    size_t need = (size_t)(maxbit >> 3) + 1;
    db_entry *e = lookup_write(c, 1);
    if (e && db_entry_type(e) != DB_TYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return NULL;
    }
    size_t len = 0;
    /* Made or grown unsignalled: the caller signals once, when Redis does (db_changes_mute). */
    db_muted saved;
    db_changes_mute(&saved);
    if (!e) {
        e = db_set_string(c->db, c->argv[1].ptr, c->argv[1].len, "", 0, 0);
        db_entry_set_lru(e, db_lru_clock());
    } else {
        db_entry_str(e, &len);
    }
    *grew = need > len; /* created or lengthened: Redis's "dirty" for SETBIT's event */
    if (need > len) e = db_string_resize(c->db, e, need);
    db_changes_unmute(&saved);
    db_entry_set_str_form(e, DB_STR_RAW);
    return e;
}

/* The string at argv[i] for a read: 1 with its bytes, 0 when missing, -1 after WRONGTYPE. */
static int string_for_read(client *c, int i, const unsigned char **p, size_t *len) {
    int wrongtype;
    db_entry *e = lookup_string_or_reply(c, i, &wrongtype);
    if (wrongtype) return -1;
    if (!e) return 0;
    *p = (const unsigned char *)db_entry_str(e, len);
    return 1;
}

/* ---- SETBIT / GETBIT ---- */

static void cmd_setbit(client *c) {
    uint64_t off;
    long long on;
    if (arg_bit_offset(c, 2, 0, &off) < 0) return;
    if (util_parse_ll(c->argv[3].ptr, c->argv[3].len, &on) < 0 || (on & ~1LL)) {
        reply_error(c, ERR_BIT_VALUE);
        return;
    }
    int grew;
    db_entry *e = string_for_bit_write(c, off, &grew);
    if (!e) return;
    unsigned char *p = (unsigned char *)db_entry_str_mut(e);
    unsigned mask = 1u << (7 - (off & 7));
    int old = (p[off >> 3] & mask) != 0;
    if (on)
        p[off >> 3] |= (unsigned char)mask;
    else
        p[off >> 3] &= (unsigned char)~mask;
    if (grew || old != (int)on) { /* as 7.0: the string made or grown, or the bit changed */
        key_changed(c, 1);
        notify_key(c, NOTIFY_STRING, "setbit", 1);
        srv.dirty++;
    }
    reply_add_int(&c->reply, old);
}

static void cmd_getbit(client *c) {
    uint64_t off;
    if (arg_bit_offset(c, 2, 0, &off) < 0) return;
    const unsigned char *p;
    size_t len;
    int r = string_for_read(c, 1, &p, &len);
    if (r < 0) return;
    int bit = r > 0 && (off >> 3) < len && (p[off >> 3] >> (7 - (off & 7))) & 1;
    reply_add_int(&c->reply, bit);
}

/* ---- BITCOUNT / BITPOS ---- */

/* Turns start..end (negative: from the end) over a string of `total` units into a range of
 * bits [*from, *to] of the string; returns 0 when the range is empty. */
static int bit_range(long long start, long long end, long long total, int in_bits, uint64_t *from,
                     uint64_t *to) {
    if (start < 0) start += total;
    if (end < 0) end += total;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= total) end = total - 1;
    if (start > end) return 0;
    *from = in_bits ? (uint64_t)start : (uint64_t)start * 8;
    *to = in_bits ? (uint64_t)end : (uint64_t)end * 8 + 7;
    return 1;
}

/* Set bits in bits [from, to] of p. */
static long long popcount_range(const unsigned char *p, uint64_t from, uint64_t to) {
    uint64_t fb = from >> 3, tb = to >> 3;
    unsigned char head = (unsigned char)(0xffu >> (from & 7));
    unsigned char tail = (unsigned char)(0xffu << (7 - (to & 7)));
    if (fb == tb) return __builtin_popcount(p[fb] & head & tail);
    long long n = __builtin_popcount(p[fb] & head) + __builtin_popcount(p[tb] & tail);
    uint64_t i = fb + 1;
    for (; i + 8 <= tb; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        n += __builtin_popcountll(w);
    }
    for (; i < tb; i++)
        n += __builtin_popcount(p[i]);
    return n;
}

/* BITCOUNT key [start end [BYTE|BIT]]. As Redis 7.0: a missing key answers 0 before the
 * arguments are looked at. */
static void cmd_bitcount(client *c) {
    const unsigned char *p;
    size_t len;
    int r = string_for_read(c, 1, &p, &len);
    if (r < 0) return;
    if (r == 0) {
        reply_add_int(&c->reply, 0);
        return;
    }
    long long start = 0, end = -1;
    int in_bits = 0;
    if (c->argc == 4 || c->argc == 5) {
        if (arg_ll(c, 2, &start) < 0 || arg_ll(c, 3, &end) < 0) return;
        if (start < 0 && end < 0 && start > end) {
            reply_add_int(&c->reply, 0);
            return;
        }
        if (c->argc == 5 && (in_bits = arg_bit_unit(c, 4)) < 0) return;
    } else if (c->argc != 2) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long total = in_bits ? (long long)len * 8 : (long long)len;
    uint64_t from, to;
    if (!bit_range(start, end, total, in_bits, &from, &to)) {
        reply_add_int(&c->reply, 0);
        return;
    }
    reply_add_int(&c->reply, popcount_range(p, from, to));
}

/* The first bit equal to `bit` in bits [from, to] of p, or -1. */
static long long find_bit(const unsigned char *p, uint64_t from, uint64_t to, int bit) {
    unsigned char skip = bit ? 0x00 : 0xff; /* a byte with nothing to find */
    uint64_t i = from;
    while (i <= to) {
        if ((i & 7) == 0 && i + 7 <= to) {
            uint64_t b = i >> 3;
            if (p[b] == skip) {
                i += 8;
                continue;
            }
        }
        if (((p[i >> 3] >> (7 - (i & 7))) & 1) == bit) return (long long)i;
        i++;
    }
    return -1;
}

/* BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeros: 0 for a clear bit, -1 for
 * a set one. Looking for a clear bit without an end treats the string as padded with zeros, so
 * the answer is then the first bit past the range; with an end given it is -1. */
static void cmd_bitpos(client *c) {
    long long bit;
    if (arg_ll(c, 2, &bit) < 0) return;
    if (bit != 0 && bit != 1) {
        reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    const unsigned char *p;
    size_t len;
    int r = string_for_read(c, 1, &p, &len);
    if (r < 0) return;
    if (r == 0) {
        reply_add_int(&c->reply, bit ? -1 : 0);
        return;
    }
    long long start = 0, end = -1;
    int in_bits = 0, end_given = 0;
    if (c->argc >= 4 && c->argc <= 6) {
        if (arg_ll(c, 3, &start) < 0) return;
        if (c->argc == 6 && (in_bits = arg_bit_unit(c, 5)) < 0) return;
        if (c->argc >= 5) {
            if (arg_ll(c, 4, &end) < 0) return;
            end_given = 1;
        }
    } else if (c->argc != 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long total = in_bits ? (long long)len * 8 : (long long)len;
    uint64_t from, to;
    if (!bit_range(start, end, total, in_bits, &from, &to)) {
        reply_add_int(&c->reply, -1);
        return;
    }
    long long pos = find_bit(p, from, to, (int)bit);
    if (pos < 0 && bit == 0 && !end_given) pos = (long long)to + 1;
    reply_add_int(&c->reply, pos);
}

/* ---- BITOP ---- */

enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* BITOP AND|OR|XOR|NOT destkey key [key ...]: missing keys and the tails of shorter strings
 * count as zeros; an empty result deletes destkey. Replies the result's length. */
static void cmd_bitop(client *c) {
    int op;
    if (arg_eq(c, 1, "and"))
        op = BITOP_AND;
    else if (arg_eq(c, 1, "or"))
        op = BITOP_OR;
    else if (arg_eq(c, 1, "xor"))
        op = BITOP_XOR;
    else if (arg_eq(c, 1, "not"))
        op = BITOP_NOT;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int nsrc = c->argc - 3;
    if (op == BITOP_NOT && nsrc != 1) {
        reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    /* Every source is looked up (and type-checked) first; the bytes are copied one source
     * at a time so that no entry pointer is held across another lookup. */
    size_t maxlen = 0;
    for (int i = 3; i < c->argc; i++) {
        const unsigned char *p;
        size_t len = 0;
        int r = string_for_read(c, i, &p, &len);
        if (r < 0) return;
        if (r > 0 && len > maxlen) maxlen = len;
    }
    unsigned char *res = NULL;
    if (maxlen > 0) {
        res = alloc_malloc(ALLOC_SUB_OTHER, maxlen);
        for (int i = 3; i < c->argc; i++) {
            db_entry *e = db_peek(c->db, c->argv[i].ptr, c->argv[i].len);
            size_t len = 0;
            const unsigned char *p = e ? (const unsigned char *)db_entry_str(e, &len) : NULL;
            for (size_t k = 0; k < maxlen; k++) {
                unsigned char b = k < len ? p[k] : 0;
                if (i == 3)
                    res[k] = op == BITOP_NOT ? (unsigned char)~b : b;
                else if (op == BITOP_AND)
                    res[k] &= b;
                else if (op == BITOP_OR)
                    res[k] |= b;
                else
                    res[k] ^= b;
            }
        }
        lookup_write(c, 2); /* Redis's setKey: an expired destination goes first */
        db_entry *e =
            db_set_string(c->db, c->argv[2].ptr, c->argv[2].len, (const char *)res, maxlen, 0);
        db_entry_set_lru(e, db_lru_clock());
        db_entry_set_str_form(e, DB_STR_RAW);
        alloc_free(ALLOC_SUB_OTHER, res);
        notify_key(c, NOTIFY_STRING, "set", 2);
        srv.dirty++;
    } else if (db_delete(c->db, c->argv[2].ptr, c->argv[2].len)) {
        notify_key(c, NOTIFY_GENERIC, "del", 2);
        srv.dirty++;
    }
    reply_add_int(&c->reply, (long long)maxlen);
}

/* ---- BITFIELD ---- */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { BF_WRAP, BF_SAT, BF_FAIL };

typedef struct bf_op {
    uint64_t offset;
    long long value; /* SET's value, INCRBY's increment */
    int op, is_signed, bits, overflow;
} bf_op;

/* `bits` bits from bit `offset` of p (most significant first); bytes at or past len are 0. */
static uint64_t bf_read(const unsigned char *p, size_t len, uint64_t offset, int bits) {
    uint64_t v = 0;
    for (int i = 0; i < bits; i++) {
        uint64_t b = offset + (uint64_t)i;
        int bit = (b >> 3) < len ? (p[b >> 3] >> (7 - (b & 7))) & 1 : 0;
        v = (v << 1) | (uint64_t)bit;
    }
    return v;
}

static void bf_write(unsigned char *p, uint64_t offset, int bits, uint64_t v) {
    for (int i = 0; i < bits; i++) {
        uint64_t b = offset + (uint64_t)i;
        unsigned mask = 1u << (7 - (b & 7));
        if ((v >> (bits - 1 - i)) & 1)
            p[b >> 3] |= (unsigned char)mask;
        else
            p[b >> 3] &= (unsigned char)~mask;
    }
}

/* The low `bits` bits of v as a signed number of that width. */
static int64_t bf_sign_extend(uint64_t v, int bits) {
    if (bits == 64) return (int64_t)v;
    uint64_t msb = UINT64_C(1) << (bits - 1);
    v &= (msb << 1) - 1;
    return (int64_t)((v ^ msb) - msb);
}

/* value + incr in a signed field of `bits`: 0 and *out when it fits; otherwise 1 (too big) or
 * -1 (too small) with *out as the overflow policy makes it. The tests are Redis's, in wrapping
 * arithmetic, so that a SET value far outside the field behaves as it does there. */
static int bf_signed_add(int64_t value, int64_t incr, int bits, int overflow, int64_t *out) {
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int64_t wrapped = bf_sign_extend((uint64_t)value + (uint64_t)incr, bits);
    int dir = 0;
    if (value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr))
        dir = 1;
    else if (value < min || (bits != 64 && incr < minincr) ||
             (value < 0 && incr < 0 && incr < minincr))
        dir = -1;
    if (dir == 0 || overflow == BF_WRAP)
        *out = wrapped;
    else
        *out = dir > 0 ? max : min;
    return dir;
}

static int bf_unsigned_add(uint64_t value, int64_t incr, int bits, int overflow, uint64_t *out) {
    uint64_t max = (UINT64_C(1) << bits) - 1; /* bits <= 63 */
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    uint64_t wrapped = (value + (uint64_t)incr) & max;
    int dir = 0;
    if (value > max || (incr > 0 && incr > maxincr))
        dir = 1;
    else if (incr < 0 && incr < minincr)
        dir = -1;
    if (dir == 0 || overflow == BF_WRAP)
        *out = wrapped;
    else
        *out = dir > 0 ? max : 0;
    return dir;
}

/* Runs one SET or INCRBY on the string p and replies its result (null when OVERFLOW FAIL
 * refused it: nothing is written then). Returns BF_REFUSED, BF_SAME (the value written was
 * there already) or BF_CHANGED. */
enum { BF_REFUSED, BF_SAME, BF_CHANGED };

static int bf_apply(client *c, unsigned char *p, size_t len, const bf_op *o) {
    uint64_t raw = bf_read(p, len, o->offset, o->bits);
    uint64_t store;
    long long reply;
    int dir;
    if (o->is_signed) {
        int64_t old = bf_sign_extend(raw, o->bits), nv;
        if (o->op == BF_INCRBY) {
            dir = bf_signed_add(old, o->value, o->bits, o->overflow, &nv);
            reply = nv;
        } else {
            dir = bf_signed_add(o->value, 0, o->bits, o->overflow, &nv);
            reply = old;
        }
        store = (uint64_t)nv;
    } else {
        uint64_t nv;
        if (o->op == BF_INCRBY) {
            dir = bf_unsigned_add(raw, o->value, o->bits, o->overflow, &nv);
            reply = (long long)nv;
        } else {
            dir = bf_unsigned_add((uint64_t)o->value, 0, o->bits, o->overflow, &nv);
            reply = (long long)raw;
        }
        store = nv;
    }
    if (dir != 0 && o->overflow == BF_FAIL) {
        reply_add_null(&c->reply);
        return BF_REFUSED;
    }
    bf_write(p, o->offset, o->bits, store);
    reply_add_int(&c->reply, reply);
    uint64_t mask = o->bits == 64 ? UINT64_MAX : (UINT64_C(1) << o->bits) - 1;
    return (store & mask) != raw ? BF_CHANGED : BF_SAME;
}

/* BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
 * [OVERFLOW WRAP|SAT|FAIL] ...; BITFIELD_RO takes GET only. Every operation is parsed (and
 * any error replied) before the key is touched. */
static void bitfield_generic(client *c, int read_only_cmd) {
    int nops = 0, overflow = BF_WRAP, writes = 0, grew = 0;
    uint64_t highest = 0;
    bf_op *ops = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*ops) * (size_t)(c->argc / 3 + 1));
    for (int j = 2; j < c->argc; j++) {
        int more = c->argc - j - 1;
        bf_op o = {.overflow = overflow};
        if (arg_eq(c, j, "get") && more >= 2) {
            o.op = BF_GET;
        } else if (arg_eq(c, j, "set") && more >= 3) {
            o.op = BF_SET;
        } else if (arg_eq(c, j, "incrby") && more >= 3) {
            o.op = BF_INCRBY;
        } else if (arg_eq(c, j, "overflow") && more >= 1) {
            j++;
            if (arg_eq(c, j, "wrap")) {
                overflow = BF_WRAP;
            } else if (arg_eq(c, j, "sat")) {
                overflow = BF_SAT;
            } else if (arg_eq(c, j, "fail")) {
                overflow = BF_FAIL;
            } else {
                reply_error(c, "ERR Invalid OVERFLOW type specified");
                goto done;
            }
            continue;
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
        if (arg_bitfield_type(c, j + 1, &o.is_signed, &o.bits) < 0) goto done;
        if (arg_bit_offset(c, j + 2, o.bits, &o.offset) < 0) goto done;
        if (o.op != BF_GET) {
            writes = 1;
            if (o.offset + (uint64_t)o.bits - 1 > highest)
                highest = o.offset + (uint64_t)o.bits - 1;
            if (arg_ll(c, j + 3, &o.value) < 0) goto done;
        }
        ops[nops++] = o;
        j += o.op == BF_GET ? 2 : 3;
    }

    db_entry *e;
    if (!writes) {
        int wrongtype;
        e = lookup_string_or_reply(c, 1, &wrongtype);
        if (wrongtype) goto done;
    } else {
        if (read_only_cmd) {
            reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
            goto done;
        }
        e = string_for_bit_write(c, highest, &grew);
        if (!e) goto done;
    }
    size_t len = 0;
    unsigned char *p = NULL;
    if (e) {
        db_entry_str(e, &len);
        p = (unsigned char *)db_entry_str_mut(e); /* written only when `writes` */
    }
    reply_add_array_len(&c->reply, nops);
    long long changes = 0; /* Redis's: per write applied that grew the string or changed it */
    for (int i = 0; i < nops; i++) {
        const bf_op *o = &ops[i];
        if (o->op != BF_GET) {
            int r = bf_apply(c, p, len, o);
            changes += r == BF_CHANGED || (grew && r != BF_REFUSED);
            continue;
        }
        uint64_t raw = p ? bf_read(p, len, o->offset, o->bits) : 0;
        reply_add_int(&c->reply,
                      o->is_signed ? (long long)bf_sign_extend(raw, o->bits) : (long long)raw);
    }
    if (changes) { /* one signal, and the save rules count every change */
        key_changed(c, 1);
        srv.dirty += changes;
        notify_key(c, NOTIFY_STRING, "setbit", 1);
    }
done:
    alloc_free(ALLOC_SUB_OTHER, ops);
}

static void cmd_bitfield(client *c) {
    bitfield_generic(c, 0);
}

static void cmd_bitfield_ro(client *c) {
    bitfield_generic(c, 1);
}

/* clang-format off */
command bitmaps_commands[] = {
    {"setbit", cmd_setbit, 4, W | M, 1, 1, 1, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."},
    {"getbit", cmd_getbit, 3, R | F, 1, 1, 1, "bitmap", "Returns a bit value by offset."},
    {"bitcount", cmd_bitcount, -2, R, 1, 1, 1, "bitmap", "Counts the number of set bits (population counting) in a string."},
    {"bitpos", cmd_bitpos, -3, R, 1, 1, 1, "bitmap", "Finds the first set (1) or clear (0) bit in a string."},
    {"bitop", cmd_bitop, -4, W | M, 2, -1, 1, "bitmap", "Performs bitwise operations on multiple strings, and stores the result."},
    {"bitfield", cmd_bitfield, -2, W | M, 1, 1, 1, "bitmap", "Performs arbitrary bitfield integer operations on strings."},
    {"bitfield_ro", cmd_bitfield_ro, -2, R | F, 1, 1, 1, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings."},
};
/* clang-format on */
const size_t bitmaps_commands_count = sizeof(bitmaps_commands) / sizeof(bitmaps_commands[0]);
