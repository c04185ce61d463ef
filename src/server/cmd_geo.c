/* GEO commands (GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER and their _RO forms,
 * GEOSEARCH GEOSEARCHSTORE) as Redis 7.0 answers them. A position is a sorted-set member whose
 * score is its 52-bit geohash (src/db/geohash.h): GEOADD is ZADD with computed scores, a search
 * walks the score ranges of nine cells. Arguments are checked in Redis's order, with its error
 * texts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "db/geohash.h"
#include "db/t_zset.h"
#include "server/notify.h"
#include "server/server.h"
#include "util/util.h"

#define W CMD_WRITE
#define R CMD_READONLY
#define M CMD_DENYOOM

static const char *const ERR_NO_MEMBER = "ERR could not decode requested zset member";

/* A double argument as Redis's getDoubleFromObjectOrReply reads it; msg replaces the default
 * error text. Returns 0, or -1 after replying. */
static int arg_double(client *c, int i, const char *msg, double *out) {
    if (zset_parse_score(c->argv[i].ptr, c->argv[i].len, out) == 0) return 0;
    reply_error(c, msg ? msg : ERR_NOT_FLOAT);
    return -1;
}

/* Longitude and latitude at argv[i], argv[i + 1]. */
static int arg_lonlat(client *c, int i, double xy[2]) {
    if (arg_double(c, i, NULL, &xy[0]) < 0 || arg_double(c, i + 1, NULL, &xy[1]) < 0) return -1;
    if (!geo_valid(xy[0], xy[1])) {
        reply_errorf(c, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return -1;
    }
    return 0;
}

/* Metres per unit of argv[i], or -1 after replying. */
static double arg_unit(client *c, int i) {
    static const struct {
        const char *name;
        double metres;
    } units[] = {{"m", 1}, {"km", 1000}, {"ft", 0.3048}, {"mi", 1609.34}};
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
        if (arg_eq(c, i, units[u].name)) return units[u].metres;
    reply_error(c, "ERR unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

/* A member's position: 1, 0 when it is not in the set. */
static int member_position(const zobj *z, const resp_arg *m, double xy[2]) {
    double score;
    if (!zset_score(z, m->ptr, m->len, &score)) return 0;
    geo_position_of(score, xy);
    return 1;
}

/* A coordinate as Redis's addReplyHumanLongDouble sends it: "%.17Lf" without trailing zeros, a
 * bulk string in RESP2 and a double in RESP3. */
static void reply_coord(client *c, double v) {
    char buf[72];
    reply_add_double_text(&c->reply, buf, util_format_ld(buf, sizeof(buf), v));
}

/* A distance with four decimals ("%.4f"), as a bulk string in either protocol. */
static void reply_distance(client *c, double d) {
    char buf[400];
    reply_add_bulk(&c->reply, buf, util_format_fixed(buf, sizeof(buf), d, 4));
}

/* ---- GEOADD GEODIST GEOHASH GEOPOS --------------------------------------------------------- */

static void cmd_geoadd(client *c) {
    int nx = 0, xx = 0, ch = 0, i = 2;
    for (; i < c->argc; i++) {
        if (arg_eq(c, i, "nx"))
            nx = 1;
        else if (arg_eq(c, i, "xx"))
            xx = 1;
        else if (arg_eq(c, i, "ch"))
            ch = 1;
        else
            break;
    }
    if ((c->argc - i) % 3 || (nx && xx)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int elements = (c->argc - i) / 3;
    if (elements == 0) { /* only options: ZADD's syntax error */
        reply_error(c, ERR_SYNTAX);
        return;
    }
    double stack_scores[16];
    double *scores = elements <= 16
                         ? stack_scores
                         : alloc_malloc(ALLOC_SUB_OTHER, sizeof(double) * (size_t)elements);
    int ok = 1;
    for (int j = 0; j < elements && ok; j++) {
        double xy[2];
        ok = arg_lonlat(c, i + 3 * j, xy) == 0;
        if (ok) scores[j] = (double)geo_score_of(xy[0], xy[1]);
    }
    if (ok)
        zadd_apply(c, (nx ? ZADD_IN_NX : 0) | (xx ? ZADD_IN_XX : 0), ch, elements, scores, i + 2,
                   3);
    if (scores != stack_scores) alloc_free(ALLOC_SUB_OTHER, scores);
}

static void cmd_geodist(client *c) {
    double unit = 1;
    if (c->argc == 5) {
        unit = arg_unit(c, 4);
        if (unit < 0) return;
    } else if (c->argc > 5) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    zobj z;
    int found = zset_read(c, 1, &z);
    if (found < 0) return;
    double a[2], b[2];
    if (!found || !member_position(&z, &c->argv[2], a) || !member_position(&z, &c->argv[3], b)) {
        reply_add_null(&c->reply);
        return;
    }
    reply_distance(c, geo_distance(a[0], a[1], b[0], b[1]) / unit);
}

static void cmd_geohash(client *c) {
    zobj z;
    int found = zset_read(c, 1, &z);
    if (found < 0) return;
    reply_add_array_len(&c->reply, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        if (!found || !zset_score(&z, c->argv[j].ptr, c->argv[j].len, &score)) {
            reply_add_null(&c->reply);
            continue;
        }
        char hash[11];
        geo_hash_string(score, hash);
        reply_add_bulk(&c->reply, hash, sizeof(hash));
    }
}

static void cmd_geopos(client *c) {
    zobj z;
    int found = zset_read(c, 1, &z);
    if (found < 0) return;
    reply_add_array_len(&c->reply, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!found || !member_position(&z, &c->argv[j], xy)) {
            reply_add_null_array(&c->reply);
            continue;
        }
        reply_add_array_len(&c->reply, 2);
        reply_coord(c, xy[0]);
        reply_coord(c, xy[1]);
    }
}

/* ---- searches ------------------------------------------------------------------------------ */

/* The command forms (Redis's georadiusGeneric flags). */
#define FROM_COORDS 1 /* GEORADIUS: longitude latitude radius unit */
#define FROM_MEMBER 2 /* GEORADIUSBYMEMBER: member radius unit */
#define NO_STORE 4    /* the _RO forms */
#define SEARCH 8      /* GEOSEARCH: FROMMEMBER/FROMLONLAT, BYRADIUS/BYBOX */
#define SEARCH_STORE 16

typedef struct geo_point {
    double xy[2];
    double dist;
    double score;
    char *member; /* a copy: a STORE may replace the source before the result is stored */
    size_t len;
} geo_point;

typedef struct geo_points {
    geo_point *p;
    size_t n, cap;
} geo_points;

static void points_add(geo_points *g, const double xy[2], double dist, double score,
                       const unsigned char *m, size_t len) {
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->p = alloc_realloc(ALLOC_SUB_OTHER, g->p, g->cap * sizeof(*g->p));
    }
    geo_point *p = &g->p[g->n++];
    p->xy[0] = xy[0];
    p->xy[1] = xy[1];
    p->dist = dist;
    p->score = score;
    p->member = alloc_malloc(ALLOC_SUB_OTHER, len ? len : 1);
    memcpy(p->member, m, len);
    p->len = len;
}

static void points_free(geo_points *g) {
    for (size_t i = 0; i < g->n; i++)
        alloc_free(ALLOC_SUB_OTHER, g->p[i].member);
    alloc_free(ALLOC_SUB_OTHER, g->p);
}

/* Whether a search limited to `limit` points (ANY; 0: none) has them all. */
static int points_enough(const geo_points *g, size_t limit) {
    return g->n && limit && g->n >= limit;
}

/* The members of one cell inside the shape, in the set's order. */
static void cell_members(const zobj *z, geo_cell cell, const geo_shape *s, geo_points *g,
                         size_t limit) {
    zrange_score r = {0, 0, 0, 1}; /* min <= score < max */
    geo_cell_scores(cell, &r.min, &r.max);
    zset_iter it;
    const unsigned char *m;
    size_t len;
    double score;
    for (zset_iter_in_score(&it, z, &r, 0); zset_iter_get(&it, &m, &len, &score);
         zset_iter_next(&it)) {
        if (!zrange_score_lte_max(&r, score)) break;
        double xy[2], dist;
        if (geo_within(s, score, xy, &dist)) points_add(g, xy, dist, score, m, len);
        if (points_enough(g, limit)) break;
    }
}

/* The members inside the shape: the nine cells in Redis's order; a cell equal to the last one
 * walked is walked once (but the centre's twin, as in Redis). */
static void search_members(const zobj *z, const geo_shape *s, geo_points *g, size_t limit) {
    geo_cell cells[9];
    geo_search_cells(s, cells);
    int last = 0;
    for (int i = 0; i < 9; i++) {
        if (cells[i].step == 0 && cells[i].bits == 0) continue;
        if (last && cells[i].bits == cells[last].bits && cells[i].step == cells[last].step)
            continue;
        if (points_enough(g, limit)) break;
        cell_members(z, cells[i], s, g, limit);
        last = i;
    }
}

static int by_distance(const void *a, const void *b) {
    const geo_point *x = a, *y = b;
    return x->dist > y->dist ? 1 : x->dist == y->dist ? 0 : -1;
}

static int by_distance_desc(const void *a, const void *b) {
    return -by_distance(a, b);
}

/* ---- Redis's partial sort -------------------------------------------------------------------
 * A search with COUNT (without ANY) sorts only the ranks it returns, with Bentley and
 * McIlroy's quicksort ("Engineering a Sort Function") pruned to those ranks, as Redis does.
 * That sort is not stable: members at equal distances come out in an order of its own, which
 * the same pivots, partitions and insertion sorts below reproduce. */

typedef int (*point_cmp)(const void *, const void *);

static void swap_points(geo_point *p, size_t i, size_t j) {
    geo_point t = p[i];
    p[i] = p[j];
    p[j] = t;
}

static void swap_runs(geo_point *p, size_t i, size_t j, size_t n) {
    for (size_t k = 0; k < n; k++)
        swap_points(p, i + k, j + k);
}

static size_t median3(const geo_point *p, size_t a, size_t b, size_t c, point_cmp cmp) {
    if (cmp(&p[a], &p[b]) < 0) return cmp(&p[b], &p[c]) < 0 ? b : cmp(&p[a], &p[c]) < 0 ? c : a;
    return cmp(&p[b], &p[c]) > 0 ? b : cmp(&p[a], &p[c]) < 0 ? a : c;
}

static void insertion_sort(geo_point *p, size_t base, size_t n, point_cmp cmp) {
    for (size_t m = base + 1; m < base + n; m++)
        for (size_t l = m; l > base && cmp(&p[l - 1], &p[l]) > 0; l--)
            swap_points(p, l, l - 1);
}

/* Sorts p[base .. base + n) far enough that ranks lo..hi (indices into p) hold what a full
 * sort puts there. */
static void partial_sort(geo_point *p, size_t base, size_t n, point_cmp cmp, size_t lo, size_t hi) {
    for (;;) {
        if (n < 7) {
            insertion_sort(p, base, n, cmp);
            return;
        }
        size_t m = base + n / 2;
        if (n > 7) {
            size_t l = base, r = base + n - 1;
            if (n > 40) {
                size_t d = n / 8;
                l = median3(p, l, l + d, l + 2 * d, cmp);
                m = median3(p, m - d, m, m + d, cmp);
                r = median3(p, r - 2 * d, r - d, r, cmp);
            }
            m = median3(p, l, m, r, cmp);
        }
        swap_points(p, base, m); /* the pivot at base; equal ones gather at both ends */
        size_t a = base + 1, b = base + 1, c = base + n - 1, d = base + n - 1;
        int r;
        for (;;) {
            while (b <= c && (r = cmp(&p[b], &p[base])) <= 0) {
                if (r == 0) swap_points(p, a++, b);
                b++;
            }
            while (b <= c && (r = cmp(&p[c], &p[base])) >= 0) {
                if (r == 0) swap_points(p, c, d--);
                c--;
            }
            if (b > c) break;
            swap_points(p, b++, c--);
        }
        size_t end = base + n;
        size_t k = a - base < b - a ? a - base : b - a;
        swap_runs(p, base, b - k, k);
        k = d - c < end - d - 1 ? d - c : end - d - 1;
        swap_runs(p, b, end - k, k);
        size_t left = b - a, right = d - c;
        if (left > 1 && hi >= base && lo < base + left) partial_sort(p, base, left, cmp, lo, hi);
        if (right <= 1) return;
        base = end - right;
        n = right;
        if (!(hi >= base && lo < base + n)) return;
    }
}

/* Radius or box with its unit at argv[i]: 0, or -1 after replying. */
static int arg_radius(client *c, int i, geo_shape *s) {
    if (arg_double(c, i, "ERR need numeric radius", &s->radius) < 0) return -1;
    if (s->radius < 0) {
        reply_error(c, "ERR radius cannot be negative");
        return -1;
    }
    s->unit = arg_unit(c, i + 1);
    s->type = GEO_CIRCLE;
    return s->unit < 0 ? -1 : 0;
}

static int arg_box(client *c, int i, geo_shape *s) {
    if (arg_double(c, i, "ERR need numeric width", &s->width) < 0 ||
        arg_double(c, i + 1, "ERR need numeric height", &s->height) < 0)
        return -1;
    if (s->height < 0 || s->width < 0) {
        reply_error(c, "ERR height or width cannot be negative");
        return -1;
    }
    s->unit = arg_unit(c, i + 2);
    s->type = GEO_BOX;
    return s->unit < 0 ? -1 : 0;
}

typedef struct search_opts {
    int withdist, withhash, withcoord, any, sort; /* sort: 0 none, 1 ascending, -1 descending */
    long long count;
    int store;     /* argv index of the destination, 0: none */
    int storedist; /* store distances, not positions */
    int from_member, from_lonlat, by_radius, by_box;
} search_opts;

/* The options from argv[first] on, in Redis's order of checks. Returns 0, or -1 after
 * replying. z is NULL when the key is missing: FROMMEMBER is then only parsed. */
static int parse_search(client *c, int first, int form, const zobj *z, geo_shape *s,
                        search_opts *o) {
    for (int i = first; i < c->argc; i++) {
        int left = c->argc - i - 1; /* arguments after this one */
        int may_store = !(form & NO_STORE) && !(form & SEARCH);
        if (arg_eq(c, i, "withdist")) {
            o->withdist = 1;
        } else if (arg_eq(c, i, "withhash")) {
            o->withhash = 1;
        } else if (arg_eq(c, i, "withcoord")) {
            o->withcoord = 1;
        } else if (arg_eq(c, i, "any")) {
            o->any = 1;
        } else if (arg_eq(c, i, "asc")) {
            o->sort = 1;
        } else if (arg_eq(c, i, "desc")) {
            o->sort = -1;
        } else if (arg_eq(c, i, "count") && left >= 1) {
            if (arg_ll(c, i + 1, &o->count) < 0) return -1;
            if (o->count <= 0) {
                reply_error(c, "ERR COUNT must be > 0");
                return -1;
            }
            i++;
        } else if (arg_eq(c, i, "store") && left >= 1 && may_store) {
            o->store = ++i;
            o->storedist = 0;
        } else if (arg_eq(c, i, "storedist") && left >= 1 && may_store) {
            o->store = ++i;
            o->storedist = 1;
        } else if (arg_eq(c, i, "storedist") && (form & SEARCH_STORE)) {
            o->storedist = 1;
        } else if (arg_eq(c, i, "frommember") && left >= 1 && (form & SEARCH) && !o->from_lonlat) {
            if (z && !member_position(z, &c->argv[i + 1], s->xy)) {
                reply_error(c, ERR_NO_MEMBER);
                return -1;
            }
            o->from_member = 1;
            i++;
        } else if (arg_eq(c, i, "fromlonlat") && left >= 2 && (form & SEARCH) && !o->from_member) {
            if (arg_lonlat(c, i + 1, s->xy) < 0) return -1;
            o->from_lonlat = 1;
            i += 2;
        } else if (arg_eq(c, i, "byradius") && left >= 2 && (form & SEARCH) && !o->by_box) {
            if (arg_radius(c, i + 1, s) < 0) return -1;
            o->by_radius = 1;
            i += 2;
        } else if (arg_eq(c, i, "bybox") && left >= 3 && (form & SEARCH) && !o->by_radius) {
            if (arg_box(c, i + 1, s) < 0) return -1;
            o->by_box = 1;
            i += 3;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    if (o->store && (o->withdist || o->withhash || o->withcoord)) {
        reply_errorf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     form & SEARCH_STORE ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return -1;
    }
    if ((form & SEARCH) && !(o->from_member || o->from_lonlat)) {
        reply_errorf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)c->argv[0].len, c->argv[0].ptr);
        return -1;
    }
    if ((form & SEARCH) && !(o->by_radius || o->by_box)) {
        reply_errorf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)c->argv[0].len, c->argv[0].ptr);
        return -1;
    }
    if (o->any && !o->count) {
        reply_error(c, "ERR the ANY argument requires COUNT argument");
        return -1;
    }
    return 0;
}

static void reply_points(client *c, const geo_points *g, size_t n, const search_opts *o,
                         double unit) {
    int extra = o->withdist + o->withhash + o->withcoord;
    reply_add_array_len(&c->reply, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const geo_point *p = &g->p[i];
        if (extra) reply_add_array_len(&c->reply, extra + 1);
        reply_add_bulk(&c->reply, p->member, p->len);
        if (o->withdist) reply_distance(c, p->dist / unit);
        if (o->withhash) reply_add_int(&c->reply, (long long)p->score);
        if (o->withcoord) {
            reply_add_array_len(&c->reply, 2);
            reply_coord(c, p->xy[0]);
            reply_coord(c, p->xy[1]);
        }
    }
}

/* The first n points as a sorted set under argv[o->store] (built as a skiplist, then a listpack
 * when it fits, as Redis builds it). */
static void store_points(client *c, const geo_points *g, size_t n, const search_opts *o,
                         double unit, int form) {
    const zset_limits *lim = zset_config_limits();
    zobj z = {0, NULL};
    if (n) {
        zset_create(&z, SIZE_MAX, lim);
        for (size_t i = 0; i < n; i++) {
            const geo_point *p = &g->p[i];
            int out;
            zset_add(&z, o->storedist ? p->dist / unit : p->score, p->member, p->len, 0, &out, NULL,
                     lim);
        }
        zset_shrink_if_fits(&z, lim);
    }
    size_t stored =
        zset_store_result(c, o->store, &z, form & SEARCH ? "geosearchstore" : "georadiusstore");
    if (stored) srv.dirty += (long long)stored - 1; /* Redis counts every element */
    reply_add_int(&c->reply, (long long)stored);
}

/* Redis's georadiusGeneric: the sorted set at argv[src], the form's fixed arguments, then the
 * options. */
static void geo_search(client *c, int src, int form) {
    zobj zv, *z = &zv;
    int found = zset_read(c, src, &zv);
    if (found < 0) return;
    if (!found) z = NULL;
    geo_shape s;
    memset(&s, 0, sizeof(s));
    search_opts o;
    memset(&o, 0, sizeof(o));
    int first;
    if (form & FROM_COORDS) {
        first = 6;
        if (arg_lonlat(c, 2, s.xy) < 0 || arg_radius(c, 4, &s) < 0) return;
    } else if (form & FROM_MEMBER) {
        first = 5;
        if (z) {
            if (!member_position(z, &c->argv[2], s.xy)) {
                reply_error(c, ERR_NO_MEMBER);
                return;
            }
            if (arg_radius(c, 3, &s) < 0) return;
        }
    } else {
        first = form & SEARCH_STORE ? 3 : 2;
        if (form & SEARCH_STORE) o.store = 1;
    }
    if (parse_search(c, first, form, z, &s, &o) < 0) return;
    if (!z) {
        if (o.store) {
            zobj none = {0, NULL};
            zset_store_result(c, o.store, &none, NULL);
            reply_add_int(&c->reply, 0);
        } else {
            reply_add_array_len(&c->reply, 0);
        }
        return;
    }
    if (o.count && !o.sort && !o.any) o.sort = 1; /* COUNT means the nearest */
    geo_points g = {NULL, 0, 0};
    search_members(z, &s, &g, o.any ? (size_t)o.count : 0);
    if (g.n == 0 && !o.store) {
        reply_add_array_len(&c->reply, 0);
        points_free(&g);
        return;
    }
    size_t n = o.count && (size_t)o.count < g.n ? (size_t)o.count : g.n;
    point_cmp cmp = o.sort > 0 ? by_distance : by_distance_desc;
    if (o.sort && n && n == g.n)
        qsort(g.p, g.n, sizeof(*g.p), cmp); /* glibc's, as Redis's: a merge sort, stable */
    else if (o.sort && n)
        partial_sort(g.p, 0, g.n, cmp, 0, n - 1);
    if (o.store)
        store_points(c, &g, n, &o, s.unit, form);
    else
        reply_points(c, &g, n, &o, s.unit);
    points_free(&g);
}

static void cmd_georadius(client *c) {
    geo_search(c, 1, FROM_COORDS);
}

static void cmd_georadius_ro(client *c) {
    geo_search(c, 1, FROM_COORDS | NO_STORE);
}

static void cmd_georadiusbymember(client *c) {
    geo_search(c, 1, FROM_MEMBER);
}

static void cmd_georadiusbymember_ro(client *c) {
    geo_search(c, 1, FROM_MEMBER | NO_STORE);
}

static void cmd_geosearch(client *c) {
    geo_search(c, 1, SEARCH);
}

static void cmd_geosearchstore(client *c) {
    geo_search(c, 2, SEARCH | SEARCH_STORE);
}

/* clang-format off */
command geo_commands[] = {
    {"geoadd", cmd_geoadd, -5, W | M, 1, 1, 1, "geo", "Stores positions (longitude, latitude) of members in a sorted set used as a geospatial index."},
    {"geodist", cmd_geodist, -4, R, 1, 1, 1, "geo", "Distance between two members of a geospatial index, in m, km, ft or mi."},
    {"geohash", cmd_geohash, -2, R, 1, 1, 1, "geo", "Standard 11-character geohash strings of members' positions."},
    {"geopos", cmd_geopos, -2, R, 1, 1, 1, "geo", "Longitude and latitude of members of a geospatial index."},
    {"georadius", cmd_georadius, -6, W | M | CMD_MOVABLEKEYS, 1, 1, 1, "geo", "Members within a radius of a longitude and latitude; can store the result (deprecated by GEOSEARCH)."},
    {"georadius_ro", cmd_georadius_ro, -6, R, 1, 1, 1, "geo", "Read-only GEORADIUS."},
    {"georadiusbymember", cmd_georadiusbymember, -5, W | M | CMD_MOVABLEKEYS, 1, 1, 1, "geo", "Members within a radius of another member; can store the result (deprecated by GEOSEARCH)."},
    {"georadiusbymember_ro", cmd_georadiusbymember_ro, -5, R, 1, 1, 1, "geo", "Read-only GEORADIUSBYMEMBER."},
    {"geosearch", cmd_geosearch, -7, R, 1, 1, 1, "geo", "Members inside a circle or a box around a member or a position."},
    {"geosearchstore", cmd_geosearchstore, -8, W | M, 1, 2, 1, "geo", "GEOSEARCH whose result is stored as a sorted set."},
};
/* clang-format on */
const size_t geo_commands_count = sizeof(geo_commands) / sizeof(geo_commands[0]);
