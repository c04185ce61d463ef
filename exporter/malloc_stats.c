/* malloc_stats_parse (parse.h): jemalloc's malloc_stats_print text, as MEMORY MALLOC-STATS
 * answers it, reduced to the figures of the small size classes and the global totals.
 *
 * The text is read line by line, never past len, without allocating. What is used:
 *   Version: "5.3.0-0-g…"                            → version
 *   Allocated: N, active: N, metadata: N (n_thp N), resident: N, mapped: N, retained: N
 *                                                      → the totals (the first such line)
 *   Merged arenas stats:                               → the section whose bins are taken
 *   arenas[i]:                                         → an arena's section (used when there
 *                                                        is no merged one and only one arena)
 *   bins:  size ind allocated … curregs curslabs … regs pgs util …   (the header)
 *   one row per size class, "---" where classes were never used
 * The header's tokens after "bins:" name the columns, so a row with exactly as many tokens
 * maps by position; jemalloc prints "(#/sec)" columns whose header token is "(#/sec)" too, so
 * counting tokens holds. Rows of another length (a truncated last line) are skipped. */
#include "parse.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 128

typedef struct span {
    const char *p;
    size_t n;
} span;

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Split a line at blanks into at most cap tokens; returns the count, or cap + 1 when there
 * are more. */
static size_t tokenize(const char *p, size_t n, span *tok, size_t cap) {
    size_t nt = 0, i = 0;
    while (i < n) {
        while (i < n && is_blank(p[i]))
            i++;
        if (i == n) break;
        size_t start = i;
        while (i < n && !is_blank(p[i]))
            i++;
        if (nt == cap) return cap + 1;
        tok[nt].p = p + start;
        tok[nt].n = i - start;
        nt++;
    }
    return nt;
}

static int span_eq(span s, const char *lit) {
    size_t l = strlen(lit);
    return s.n == l && memcmp(s.p, lit, l) == 0;
}

/* Decimal digits only, no sign, no overflow. */
static int parse_u64(const char *p, size_t n, uint64_t *out) {
    if (n == 0 || n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int starts_with(const char *p, size_t n, const char *lit) {
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

static void set_err(char *err, size_t errcap, const char *msg) {
    if (err && errcap) snprintf(err, errcap, "%s", msg);
}

/* "Allocated: 1, active: 2, metadata: 3 (n_thp 0), resident: 4, mapped: 5, retained: 6":
 * every "name: number" pair, whatever their order; 0 when allocated and active were read. */
static int parse_totals(const char *p, size_t n, malloc_stats *out) {
    int have_alloc = 0, have_active = 0;
    size_t i = 0;
    while (i < n) {
        /* a name: letters and '_' */
        while (i < n && !(p[i] >= 'A' && p[i] <= 'Z') && !(p[i] >= 'a' && p[i] <= 'z'))
            i++;
        size_t ns = i;
        while (i < n &&
               ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '_'))
            i++;
        span name = {p + ns, i - ns};
        if (i >= n || p[i] != ':') continue;
        i++;
        while (i < n && is_blank(p[i]))
            i++;
        size_t vs = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        uint64_t v;
        if (parse_u64(p + vs, i - vs, &v) != 0) continue;
        if (span_eq(name, "Allocated")) {
            out->allocated = v;
            have_alloc = 1;
        } else if (span_eq(name, "active")) {
            out->active = v;
            have_active = 1;
        } else if (span_eq(name, "metadata")) {
            out->metadata = v;
        } else if (span_eq(name, "resident")) {
            out->resident = v;
        } else if (span_eq(name, "mapped")) {
            out->mapped = v;
        } else if (span_eq(name, "retained")) {
            out->retained = v;
        }
    }
    return have_alloc && have_active ? 0 : -1;
}

/* Version: "5.3.0-0-g…" */
static void parse_version(const char *p, size_t n, malloc_stats *out) {
    size_t i = strlen("Version:");
    while (i < n && is_blank(p[i]))
        i++;
    if (i < n && p[i] == '"') i++;
    size_t s = i;
    while (i < n && p[i] != '"' && !is_blank(p[i]))
        i++;
    size_t len = i - s;
    if (len >= sizeof(out->version)) len = sizeof(out->version) - 1;
    for (size_t k = 0; k < len; k++) {
        char c = p[s + k];
        out->version[k] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    out->version[len] = '\0';
}

/* The columns the bins need, as indexes into a row's tokens. */
typedef struct bin_columns {
    size_t ntok; /* tokens a row must have */
    size_t size, regs, curslabs, curregs;
} bin_columns;

static int header_columns(const span *tok, size_t nt, bin_columns *c) {
    const size_t none = (size_t)-1;
    c->size = c->regs = c->curslabs = c->curregs = none;
    c->ntok = nt - 1;
    for (size_t i = 1; i < nt; i++) {
        size_t *dst = NULL;
        if (span_eq(tok[i], "size"))
            dst = &c->size;
        else if (span_eq(tok[i], "regs"))
            dst = &c->regs;
        else if (span_eq(tok[i], "curslabs"))
            dst = &c->curslabs;
        else if (span_eq(tok[i], "curregs"))
            dst = &c->curregs;
        if (dst && *dst == none) *dst = i - 1;
    }
    return c->size != none && c->regs != none && c->curslabs != none && c->curregs != none ? 0 : -1;
}

typedef enum section {
    SEC_NONE = 0, /* before any arena section (global stats) */
    SEC_MERGED,
    SEC_ARENA,
    SEC_OTHER, /* "Destroyed arenas stats:" and anything else */
} section;

int malloc_stats_parse(const char *text, size_t len, malloc_stats *out, char *err, size_t errcap) {
    if (err && errcap) err[0] = '\0';
    if (!out) {
        set_err(err, errcap, "no output");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (!text || len == 0) {
        set_err(err, errcap, "empty answer");
        return -1;
    }
    static const char not_supported[] = "Stats not supported";
    if (starts_with(text, len, not_supported)) {
        set_err(err, errcap, "Stats not supported for the current allocator");
        return -1;
    }

    span tok[MAX_TOKENS];
    section sec = SEC_NONE;
    int merged_seen = 0; /* a "Merged arenas stats:" section exists */
    int have_table = 0;  /* a bins table was taken */
    int in_table = 0;    /* reading the rows of the table being taken */
    int table_done = 0;  /* the merged table was read: later tables are ignored */
    int several_arena_tables = 0;
    bin_columns cols = {0};

    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        /* leading blanks */
        size_t lead = 0;
        while (lead < n && is_blank(line[lead]))
            lead++;
        const char *l = line + lead;
        size_t ln = n - lead;

        if (in_table) {
            size_t nt = tokenize(l, ln, tok, MAX_TOKENS);
            if (nt == 1 && span_eq(tok[0], "---")) continue;
            uint64_t first;
            if (nt == 0 || nt > MAX_TOKENS || parse_u64(tok[0].p, tok[0].n, &first) != 0) {
                in_table = 0; /* the table ended: a header, a blank line, another section */
            } else {
                if (nt != cols.ntok) continue; /* a cut or malformed row */
                malloc_bin b;
                if (parse_u64(tok[cols.size].p, tok[cols.size].n, &b.size) != 0 ||
                    parse_u64(tok[cols.regs].p, tok[cols.regs].n, &b.regs) != 0 ||
                    parse_u64(tok[cols.curslabs].p, tok[cols.curslabs].n, &b.curslabs) != 0 ||
                    parse_u64(tok[cols.curregs].p, tok[cols.curregs].n, &b.curregs) != 0)
                    continue;
                if (b.curslabs == 0 || b.size == 0 || b.regs == 0) continue;
                int dup = 0;
                for (size_t k = 0; k < out->nbins; k++)
                    if (out->bins[k].size == b.size) dup = 1;
                if (dup || out->nbins == MALLOC_MAX_BINS) continue;
                out->bins[out->nbins++] = b;
                continue;
            }
        }

        if (starts_with(l, ln, "Version:") && out->version[0] == '\0') {
            parse_version(l, ln, out);
        } else if (starts_with(l, ln, "Allocated:") && !out->have_totals) {
            if (parse_totals(l, ln, out) == 0) out->have_totals = 1;
        } else if (starts_with(l, ln, "Merged arenas stats:")) {
            sec = SEC_MERGED;
            merged_seen = 1;
        } else if (starts_with(l, ln, "arenas[")) {
            sec = SEC_ARENA;
        } else if (starts_with(l, ln, "Destroyed arenas stats:")) {
            sec = SEC_OTHER;
        } else if (starts_with(l, ln, "bins:") && !table_done) {
            size_t nt = tokenize(l, ln, tok, MAX_TOKENS);
            if (nt < 2 || nt > MAX_TOKENS || !span_eq(tok[0], "bins:") ||
                header_columns(tok, nt, &cols) != 0)
                continue;
            int take = 0;
            if (sec == SEC_MERGED) {
                /* the merged table replaces whatever an arena's gave (jemalloc prints it
                 * first, but do not rely on it) */
                out->nbins = 0;
                out->from_merged = 1;
                take = 1;
                table_done = 1;
            } else if (sec == SEC_ARENA && !merged_seen) {
                if (have_table) {
                    several_arena_tables = 1;
                    out->nbins = 0;
                } else {
                    take = 1;
                }
            }
            if (take) {
                have_table = 1;
                in_table = 1;
            }
        }
    }

    if (several_arena_tables && !out->from_merged) {
        out->nbins = 0;
        set_err(err, errcap, "several arenas and no merged bins table");
        return -1;
    }
    if (!have_table) {
        out->nbins = 0;
        set_err(err, errcap,
                out->have_totals || out->version[0] ? "no bins table"
                                                    : "not jemalloc statistics (no bins table)");
        return -1;
    }
    return 0;
}
