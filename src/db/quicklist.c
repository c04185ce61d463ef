/* quicklist — see quicklist.h for the contract.
 *
 * Node limits follow Redis 7.0 (quicklist.c's _quicklistNodeAllowInsert / AllowMerge): a
 * size limit of 4..64 KiB for negative fills; for positive fills at most `fill` elements and
 * at most 8 KiB (a safety limit so a node never gets huge). The size an insert would give is
 * estimated as the node's bytes + the element's length + 8.
 */
#include "db/quicklist.h"

#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"

#define QL_SAFETY_LIMIT 8192
#define QL_ESTIMATE_OVERHEAD 8
#define QL_LP_OVERHEAD 7 /* a listpack's 6-byte header and end byte */

struct ql_node {
    ql_node *prev, *next;
    unsigned char *lp;
    uint32_t count; /* elements in lp (a node never exceeds 64 KiB, so this fits) */
};

struct quicklist {
    ql_node *head, *tail;
    size_t count; /* elements in all nodes */
    uint32_t len; /* nodes */
    int32_t fill; /* list-max-listpack-size when the list was created */
    size_t bytes; /* usable sizes of this struct, every linked node and its listpack */
};

/* n->lp = (expr) for a node linked into ql, keeping ql->bytes in step. */
#define LP_SET(ql, n, expr)                                                                        \
    do {                                                                                           \
        size_t lp_old_ = lp_mem_usage((n)->lp);                                                    \
        (n)->lp = (expr);                                                                          \
        (ql)->bytes += lp_mem_usage((n)->lp) - lp_old_;                                            \
    } while (0)

static const size_t size_limits[] = {4096, 8192, 16384, 32768, 65536};

/* ---- limits ---- */

static int size_meets_fill(size_t sz, int fill) {
    if (fill >= 0) return 0;
    return sz <= size_limits[-fill - 1];
}

static int node_allows_insert(const ql_node *n, int fill, size_t len) {
    if (!n) return 0;
    size_t nsz = lp_bytes(n->lp) + len + QL_ESTIMATE_OVERHEAD;
    if (size_meets_fill(nsz, fill)) return 1;
    if (nsz > QL_SAFETY_LIMIT) return 0;
    return (int)n->count < fill;
}

static int nodes_allow_merge(const ql_node *a, const ql_node *b, int fill) {
    if (!a || !b) return 0;
    size_t msz = lp_bytes(a->lp) + lp_bytes(b->lp) - QL_LP_OVERHEAD;
    if (size_meets_fill(msz, fill)) return 1;
    if (msz > QL_SAFETY_LIMIT) return 0;
    return (long long)a->count + b->count <= fill;
}

/* ---- nodes ---- */

static ql_node *node_new(void) {
    ql_node *n = alloc_malloc(QL_SUB, sizeof(*n));
    n->prev = n->next = NULL;
    n->lp = lp_new(QL_SUB);
    n->count = 0;
    return n;
}

static void node_free(ql_node *n) {
    lp_free(QL_SUB, n->lp);
    alloc_free_sized(QL_SUB, n, sizeof(*n));
}

/* Links n after `at` (at NULL: as the new head). */
static void link_after(quicklist *ql, ql_node *at, ql_node *n) {
    n->prev = at;
    n->next = at ? at->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at)
        at->next = n;
    else
        ql->head = n;
    ql->len++;
    ql->bytes += alloc_usable_size(n) + lp_mem_usage(n->lp);
}

static void unlink_node(quicklist *ql, ql_node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->len--;
    ql->bytes -= alloc_usable_size(n) + lp_mem_usage(n->lp);
}

static void node_remove(quicklist *ql, ql_node *n) {
    unlink_node(ql, n);
    node_free(n);
}

int ql_append_listpack(quicklist *ql, const unsigned char *lp, size_t count) {
    size_t sz = lp_bytes(lp);
    if (count == 0) return 0;
    if (!size_meets_fill(sz, ql->fill) &&
        (sz > QL_SAFETY_LIMIT || (long long)count > (long long)ql->fill))
        return 0;
    ql_node *n = alloc_malloc(QL_SUB, sizeof(*n));
    n->lp = lp_dup(QL_SUB, lp);
    n->count = (uint32_t)count;
    link_after(ql, ql->tail, n);
    ql->count += count;
    return 1;
}

/* Appends every element of b to a, frees b. Appending grows a's allocation in place most of
 * the time (jemalloc's size classes), so this is linear in b's bytes. */
static void merge_into(quicklist *ql, ql_node *a, ql_node *b) {
    unsigned char buf[LP_INTBUF];
    for (unsigned char *p = lp_first(b->lp); p; p = lp_next(b->lp, p)) {
        size_t len;
        const unsigned char *s = lp_get_bytes(p, &len, buf);
        LP_SET(ql, a, lp_append(QL_SUB, a->lp, s, len));
    }
    a->count += b->count;
    node_remove(ql, b);
}

/* Merges a node with its neighbours where the result fits one node. Returns the node that now
 * holds n's elements. */
static ql_node *merge_around(quicklist *ql, ql_node *n) {
    if (n->prev && nodes_allow_merge(n->prev, n, ql->fill)) {
        ql_node *p = n->prev;
        merge_into(ql, p, n);
        n = p;
    }
    while (n->next && nodes_allow_merge(n, n->next, ql->fill))
        merge_into(ql, n, n->next);
    return n;
}

/* ---- the list ---- */

quicklist *ql_new(long long fill) {
    quicklist *ql = alloc_malloc(QL_SUB, sizeof(*ql));
    ql->head = ql->tail = NULL;
    ql->count = 0;
    ql->len = 0;
    if (fill > QL_FILL_MAX) fill = QL_FILL_MAX;
    if (fill < QL_FILL_MIN) fill = QL_FILL_MIN;
    ql->fill = (int32_t)fill;
    ql->bytes = alloc_usable_size(ql);
    return ql;
}

void ql_free(quicklist *ql) {
    if (!ql) return;
    ql_node *n = ql->head;
    while (n) {
        ql_node *next = n->next;
        node_free(n);
        n = next;
    }
    alloc_free_sized(QL_SUB, ql, sizeof(*ql));
}

quicklist *ql_dup(const quicklist *ql) {
    quicklist *d = ql_new(ql->fill);
    for (const ql_node *n = ql->head; n; n = n->next) {
        ql_node *c = alloc_malloc(QL_SUB, sizeof(*c));
        c->lp = lp_dup(QL_SUB, n->lp);
        c->count = n->count;
        link_after(d, d->tail, c);
    }
    d->count = ql->count;
    return d;
}

size_t ql_count(const quicklist *ql) {
    return ql->count;
}

size_t ql_nodes(const quicklist *ql) {
    return ql->len;
}

int ql_fill(const quicklist *ql) {
    return ql->fill;
}

size_t ql_mem_usage(const quicklist *ql) {
    return ql->bytes;
}

static void entry_fill(ql_entry *e, ql_node *n, unsigned char *p) {
    e->node = n;
    e->p = p;
    e->s = lp_get_bytes(p, &e->len, e->buf);
}

int ql_entry_equals(const ql_entry *e, const void *s, size_t len) {
    return e->len == len && (len == 0 || memcmp(e->s, s, len) == 0);
}

void ql_push(quicklist *ql, enum ql_where where, const void *s, size_t len) {
    ql_node *n = where == QL_HEAD ? ql->head : ql->tail;
    if (!node_allows_insert(n, ql->fill, len)) {
        n = node_new();
        link_after(ql, where == QL_HEAD ? NULL : ql->tail, n);
    }
    LP_SET(ql, n,
           where == QL_HEAD ? lp_prepend(QL_SUB, n->lp, s, len) : lp_append(QL_SUB, n->lp, s, len));
    n->count++;
    ql->count++;
}

/* Deletes the element p of node n; frees the node when it empties. Returns the offset of the
 * following element in n (or of its end byte), or 0 when the node was freed. */
static size_t delete_at(quicklist *ql, ql_node *n, unsigned char *p) {
    size_t off = (size_t)(p - n->lp);
    LP_SET(ql, n, lp_delete(QL_SUB, n->lp, p, NULL));
    n->count--;
    ql->count--;
    if (n->count == 0) {
        node_remove(ql, n);
        return 0;
    }
    return off;
}

int ql_pop(quicklist *ql, enum ql_where where, ql_value *v) {
    ql_node *n = where == QL_HEAD ? ql->head : ql->tail;
    if (!n) return 0;
    unsigned char *p = where == QL_HEAD ? lp_first(n->lp) : lp_last(n->lp);
    unsigned char ib[LP_INTBUF];
    size_t len;
    const unsigned char *s = lp_get_bytes(p, &len, ib);
    if (len <= sizeof(v->buf)) {
        v->ptr = v->buf;
    } else {
        v->ptr = alloc_malloc(QL_SUB, len);
    }
    memcpy(v->ptr, s, len);
    v->len = len;
    delete_at(ql, n, p);
    return 1;
}

void ql_value_release(ql_value *v) {
    if (v->ptr && v->ptr != v->buf) alloc_free(QL_SUB, v->ptr);
    v->ptr = NULL;
    v->len = 0;
}

/* The node holding absolute position pos (0 <= pos < count), walking from the nearer end;
 * *off gets the position inside the node. */
static ql_node *locate(const quicklist *ql, size_t pos, size_t *off) {
    if (pos <= (ql->count - 1) / 2) {
        size_t acc = 0;
        for (ql_node *n = ql->head; n; n = n->next) {
            if (pos < acc + n->count) {
                *off = pos - acc;
                return n;
            }
            acc += n->count;
        }
    } else {
        size_t acc = ql->count;
        for (ql_node *n = ql->tail; n; n = n->prev) {
            acc -= n->count;
            if (pos >= acc) {
                *off = pos - acc;
                return n;
            }
        }
    }
    return NULL;
}

/* Redis's index → absolute position; 0 if out of range. */
static int normalize(const quicklist *ql, long long index, size_t *pos) {
    long long n = (long long)ql->count;
    if (index < 0) index += n;
    if (index < 0 || index >= n) return 0;
    *pos = (size_t)index;
    return 1;
}

int ql_index(quicklist *ql, long long index, ql_entry *e) {
    size_t pos, off;
    if (!normalize(ql, index, &pos)) return 0;
    ql_node *n = locate(ql, pos, &off);
    entry_fill(e, n, lp_seek(n->lp, (long long)off));
    return 1;
}

int ql_replace_at(quicklist *ql, long long index, const void *s, size_t len) {
    ql_entry e;
    if (!ql_index(ql, index, &e)) return 0;
    /* In place, as Redis 7.0 does (a node may outgrow its limit through LSET). */
    LP_SET(ql, e.node, lp_insert(QL_SUB, e.node->lp, e.p, LP_REPLACE, s, len, NULL));
    return 1;
}

/* Splits n so that its first k elements stay and the rest move to a new node after it. */
static ql_node *split(quicklist *ql, ql_node *n, size_t k) {
    ql_node *b = alloc_malloc(QL_SUB, sizeof(*b));
    b->lp = lp_dup(QL_SUB, n->lp);
    b->count = n->count - (uint32_t)k;
    b->lp = lp_delete_range(QL_SUB, b->lp, 0, k);
    LP_SET(ql, n, lp_delete_range(QL_SUB, n->lp, (long long)k, n->count - k));
    n->count = (uint32_t)k;
    link_after(ql, n, b);
    return b;
}

void ql_insert(quicklist *ql, ql_entry *e, int after, const void *s, size_t len) {
    ql_node *n = e->node;
    int fill = ql->fill;
    int at_head = lp_prev(n->lp, e->p) == NULL;
    int at_tail = lp_next(n->lp, e->p) == NULL;
    ql->count++;
    if (node_allows_insert(n, fill, len)) {
        LP_SET(ql, n, lp_insert(QL_SUB, n->lp, e->p, after ? LP_AFTER : LP_BEFORE, s, len, NULL));
        n->count++;
        return;
    }
    /* n is full: the neighbour on that side, a new node, or a split. */
    if (after && at_tail) {
        if (node_allows_insert(n->next, fill, len)) {
            LP_SET(ql, n->next, lp_prepend(QL_SUB, n->next->lp, s, len));
            n->next->count++;
            return;
        }
        ql_node *m = node_new();
        m->lp = lp_append(QL_SUB, m->lp, s, len);
        m->count = 1;
        link_after(ql, n, m);
        return;
    }
    if (!after && at_head) {
        if (node_allows_insert(n->prev, fill, len)) {
            LP_SET(ql, n->prev, lp_append(QL_SUB, n->prev->lp, s, len));
            n->prev->count++;
            return;
        }
        ql_node *m = node_new();
        m->lp = lp_append(QL_SUB, m->lp, s, len);
        m->count = 1;
        link_after(ql, n->prev, m);
        return;
    }
    /* In the middle of a full node: split at the insertion point, the element starts the
     * second half, then merge what fits. */
    size_t off = 0;
    for (unsigned char *p = lp_first(n->lp); p != e->p; p = lp_next(n->lp, p))
        off++;
    ql_node *b = split(ql, n, after ? off + 1 : off);
    LP_SET(ql, b, lp_prepend(QL_SUB, b->lp, s, len));
    b->count++;
    if (merge_around(ql, b) != n) merge_around(ql, n);
}

size_t ql_delete_range(quicklist *ql, long long index, size_t count) {
    size_t pos, off;
    if (count == 0 || !normalize(ql, index, &pos)) return 0;
    if (count > ql->count - pos) count = ql->count - pos;
    ql_node *n = locate(ql, pos, &off);
    ql_node *before = NULL;
    size_t left = count;
    while (left && n) {
        ql_node *next = n->next;
        size_t take = n->count - off;
        if (take > left) take = left;
        if (take == n->count) {
            ql->count -= take;
            node_remove(ql, n);
        } else {
            LP_SET(ql, n, lp_delete_range(QL_SUB, n->lp, (long long)off, take));
            n->count -= (uint32_t)take;
            ql->count -= take;
            if (!before) before = n;
        }
        left -= take;
        off = 0;
        n = next;
    }
    /* The nodes at the cut may now fit together. */
    if (before)
        merge_around(ql, before);
    else if (n)
        merge_around(ql, n);
    return count;
}

/* ---- walking ---- */

void ql_iter_init(quicklist *ql, ql_iter *it, int forward) {
    it->ql = ql;
    it->node = forward ? ql->head : ql->tail;
    it->p = NULL;
    it->forward = forward;
    it->deleted = 0;
    it->changed = 0;
}

int ql_iter_init_at(quicklist *ql, ql_iter *it, int forward, long long index) {
    ql_iter_init(ql, it, forward);
    size_t pos, off;
    if (!normalize(ql, index, &pos)) return 0;
    it->node = locate(ql, pos, &off);
    it->p = lp_seek(it->node->lp, (long long)off);
    it->deleted = 1; /* p is the next element to return */
    return 1;
}

int ql_iter_next(ql_iter *it, ql_entry *e) {
    while (it->node) {
        ql_node *n = it->node;
        unsigned char *p;
        if (it->deleted) {
            p = it->p;
            it->deleted = 0;
        } else if (!it->p) {
            p = it->forward ? lp_first(n->lp) : lp_last(n->lp);
        } else {
            p = it->forward ? lp_next(n->lp, it->p) : lp_prev(n->lp, it->p);
        }
        if (p) {
            it->p = p;
            entry_fill(e, n, p);
            return 1;
        }
        it->node = it->forward ? n->next : n->prev;
        it->p = NULL;
    }
    return 0;
}

void ql_iter_delete(ql_iter *it, ql_entry *e) {
    ql_node *n = e->node;
    ql_node *neighbour = it->forward ? n->next : n->prev;
    size_t off = delete_at(it->ql, n, e->p);
    it->changed = 1;
    if (off == 0) { /* the node is gone: go on in the neighbour, from its start */
        it->node = neighbour;
        it->p = NULL;
        it->deleted = 0;
        return;
    }
    unsigned char *q = n->lp + off; /* the following element, or the end byte */
    if (it->forward) {
        it->p = *q == 0xFF ? NULL : q;
    } else {
        it->p = lp_prev(n->lp, q);
    }
    if (it->p) {
        it->deleted = 1;
    } else { /* nothing further in this node */
        it->node = neighbour;
        it->deleted = 0;
    }
}

void ql_iter_release(ql_iter *it) {
    if (!it->changed) return;
    quicklist *ql = it->ql;
    for (ql_node *n = ql->head; n && n->next;) {
        if (nodes_allow_merge(n, n->next, ql->fill))
            merge_into(ql, n, n->next);
        else
            n = n->next;
    }
    it->changed = 0;
}

int ql_check(const quicklist *ql, int limits) {
    size_t count = 0, len = 0, bytes = alloc_usable_size(ql);
    const ql_node *prev = NULL;
    for (const ql_node *n = ql->head; n; n = n->next) {
        if (n->prev != prev) return -1;
        if (limits && n->count > 1) {
            if (ql->fill < 0 && lp_bytes(n->lp) > size_limits[-ql->fill - 1]) return -8;
            if (ql->fill >= 0 && (lp_bytes(n->lp) > QL_SAFETY_LIMIT || (int)n->count > ql->fill))
                return -9;
        }
        if (n->count == 0) return -2;
        if (lp_length(n->lp) != n->count) return -3;
        if (!lp_validate(n->lp, lp_bytes(n->lp))) return -4;
        count += n->count;
        len++;
        bytes += alloc_usable_size(n) + lp_mem_usage(n->lp);
        prev = n;
    }
    if (ql->tail != prev) return -5;
    if (count != ql->count) return -6;
    if (len != ql->len) return -7;
    if (bytes != ql->bytes) return -10;
    return 0;
}

long long ql_node_elements(const quicklist *ql, size_t i) {
    for (const ql_node *n = ql->head; n; n = n->next)
        if (i-- == 0) return n->count;
    return -1;
}

const ql_node *ql_first_node(const quicklist *ql) {
    return ql->head;
}
const ql_node *ql_next_node(const ql_node *n) {
    return n->next;
}
const unsigned char *ql_node_listpack(const ql_node *n) {
    return n->lp;
}
