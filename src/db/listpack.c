/* listpack — see listpack.h for the contract.
 *
 * Layout: [total bytes u32 LE][count u16 LE][element]...[0xFF]. An element is its encoding
 * (1, 2 or 5 header bytes for strings; 1 to 9 bytes for integers), its data, and a backward
 * length: the size of encoding + data written in 7-bit groups, most significant group first,
 * where every group except the leftmost has its high bit set, so that it can be read from its
 * last byte walking left.
 *
 * The allocation is always exactly lp_bytes() long, so the size-class counters can use the
 * sized allocator calls.
 *
 * Conventions for NULL positions, which the header leaves open: lp_next(lp, NULL) is NULL (past
 * the end stays there), lp_prev(lp, NULL) is the last element; lp_insert with p == NULL and
 * LP_BEFORE appends (before "past the end"), with LP_AFTER prepends (after "before the start"),
 * and with LP_REPLACE changes nothing.
 */
#include "db/listpack.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LP_HDR 6
#define LP_EOF 0xFF
#define LP_COUNT_UNKNOWN 65535
#define LP_MAX_BYTES UINT32_MAX

/* Encoding bytes. */
#define LP_ENC_7BIT_UINT_MASK 0x80 /* 0xxxxxxx */
#define LP_ENC_6BIT_STR 0x80       /* 10xxxxxx */
#define LP_ENC_13BIT_INT 0xC0      /* 110xxxxx yyyyyyyy */
#define LP_ENC_12BIT_STR 0xE0      /* 1110xxxx yyyyyyyy */
#define LP_ENC_32BIT_STR 0xF0
#define LP_ENC_16BIT_INT 0xF1
#define LP_ENC_24BIT_INT 0xF2
#define LP_ENC_32BIT_INT 0xF3
#define LP_ENC_64BIT_INT 0xF4

static inline uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline unsigned hdr_count(const unsigned char *lp) {
    return (unsigned)lp[4] | (unsigned)lp[5] << 8;
}

static inline void set_hdr_count(unsigned char *lp, size_t n) {
    if (n > LP_COUNT_UNKNOWN) n = LP_COUNT_UNKNOWN;
    lp[4] = (unsigned char)n;
    lp[5] = (unsigned char)(n >> 8);
}

static void lp_abort(const char *what) {
    fprintf(stderr, "listpack: %s\n", what);
    abort();
}

/* Bytes of the backward length for an element of l bytes (Redis's thresholds, so that the
 * bytes are the same as Redis writes). */
static inline size_t backlen_size(size_t l) {
    if (l <= 127) return 1;
    if (l < 16383) return 2;
    if (l < 2097151) return 3;
    if (l < 268435455) return 4;
    return 5;
}

static void backlen_write(unsigned char *buf, size_t l) {
    size_t n = backlen_size(l);
    /* buf[n-1] holds the low 7 bits; every byte but buf[0] has bit 7 set ("more on the left"). */
    for (size_t i = n; i-- > 0;) {
        buf[i] = (unsigned char)((l & 127) | (i ? 128 : 0));
        l >>= 7;
    }
}

/* Decode the backward length whose last byte is at p; *nbytes gets how many bytes it has.
 * Returns SIZE_MAX if it runs past `start` (only checked when start != NULL) or over 5
 * bytes. */
static size_t backlen_read(const unsigned char *p, const unsigned char *start, size_t *nbytes) {
    size_t v = 0;
    unsigned shift = 0;
    size_t n = 0;
    *nbytes = 0;
    for (;;) {
        if (start && p < start) return SIZE_MAX;
        v |= (size_t)(p[0] & 127) << shift;
        n++;
        if (!(p[0] & 128)) break;
        if (n == 5) return SIZE_MAX;
        shift += 7;
        p--;
    }
    *nbytes = n;
    return v;
}

/* Size of an element's encoding + data from its first bytes; 0 for the end byte or an invalid
 * encoding. */
static inline size_t enc_data_size(const unsigned char *p) {
    unsigned char b = p[0];
    if (!(b & LP_ENC_7BIT_UINT_MASK)) return 1;
    if ((b & 0xC0) == LP_ENC_6BIT_STR) return 1 + (size_t)(b & 0x3F);
    if ((b & 0xE0) == LP_ENC_13BIT_INT) return 2;
    if ((b & 0xF0) == LP_ENC_12BIT_STR) return 2 + ((size_t)(b & 0x0F) << 8 | p[1]);
    switch (b) {
    case LP_ENC_32BIT_STR:
        return 5 + (size_t)rd_u32(p + 1);
    case LP_ENC_16BIT_INT:
        return 3;
    case LP_ENC_24BIT_INT:
        return 4;
    case LP_ENC_32BIT_INT:
        return 5;
    case LP_ENC_64BIT_INT:
        return 9;
    default:
        return 0;
    }
}

/* Bytes of the encoding header alone (what precedes the data), for an element's first byte. */
static inline size_t enc_header_size(unsigned char b) {
    if (!(b & LP_ENC_7BIT_UINT_MASK)) return 1;
    if ((b & 0xC0) == LP_ENC_6BIT_STR) return 1;
    if ((b & 0xE0) == LP_ENC_13BIT_INT) return 2;
    if ((b & 0xF0) == LP_ENC_12BIT_STR) return 2;
    if (b == LP_ENC_32BIT_STR) return 5;
    return 1;
}

static inline size_t elem_size(const unsigned char *p) {
    size_t l = enc_data_size(p);
    return l + backlen_size(l);
}

/* Encoding of an element about to be written: header bytes (up to 9, for integers all of the
 * element but the backlen), plus, for strings, the data to copy after them. */
typedef struct lp_enc {
    unsigned char hdr[9];
    size_t hlen;
    const unsigned char *data; /* NULL for integers */
    size_t dlen;
} lp_enc;

static void encode_int(lp_enc *e, long long v) {
    e->data = NULL;
    e->dlen = 0;
    if (v >= 0 && v <= 127) {
        e->hdr[0] = (unsigned char)v;
        e->hlen = 1;
    } else if (v >= -4096 && v <= 4095) {
        uint64_t u = v < 0 ? (uint64_t)((1 << 13) + v) : (uint64_t)v;
        e->hdr[0] = (unsigned char)(LP_ENC_13BIT_INT | (u >> 8));
        e->hdr[1] = (unsigned char)(u & 0xFF);
        e->hlen = 2;
    } else {
        uint64_t u = (uint64_t)v;
        size_t n;
        if (v >= INT16_MIN && v <= INT16_MAX) {
            e->hdr[0] = LP_ENC_16BIT_INT;
            n = 2;
        } else if (v >= -8388608 && v <= 8388607) {
            e->hdr[0] = LP_ENC_24BIT_INT;
            n = 3;
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            e->hdr[0] = LP_ENC_32BIT_INT;
            n = 4;
        } else {
            e->hdr[0] = LP_ENC_64BIT_INT;
            n = 8;
        }
        for (size_t i = 0; i < n; i++)
            e->hdr[1 + i] = (unsigned char)(u >> (8 * i));
        e->hlen = 1 + n;
    }
}

static void encode(lp_enc *e, const void *s, size_t len) {
    long long v;
    if (len > 0 && len < 21 && util_parse_ll(s, len, &v) == 0) {
        encode_int(e, v);
        return;
    }
    e->data = s;
    e->dlen = len;
    if (len < 64) {
        e->hdr[0] = (unsigned char)(LP_ENC_6BIT_STR | len);
        e->hlen = 1;
    } else if (len < 4096) {
        e->hdr[0] = (unsigned char)(LP_ENC_12BIT_STR | (len >> 8));
        e->hdr[1] = (unsigned char)(len & 0xFF);
        e->hlen = 2;
    } else {
        if (len > UINT32_MAX) lp_abort("string too long");
        e->hdr[0] = LP_ENC_32BIT_STR;
        wr_u32(e->hdr + 1, (uint32_t)len);
        e->hlen = 5;
    }
}

unsigned char *lp_new(alloc_sub sub) {
    unsigned char *lp = alloc_malloc(sub, LP_HDR + 1);
    wr_u32(lp, LP_HDR + 1);
    set_hdr_count(lp, 0);
    lp[LP_HDR] = LP_EOF;
    return lp;
}

void lp_free(alloc_sub sub, unsigned char *lp) {
    if (lp) alloc_free_sized(sub, lp, lp_bytes(lp));
}

unsigned char *lp_dup(alloc_sub sub, const unsigned char *lp) {
    size_t n = lp_bytes(lp);
    unsigned char *c = alloc_malloc(sub, n);
    memcpy(c, lp, n);
    return c;
}

static size_t count_walk(const unsigned char *lp) {
    size_t n = 0;
    const unsigned char *p = lp + LP_HDR;
    while (*p != LP_EOF) {
        p += elem_size(p);
        n++;
    }
    return n;
}

size_t lp_length_walk(const unsigned char *lp) {
    return count_walk(lp);
}

unsigned char *lp_first(unsigned char *lp) {
    unsigned char *p = lp + LP_HDR;
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_last(unsigned char *lp) {
    return lp_prev(lp, NULL);
}

unsigned char *lp_next(unsigned char *lp, unsigned char *p) {
    (void)lp;
    if (!p) return NULL;
    p += elem_size(p);
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_prev(unsigned char *lp, unsigned char *p) {
    if (!p) p = lp + lp_bytes(lp) - 1; /* the end byte */
    if (p == lp + LP_HDR) return NULL;
    size_t nb;
    size_t l = backlen_read(p - 1, NULL, &nb);
    return p - nb - l;
}

unsigned char *lp_seek(unsigned char *lp, long long index) {
    unsigned n = hdr_count(lp);
    int forward;
    if (n != LP_COUNT_UNKNOWN) {
        if (index < 0) index += n;
        if (index < 0 || index >= (long long)n) return NULL;
        forward = index <= (long long)n / 2;
        if (!forward) index = index - (long long)n; /* negative: from the end */
    } else {
        forward = index >= 0;
    }
    if (forward) {
        unsigned char *p = lp_first(lp);
        while (p && index-- > 0)
            p = lp_next(lp, p);
        return p;
    }
    unsigned char *p = lp_last(lp);
    while (p && ++index < 0)
        p = lp_prev(lp, p);
    return p;
}

static long long decode_int(const unsigned char *p) {
    unsigned char b = p[0];
    if (!(b & LP_ENC_7BIT_UINT_MASK)) return b;
    if ((b & 0xE0) == LP_ENC_13BIT_INT) {
        long long u = (long long)((unsigned)(b & 0x1F) << 8 | p[1]);
        return u >= (1 << 12) ? u - (1 << 13) : u;
    }
    size_t n = b == LP_ENC_16BIT_INT   ? 2
               : b == LP_ENC_24BIT_INT ? 3
               : b == LP_ENC_32BIT_INT ? 4
                                       : 8;
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u |= (uint64_t)p[1 + i] << (8 * i);
    if (n < 8 && (u >> (8 * n - 1))) u |= ~UINT64_C(0) << (8 * n); /* sign-extend */
    return (long long)u;
}

static inline int is_string(unsigned char b) {
    return (b & 0xC0) == LP_ENC_6BIT_STR || (b & 0xF0) == LP_ENC_12BIT_STR || b == LP_ENC_32BIT_STR;
}

const unsigned char *lp_get(const unsigned char *p, size_t *len, long long *ll) {
    unsigned char b = p[0];
    if (is_string(b)) {
        size_t h = enc_header_size(b);
        *len = enc_data_size(p) - h;
        return p + h;
    }
    *ll = decode_int(p);
    return NULL;
}

const unsigned char *lp_get_bytes(const unsigned char *p, size_t *len,
                                  unsigned char buf[LP_INTBUF]) {
    long long v;
    const unsigned char *s = lp_get(p, len, &v);
    if (s) return s;
    *len = util_format_ll((char *)buf, v);
    return buf;
}

int lp_get_int(const unsigned char *p, long long *ll) {
    size_t len;
    long long v;
    const unsigned char *s = lp_get(p, &len, &v);
    if (!s) {
        *ll = v;
        return 1;
    }
    return len > 0 && len < 21 && util_parse_ll((const char *)s, len, ll) == 0;
}

/* What an element is compared with: its bytes, and whether they are a canonical integer. */
typedef struct lp_needle {
    const void *s;
    size_t len;
    int is_int;
    long long v;
} lp_needle;

static void needle_init(lp_needle *n, const void *s, size_t len) {
    n->s = s;
    n->len = len;
    n->is_int = len > 0 && len < 21 && util_parse_ll(s, len, &n->v) == 0;
}

static int needle_equals(const unsigned char *p, const lp_needle *n) {
    size_t len;
    long long v;
    const unsigned char *s = lp_get(p, &len, &v);
    if (s) return len == n->len && (len == 0 || memcmp(s, n->s, len) == 0);
    return n->is_int && v == n->v;
}

int lp_equals(const unsigned char *p, const void *s, size_t len) {
    lp_needle n;
    needle_init(&n, s, len);
    return needle_equals(p, &n);
}

unsigned char *lp_find(unsigned char *lp, unsigned char *p, const void *s, size_t len,
                       unsigned skip) {
    lp_needle n;
    needle_init(&n, s, len);
    unsigned left = 0;
    while (p) {
        if (left == 0) {
            if (needle_equals(p, &n)) return p;
            left = skip;
        } else {
            left--;
        }
        p = lp_next(lp, p);
    }
    return NULL;
}

/* Replace the `old` bytes at offset `off` with an element encoded as e (or nothing if e is
 * NULL); `delta` is the change of the element count. Returns the listpack (maybe moved). */
static unsigned char *splice(alloc_sub sub, unsigned char *lp, size_t off, size_t old,
                             const lp_enc *e, int delta) {
    size_t bytes = lp_bytes(lp);
    size_t edlen = e ? e->hlen + e->dlen : 0;
    size_t nsize = e ? edlen + backlen_size(edlen) : 0;
    if (bytes - old + nsize > LP_MAX_BYTES) lp_abort("listpack over 4 GB");
    size_t nbytes = bytes - old + nsize;
    size_t tail = bytes - off - old; /* bytes after the replaced region, end byte included */
    unsigned count = hdr_count(lp);

    if (nbytes > bytes) {
        lp = alloc_realloc_sized(sub, lp, bytes, nbytes);
        memmove(lp + off + nsize, lp + off + old, tail);
    } else if (nbytes < bytes) {
        memmove(lp + off + nsize, lp + off + old, tail);
        lp = alloc_realloc_sized(sub, lp, bytes, nbytes);
    }
    if (e) {
        unsigned char *w = lp + off;
        memcpy(w, e->hdr, e->hlen);
        if (e->dlen) memcpy(w + e->hlen, e->data, e->dlen);
        backlen_write(w + edlen, edlen);
    }
    wr_u32(lp, (uint32_t)nbytes);
    if (count != LP_COUNT_UNKNOWN) {
        set_hdr_count(lp, (size_t)((long long)count + delta));
    } else if (delta < 0) {
        /* The count may fit the header again: walk (rare: only listpacks of 65535+ elements,
         * whose deletions already move most of their bytes). */
        set_hdr_count(lp, count_walk(lp));
    }
    return lp;
}

/* Encode s; if its bytes lie inside lp (an element moved within the same listpack) they are
 * copied first, as the listpack may move or its bytes shift. *copy gets what to free. */
static void encode_safe(alloc_sub sub, const unsigned char *lp, lp_enc *e, const void *s,
                        size_t len, unsigned char **copy) {
    *copy = NULL;
    const unsigned char *c = s;
    if (len && c >= lp && c < lp + lp_bytes(lp)) {
        *copy = alloc_malloc(sub, len);
        memcpy(*copy, s, len);
        s = *copy;
    }
    encode(e, s, len);
}

unsigned char *lp_insert(alloc_sub sub, unsigned char *lp, unsigned char *p, enum lp_where where,
                         const void *s, size_t len, unsigned char **newp) {
    size_t off, old = 0;
    int delta = 1;
    if (!p) {
        if (where == LP_REPLACE) {
            if (newp) *newp = NULL;
            return lp;
        }
        off = where == LP_BEFORE ? lp_bytes(lp) - 1 : LP_HDR;
    } else if (where == LP_BEFORE) {
        off = (size_t)(p - lp);
    } else if (where == LP_AFTER) {
        off = (size_t)(p - lp) + elem_size(p);
    } else {
        off = (size_t)(p - lp);
        old = elem_size(p);
        delta = 0;
    }
    lp_enc e;
    unsigned char *copy;
    encode_safe(sub, lp, &e, s, len, &copy);
    lp = splice(sub, lp, off, old, &e, delta);
    if (copy) alloc_free(sub, copy);
    if (newp) *newp = lp + off;
    return lp;
}

unsigned char *lp_append(alloc_sub sub, unsigned char *lp, const void *s, size_t len) {
    return lp_insert(sub, lp, NULL, LP_BEFORE, s, len, NULL);
}

unsigned char *lp_prepend(alloc_sub sub, unsigned char *lp, const void *s, size_t len) {
    return lp_insert(sub, lp, NULL, LP_AFTER, s, len, NULL);
}

unsigned char *lp_append_int(alloc_sub sub, unsigned char *lp, long long v) {
    lp_enc e;
    encode_int(&e, v);
    return splice(sub, lp, lp_bytes(lp) - 1, 0, &e, 1);
}

unsigned char *lp_delete(alloc_sub sub, unsigned char *lp, unsigned char *p, unsigned char **next) {
    size_t off = (size_t)(p - lp);
    lp = splice(sub, lp, off, elem_size(p), NULL, -1);
    if (next) *next = lp[off] == LP_EOF ? NULL : lp + off;
    return lp;
}

unsigned char *lp_delete_range(alloc_sub sub, unsigned char *lp, long long index, size_t count) {
    unsigned char *p = lp_seek(lp, index);
    if (!p || count == 0) return lp;
    unsigned char *q = p;
    size_t n = 0;
    while (n < count && *q != LP_EOF) {
        q += elem_size(q);
        n++;
    }
    size_t off = (size_t)(p - lp);
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN) {
        lp = splice(sub, lp, off, (size_t)(q - p), NULL, 0);
        set_hdr_count(lp, c - n);
    } else {
        lp = splice(sub, lp, off, (size_t)(q - p), NULL, -1); /* recounts */
    }
    return lp;
}

int lp_validate(const unsigned char *lp, size_t size) {
    if (!lp || size < LP_HDR + 1) return 0;
    if (rd_u32(lp) != size) return 0;
    if (lp[size - 1] != LP_EOF) return 0;
    const unsigned char *end = lp + size - 1; /* the end byte */
    const unsigned char *p = lp + LP_HDR;
    size_t n = 0;
    while (p < end) {
        unsigned char b = p[0];
        size_t h = enc_header_size(b);
        if ((size_t)(end - p) < h) return 0; /* header runs into the end byte */
        size_t l = enc_data_size(p);
        if (l == 0) return 0; /* end byte inside, or no such encoding */
        if (l > (size_t)(end - p)) return 0;
        size_t bl = backlen_size(l);
        if (bl > (size_t)(end - p) - l) return 0;
        size_t nb;
        size_t got = backlen_read(p + l + bl - 1, p + l, &nb);
        if (got != l || nb != bl) return 0;
        p += l + bl;
        n++;
    }
    if (p != end) return 0;
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN && c != n) return 0;
    return 1;
}
