/* intset — see intset.h. */
#include "db/intset.h"

#include <string.h>

struct intset {
    uint32_t width;  /* bytes per member: 2, 4 or 8 */
    uint32_t length; /* members */
    unsigned char contents[];
};

#define HDR sizeof(struct intset)

static unsigned width_of(int64_t v) {
    if (v < INT32_MIN || v > INT32_MAX) return 8;
    if (v < INT16_MIN || v > INT16_MAX) return 4;
    return 2;
}

static inline size_t blob_len(uint32_t width, uint32_t length) {
    return HDR + (size_t)width * length;
}

static inline int64_t get_raw(const unsigned char *contents, size_t i, unsigned width) {
    const unsigned char *p = contents + i * width;
    if (width == 8) {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    if (width == 4) {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    int16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline int64_t get_w(const intset *is, size_t i, unsigned width) {
    return get_raw(is->contents, i, width);
}

static inline void set_w(intset *is, size_t i, unsigned width, int64_t v) {
    unsigned char *p = is->contents + i * width;
    if (width == 8) {
        memcpy(p, &v, 8);
    } else if (width == 4) {
        int32_t x = (int32_t)v;
        memcpy(p, &x, 4);
    } else {
        int16_t x = (int16_t)v;
        memcpy(p, &x, 2);
    }
}

/* Binary search: 1 and *pos = index if found, else 0 and *pos = where it would go. */
static int search(const intset *is, int64_t v, size_t *pos) {
    size_t lo = 0, hi = is->length;
    unsigned w = is->width;
    if (hi == 0) {
        *pos = 0;
        return 0;
    }
    /* the common cases of appending or prepending: no search */
    if (v > get_w(is, hi - 1, w)) {
        *pos = hi;
        return 0;
    }
    if (v < get_w(is, 0, w)) {
        *pos = 0;
        return 0;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t m = get_w(is, mid, w);
        if (m == v) {
            *pos = mid;
            return 1;
        }
        if (m < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

intset *intset_new(alloc_sub sub) {
    intset *is = alloc_malloc(sub, HDR);
    is->width = 2;
    is->length = 0;
    return is;
}

void intset_free(alloc_sub sub, intset *is) {
    if (is) alloc_free_sized(sub, is, blob_len(is->width, is->length));
}

intset *intset_dup(alloc_sub sub, const intset *is) {
    size_t n = blob_len(is->width, is->length);
    intset *c = alloc_malloc(sub, n);
    memcpy(c, is, n);
    return c;
}

/* Widen every member to `width` and add v, which does not fit the old width, so it is
 * either below or above every member. */
static intset *upgrade_add(alloc_sub sub, intset *is, int64_t v, unsigned width) {
    unsigned old = is->width;
    uint32_t n = is->length;
    int prepend = v < 0;
    is = alloc_realloc_sized(sub, is, blob_len(old, n), blob_len(width, n + 1));
    /* from the back, so no member is overwritten before it was read */
    for (size_t i = n; i-- > 0;)
        set_w(is, i + (size_t)prepend, width, get_w(is, i, old));
    set_w(is, prepend ? 0 : n, width, v);
    is->width = width;
    is->length = n + 1;
    return is;
}

intset *intset_add(alloc_sub sub, intset *is, int64_t v, int *added) {
    unsigned w = width_of(v);
    if (w > is->width) {
        if (added) *added = 1;
        return upgrade_add(sub, is, v, w);
    }
    size_t pos;
    if (search(is, v, &pos)) {
        if (added) *added = 0;
        return is;
    }
    uint32_t n = is->length;
    w = is->width;
    is = alloc_realloc_sized(sub, is, blob_len(w, n), blob_len(w, n + 1));
    memmove(is->contents + (pos + 1) * w, is->contents + pos * w, (n - pos) * w);
    set_w(is, pos, w, v);
    is->length = n + 1;
    if (added) *added = 1;
    return is;
}

intset *intset_remove(alloc_sub sub, intset *is, int64_t v, int *removed) {
    size_t pos;
    if (width_of(v) > is->width || !search(is, v, &pos)) {
        if (removed) *removed = 0;
        return is;
    }
    uint32_t n = is->length;
    unsigned w = is->width;
    memmove(is->contents + pos * w, is->contents + (pos + 1) * w, (n - pos - 1) * w);
    is->length = n - 1;
    is = alloc_realloc_sized(sub, is, blob_len(w, n), blob_len(w, n - 1));
    if (removed) *removed = 1;
    return is;
}

int intset_find(const intset *is, int64_t v) {
    size_t pos;
    return width_of(v) <= is->width && search(is, v, &pos);
}

size_t intset_len(const intset *is) {
    return is->length;
}

int64_t intset_get(const intset *is, size_t i) {
    return get_w(is, i, is->width);
}

int64_t intset_random(const intset *is, uint64_t *rng) {
    /* xorshift64* step; a zero state is nudged off zero */
    uint64_t x = *rng ? *rng : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return get_w(is, (size_t)((x * 0x2545F4914F6CDD1DULL) % is->length), is->width);
}

unsigned intset_width(const intset *is) {
    return is->width;
}

size_t intset_blob_len(const intset *is) {
    return blob_len(is->width, is->length);
}

size_t intset_mem_usage(const intset *is) {
    return alloc_usable_size(is);
}

int intset_validate(const void *p, size_t size) {
    if (!p || size < HDR) return 0;
    intset h;
    memcpy(&h, p, HDR);
    if (h.width != 2 && h.width != 4 && h.width != 8) return 0;
    if (blob_len(h.width, h.length) != size) return 0;
    const unsigned char *c = (const unsigned char *)p + HDR;
    for (size_t i = 1; i < h.length; i++)
        if (get_raw(c, i - 1, h.width) >= get_raw(c, i, h.width)) return 0;
    return 1;
}
