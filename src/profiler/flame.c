/* flame — collapsed stacks ("a;b;c 1234", the input of every flame-graph tool) and a
 * self-contained SVG flame graph: plain rectangles, labels and <title> tooltips, readable in
 * any browser without scripts. Both show live (in-use) bytes. */
#include "profiler/profiler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "util/util.h"

#define APPEND_LIT(b, lit) prof_buf_append((b), (lit), sizeof(lit) - 1)

/* Frame names in collapsed output cannot hold the separators: ';' splits frames and the last
 * space starts the count. Symbols never contain them; anything odd becomes '_'. */
static void append_frame_name(prof_buf *b, const char *s) {
    if (!s || !*s) s = "[unknown]";
    for (; *s; s++) {
        char c = *s;
        if (c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r') c = '_';
        prof_buf_append(b, &c, 1);
    }
}

typedef struct stack_line {
    size_t off, len; /* the frames part, in the text buffer */
    double bytes;
} stack_line;

static int cmp_line(const void *a, const void *b, void *base) {
    const stack_line *x = a, *y = b;
    const char *sort_base = base;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(sort_base + x->off, sort_base + y->off, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static const char *frame_name(const prof_profile *p, uint32_t loc) {
    return loc < p->nlocs ? p->locs[loc].func : NULL;
}

int prof_write_collapsed(const prof_profile *p, prof_buf *out) {
    if (!p || !out) return PROF_ERR_BADARG;
    prof_buf text;
    prof_buf_init(&text);
    size_t n = p->nsamples ? p->nsamples : 1;
    stack_line *lines = alloc_malloc(ALLOC_SUB_PROFILER, n * sizeof(*lines));
    size_t nlines = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        const prof_sample *s = &p->samples[i];
        if (s->nlocs == 0) continue;
        stack_line *l = &lines[nlines++];
        l->off = text.len;
        for (size_t j = s->nlocs; j-- > 0;) {
            append_frame_name(&text, frame_name(p, s->locs[j]));
            if (j) prof_buf_append(&text, ";", 1);
        }
        l->len = text.len - l->off;
        l->bytes = s->live_bytes;
    }
    /* Distinct stacks by text: different addresses in one function look the same here. */
    if (nlines) qsort_r(lines, nlines, sizeof(*lines), cmp_line, text.data);
    for (size_t i = 0; i < nlines;) {
        size_t j = i + 1;
        double bytes = lines[i].bytes;
        while (j < nlines && lines[j].len == lines[i].len &&
               memcmp(text.data + lines[j].off, text.data + lines[i].off, lines[i].len) == 0)
            bytes += lines[j++].bytes;
        long long v = bytes > 0 ? llround(bytes) : 0;
        if (v > 0) {
            prof_buf_append(out, text.data + lines[i].off, lines[i].len);
            prof_buf_printf(out, " %lld\n", v);
        }
        i = j;
    }
    alloc_free(ALLOC_SUB_PROFILER, lines);
    prof_buf_free(&text);
    return 0;
}

/* ---- SVG -------------------------------------------------------------------------------- */

/* XML text or attribute value: the five special characters escaped, characters XML 1.0 does
 * not allow (controls) and bytes outside ASCII (symbols are ASCII; a broken name must not make
 * the document invalid UTF-8) replaced by '?'. At most `max` source characters. */
static void append_xml(prof_buf *b, const char *s, size_t max) {
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            prof_buf_append(b, "&amp;", 5);
            break;
        case '<':
            prof_buf_append(b, "&lt;", 4);
            break;
        case '>':
            prof_buf_append(b, "&gt;", 4);
            break;
        case '"':
            prof_buf_append(b, "&quot;", 6);
            break;
        case '\'':
            prof_buf_append(b, "&apos;", 6);
            break;
        default:
            if (c < 0x20 || c >= 0x7f) c = '?';
            prof_buf_append(b, &c, 1);
        }
    }
}

typedef struct fnode {
    const char *name;
    double bytes;
    size_t parent;
    size_t first_child, next_sibling; /* SIZE_MAX = none; siblings sorted by name */
    size_t depth;
} fnode;

typedef struct ftree {
    fnode *nodes;
    size_t n, cap;
    size_t *slots; /* (parent, name) → node, open addressing; SIZE_MAX empty */
    size_t nslots;
} ftree;

static uint64_t node_hash(size_t parent, const char *name) {
    return util_str_hash(UTIL_STR_HASH_SEED ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ULL), name);
}

static void ftree_rehash(ftree *t, size_t nslots) {
    alloc_free(ALLOC_SUB_PROFILER, t->slots);
    t->slots = alloc_malloc(ALLOC_SUB_PROFILER, nslots * sizeof(size_t));
    for (size_t i = 0; i < nslots; i++)
        t->slots[i] = SIZE_MAX;
    t->nslots = nslots;
    for (size_t i = 1; i < t->n; i++) {
        size_t h = (size_t)node_hash(t->nodes[i].parent, t->nodes[i].name) & (nslots - 1);
        while (t->slots[h] != SIZE_MAX)
            h = (h + 1) & (nslots - 1);
        t->slots[h] = i;
    }
}

static size_t ftree_child(ftree *t, size_t parent, const char *name) {
    if ((t->n + 1) * 2 > t->nslots) ftree_rehash(t, t->nslots ? t->nslots * 2 : 256);
    size_t h = (size_t)node_hash(parent, name) & (t->nslots - 1);
    while (t->slots[h] != SIZE_MAX) {
        fnode *c = &t->nodes[t->slots[h]];
        if (c->parent == parent && strcmp(c->name, name) == 0) return t->slots[h];
        h = (h + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->nodes = alloc_realloc(ALLOC_SUB_PROFILER, t->nodes, t->cap * sizeof(fnode));
    }
    size_t id = t->n++;
    fnode *c = &t->nodes[id];
    c->name = name;
    c->bytes = 0;
    c->parent = parent;
    c->first_child = c->next_sibling = SIZE_MAX;
    c->depth = t->nodes[parent].depth + 1;
    /* insert among the siblings in name order */
    size_t *link = &t->nodes[parent].first_child;
    while (*link != SIZE_MAX && strcmp(t->nodes[*link].name, name) < 0)
        link = &t->nodes[*link].next_sibling;
    c->next_sibling = *link;
    *link = id;
    t->slots[h] = id;
    return id;
}

/* The stacks merged into one tree (outermost frame at the root's children), by live bytes. */
static void ftree_build(const prof_profile *p, ftree *t) {
    memset(t, 0, sizeof(*t));
    t->cap = 256;
    t->nodes = alloc_malloc(ALLOC_SUB_PROFILER, t->cap * sizeof(fnode));
    t->nodes[0] = (fnode){.name = "all",
                          .bytes = 0,
                          .parent = SIZE_MAX,
                          .first_child = SIZE_MAX,
                          .next_sibling = SIZE_MAX,
                          .depth = 0};
    t->n = 1;
    for (size_t i = 0; i < p->nsamples; i++) {
        const prof_sample *s = &p->samples[i];
        if (!(s->live_bytes > 0)) continue;
        t->nodes[0].bytes += s->live_bytes;
        size_t cur = 0;
        for (size_t j = s->nlocs; j-- > 0;) {
            const char *name = frame_name(p, s->locs[j]);
            cur = ftree_child(t, cur, name && *name ? name : "[unknown]");
            t->nodes[cur].bytes += s->live_bytes;
        }
    }
}

static void ftree_free(ftree *t) {
    alloc_free(ALLOC_SUB_PROFILER, t->slots);
    alloc_free(ALLOC_SUB_PROFILER, t->nodes);
}

#define SVG_WIDTH 1200.0
#define SVG_PAD 10.0
#define SVG_FRAME_H 16.0
#define SVG_TOP 60.0
#define SVG_CHAR_W 7.0
#define SVG_MIN_W 0.1 /* narrower boxes are left out (and so are their children) */

static void frame_color(const char *name, int *r, int *g, int *b) {
    uint64_t h = node_hash(0, name);
    *r = 205 + (int)(h % 51);
    *g = (int)((h >> 8) % 200);
    *b = (int)((h >> 16) % 56);
}

int prof_write_svg(const prof_profile *p, const char *title, prof_buf *out) {
    if (!p || !out) return PROF_ERR_BADARG;
    if (!title || !*title) title = "memkv heap profile";
    ftree t;
    ftree_build(p, &t);
    size_t maxdepth = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.nodes[i].depth > maxdepth) maxdepth = t.nodes[i].depth;

    double total = t.nodes[0].bytes;
    double height = SVG_TOP + (double)(maxdepth + 1) * SVG_FRAME_H + SVG_PAD * 2;
    prof_buf_printf(out,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
                    "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
                    SVG_WIDTH, height, SVG_WIDTH, height);
    prof_buf_printf(out,
                    "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#f8f8f0\"/>\n",
                    SVG_WIDTH, height);
    prof_buf_printf(out,
                    "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-family=\"Verdana, "
                    "sans-serif\" font-size=\"17\">",
                    SVG_WIDTH / 2);
    append_xml(out, title, SIZE_MAX);
    prof_buf_printf(out,
                    "</text>\n<text x=\"%.1f\" y=\"44\" text-anchor=\"middle\" "
                    "font-family=\"Verdana, sans-serif\" font-size=\"12\" fill=\"#555\">"
                    "live bytes (sampled, scaled): %.0f; sample period: %llu bytes; width = "
                    "share of live bytes; hover a box for its figures</text>\n",
                    SVG_WIDTH / 2, total, (unsigned long long)p->sample_period);

    if (total > 0) {
        /* Depth-first, iteratively (stacks may be deep): each node gets its x from the running
         * offset within its parent. */
        double *xs = alloc_malloc(ALLOC_SUB_PROFILER, t.n * sizeof(double));
        size_t *todo = alloc_malloc(ALLOC_SUB_PROFILER, t.n * sizeof(size_t));
        size_t ntodo = 0;
        double scale = (SVG_WIDTH - 2 * SVG_PAD) / total;
        xs[0] = SVG_PAD;
        todo[ntodo++] = 0;
        APPEND_LIT(out, "<g font-family=\"monospace\" font-size=\"12\">\n");
        while (ntodo) {
            size_t id = todo[--ntodo];
            const fnode *nd = &t.nodes[id];
            double w = nd->bytes * scale;
            if (w < SVG_MIN_W) continue;
            double x = xs[id];
            double y = height - SVG_PAD - (double)(nd->depth + 1) * SVG_FRAME_H;
            int r, g, b;
            frame_color(nd->name, &r, &g, &b);
            if (id == 0) r = 230, g = 120, b = 40;
            APPEND_LIT(out, "<g><title>");
            append_xml(out, nd->name, SIZE_MAX);
            prof_buf_printf(out, " (%.0f bytes, %.2f%%)</title>", nd->bytes,
                            100.0 * nd->bytes / total);
            prof_buf_printf(out,
                            "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                            "fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/>",
                            x, y, w, SVG_FRAME_H - 1, r, g, b);
            prof_buf_printf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + SVG_FRAME_H - 4.5);
            /* As much of the name as fits; ".." marks a cut. */
            double fit = (w - 6) / SVG_CHAR_W;
            size_t len = strlen(nd->name);
            if (fit >= (double)len) {
                append_xml(out, nd->name, len);
            } else if (fit >= 3) {
                append_xml(out, nd->name, (size_t)fit - 2);
                APPEND_LIT(out, "..");
            }
            APPEND_LIT(out, "</text></g>\n");
            /* children, left to right in name order: push in reverse so the first pops first */
            double cx = x;
            size_t first = ntodo;
            for (size_t c = nd->first_child; c != SIZE_MAX; c = t.nodes[c].next_sibling) {
                xs[c] = cx;
                cx += t.nodes[c].bytes * scale;
                todo[ntodo++] = c;
            }
            for (size_t a = first, z = ntodo; a + 1 < z; a++, z--) {
                size_t tmp = todo[a];
                todo[a] = todo[z - 1];
                todo[z - 1] = tmp;
            }
        }
        APPEND_LIT(out, "</g>\n");
        alloc_free(ALLOC_SUB_PROFILER, todo);
        alloc_free(ALLOC_SUB_PROFILER, xs);
    } else {
        prof_buf_printf(
            out,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-family=\"Verdana, "
            "sans-serif\" font-size=\"14\">no live sampled bytes in this profile</text>\n",
            SVG_WIDTH / 2, height / 2);
    }
    APPEND_LIT(out, "</svg>\n");
    ftree_free(&t);
    return 0;
}

/* ---- JSON (the console's flame graph) ---- */

/* A name as a JSON string: '"' and '\\' escaped, control characters and bytes outside ASCII
 * as '?' (symbol names are ASCII; the page needs no more). */
static void append_json_name(prof_buf *b, const char *s) {
    prof_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            prof_buf_append(b, e, 2);
        } else {
            char ch = c >= 0x20 && c < 0x7f ? (char)c : '?';
            prof_buf_append(b, &ch, 1);
        }
    }
    prof_buf_append(b, "\"", 1);
}

static int cmp_bytes_desc(const void *a, const void *b, void *base) {
    const fnode *n = base;
    double x = n[*(const size_t *)a].bytes, y = n[*(const size_t *)b].bytes;
    return (x < y) - (x > y);
}

/* A node and its children (largest first), recursively: stacks are at most a few hundred
 * frames deep (jemalloc keeps 128). Children under min bytes are left out. */
static void json_node(prof_buf *out, const ftree *t, size_t id, double min, size_t *scratch) {
    const fnode *nd = &t->nodes[id];
    prof_buf_append(out, "[", 1);
    append_json_name(out, nd->name);
    prof_buf_printf(out, ",%.0f,[", nd->bytes);
    size_t n = 0, *kids = scratch;
    for (size_t c = nd->first_child; c != SIZE_MAX; c = t->nodes[c].next_sibling)
        if (t->nodes[c].bytes >= min) kids[n++] = c;
    if (n > 1) qsort_r(kids, n, sizeof(size_t), cmp_bytes_desc, (void *)t->nodes);
    for (size_t i = 0; i < n; i++) {
        if (i) prof_buf_append(out, ",", 1);
        json_node(out, t, kids[i], min, scratch + n);
    }
    prof_buf_append(out, "]]", 2);
}

int prof_write_json(const prof_profile *p, prof_buf *out) {
    if (!p || !out) return PROF_ERR_BADARG;
    ftree t;
    ftree_build(p, &t);
    double total = t.nodes[0].bytes;
    prof_buf_printf(out, "{\"sample_period\":%llu,\"total_bytes\":%.0f,\"nodes\":%zu,\"root\":",
                    (unsigned long long)p->sample_period, total, t.n);
    /* every node is on one path at a time: the scratch for children lists sums to < t.n */
    size_t *scratch = alloc_malloc(ALLOC_SUB_PROFILER, (t.n + 1) * sizeof(size_t));
    json_node(out, &t, 0, total * PROF_JSON_MIN_SHARE, scratch);
    alloc_free(ALLOC_SUB_PROFILER, scratch);
    prof_buf_append(out, "}\n", 2);
    ftree_free(&t);
    return 0;
}
