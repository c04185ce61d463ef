/* pprof — the profile as a gzipped profile.proto message (google/pprof's format, read by
 * `go tool pprof` and Pyroscope), encoded by hand: varints, length-delimited fields and packed
 * repeated numbers are all the wire format this needs. */
#include "profiler/profiler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "alloc/alloc.h"
#include "util/util.h"

/* profile.proto field numbers */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_TIME_NANOS = 9,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUETYPE_TYPE = 1,
    VALUETYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1,
    SAMPLE_VALUE = 2,
    SAMPLE_LABEL = 3,
    LABEL_KEY = 1,
    LABEL_STR = 2,
    MAPPING_ID = 1,
    MAPPING_MEMORY_START = 2,
    MAPPING_MEMORY_LIMIT = 3,
    MAPPING_FILENAME = 5,
    MAPPING_HAS_FUNCTIONS = 7,
    LOCATION_ID = 1,
    LOCATION_MAPPING_ID = 2,
    LOCATION_ADDRESS = 3,
    LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    FUNCTION_ID = 1,
    FUNCTION_NAME = 2,
    FUNCTION_SYSTEM_NAME = 3,
};

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* ---- wire format ------------------------------------------------------------------------ */

static void pb_varint(prof_buf *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    prof_buf_append(b, tmp, n);
}

static void pb_key(prof_buf *b, unsigned field, unsigned wire) {
    pb_varint(b, ((uint64_t)field << 3) | wire);
}

/* A varint field; proto3 leaves zero values out. */
static void pb_uint(prof_buf *b, unsigned field, uint64_t v) {
    if (!v) return;
    pb_key(b, field, WIRE_VARINT);
    pb_varint(b, v);
}

static void pb_bytes(prof_buf *b, unsigned field, const void *p, size_t n) {
    pb_key(b, field, WIRE_LEN);
    pb_varint(b, n);
    prof_buf_append(b, p, n);
}

/* A nested message built in `sub`, then emptied for the next one. */
static void pb_message(prof_buf *b, unsigned field, prof_buf *sub) {
    pb_bytes(b, field, sub->data, sub->len);
    sub->len = 0;
}

/* int64 as proto encodes it (two's complement in a varint), from a double estimate. */
static uint64_t pb_int64_of(double v) {
    if (!(v == v)) return 0; /* NaN */
    if (v >= 9.2e18) return (uint64_t)INT64_MAX;
    if (v <= -9.2e18) return (uint64_t)INT64_MIN;
    return (uint64_t)(int64_t)llround(v);
}

/* ---- string table ----------------------------------------------------------------------- */

typedef struct str_table {
    const char **strs; /* index → string (not owned) */
    size_t n, cap;
    uint32_t *slots; /* hash slots: index + 1, 0 = empty */
    size_t nslots;
} str_table;

static uint64_t str_hash(const char *s) {
    return util_str_hash(UTIL_STR_HASH_SEED, s);
}

static void st_rehash(str_table *t, size_t nslots) {
    alloc_free(ALLOC_SUB_PROFILER, t->slots);
    t->slots = alloc_calloc(ALLOC_SUB_PROFILER, nslots * sizeof(uint32_t));
    t->nslots = nslots;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = (size_t)str_hash(t->strs[i]) & (nslots - 1);
        while (t->slots[h])
            h = (h + 1) & (nslots - 1);
        t->slots[h] = (uint32_t)(i + 1);
    }
}

static uint64_t st_intern(str_table *t, const char *s) {
    if (!s) s = "";
    if (!t->slots || (t->n + 1) * 2 > t->nslots) st_rehash(t, t->nslots ? t->nslots * 2 : 256);
    size_t h = (size_t)str_hash(s) & (t->nslots - 1);
    while (t->slots[h]) {
        uint32_t i = t->slots[h] - 1;
        if (strcmp(t->strs[i], s) == 0) return i;
        h = (h + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->strs = alloc_realloc(ALLOC_SUB_PROFILER, t->strs, t->cap * sizeof(const char *));
    }
    t->strs[t->n] = s;
    t->slots[h] = (uint32_t)(t->n + 1);
    return t->n++;
}

static void st_free(str_table *t) {
    alloc_free(ALLOC_SUB_PROFILER, t->strs);
    alloc_free(ALLOC_SUB_PROFILER, t->slots);
}

/* Grows an id array indexed by string index to hold `n` entries (new ones 0). */
static void ids_reserve(uint64_t **ids, size_t *cap, size_t n) {
    if (n <= *cap) return;
    size_t c = *cap ? *cap : 256;
    while (c < n)
        c *= 2;
    *ids = alloc_realloc(ALLOC_SUB_PROFILER, *ids, c * sizeof(uint64_t));
    memset(*ids + *cap, 0, (c - *cap) * sizeof(uint64_t));
    *cap = c;
}

/* ---- gzip ------------------------------------------------------------------------------- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    if (size && items > SIZE_MAX / size) return Z_NULL;
    return alloc_malloc(ALLOC_SUB_PROFILER, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    alloc_free(ALLOC_SUB_PROFILER, p);
}

static int gzip_append(const unsigned char *in, size_t len, prof_buf *out) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    /* windowBits 15 + 16: a gzip wrapper rather than zlib's. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return PROF_ERR_IO;
    int rc = 0;
    size_t pos = 0;
    int flush;
    do {
        size_t chunk = len - pos > (1u << 30) ? (1u << 30) : len - pos;
        zs.next_in = (Bytef *)(uintptr_t)(in + pos);
        zs.avail_in = (uInt)chunk;
        pos += chunk;
        flush = pos == len ? Z_FINISH : Z_NO_FLUSH;
        do {
            unsigned char tmp[64 * 1024];
            zs.next_out = tmp;
            zs.avail_out = sizeof(tmp);
            int z = deflate(&zs, flush);
            if (z == Z_STREAM_ERROR) {
                rc = PROF_ERR_IO;
                goto done;
            }
            prof_buf_append(out, tmp, sizeof(tmp) - zs.avail_out);
        } while (zs.avail_out == 0);
    } while (flush != Z_FINISH);
done:
    deflateEnd(&zs);
    return rc;
}

/* "libfoo.so", "libfoo.so.6", "ld-linux-x86-64.so.2": a shared library, not the executable. */
static int is_shared_library(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *so = strstr(base, ".so");
    return so && (so[3] == '\0' || so[3] == '.');
}

/* ---- the profile ------------------------------------------------------------------------ */

int prof_write_pprof(const prof_profile *p, prof_buf *out) {
    if (!p || !out) return PROF_ERR_BADARG;
    prof_buf body, sub, inner;
    prof_buf_init(&body);
    prof_buf_init(&sub);
    prof_buf_init(&inner);
    str_table st;
    memset(&st, 0, sizeof(st));
    uint64_t *fn_of_str = NULL, *map_of_str = NULL; /* string index → function / mapping id */
    size_t fn_cap = 0, map_cap = 0;
    uint64_t *map_lo = NULL, *map_hi = NULL; /* per mapping (first-seen order): address span */
    const char **map_file = NULL;
    uint64_t *map_id = NULL; /* per mapping: its id in the output */
    size_t nmaps = 0, maps_cap = 0;
    uint64_t *loc_fn = NULL, *loc_map = NULL; /* per location: function id, mapping index + 1 */
    int rc = 0;

    st_intern(&st, ""); /* index 0 must be the empty string */

    /* sample_type: four values per sample, Go's heap profile convention */
    static const char *const types[4][2] = {{"alloc_objects", "count"},
                                            {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"},
                                            {"inuse_space", "bytes"}};
    for (int i = 0; i < 4; i++) {
        pb_uint(&sub, VALUETYPE_TYPE, st_intern(&st, types[i][0]));
        pb_uint(&sub, VALUETYPE_UNIT, st_intern(&st, types[i][1]));
        pb_message(&body, PROFILE_SAMPLE_TYPE, &sub);
    }

    /* functions (one per distinct name) and mappings (one per distinct file) */
    size_t nl = p->nlocs ? p->nlocs : 1;
    loc_fn = alloc_malloc(ALLOC_SUB_PROFILER, nl * sizeof(uint64_t));
    loc_map = alloc_malloc(ALLOC_SUB_PROFILER, nl * sizeof(uint64_t));
    uint64_t nfuncs = 0;
    for (size_t i = 0; i < p->nlocs; i++) {
        const prof_location *l = &p->locs[i];
        uint64_t si = st_intern(&st, l->func ? l->func : "");
        ids_reserve(&fn_of_str, &fn_cap, (size_t)si + 1);
        if (!fn_of_str[si]) {
            fn_of_str[si] = ++nfuncs;
            pb_uint(&sub, FUNCTION_ID, nfuncs);
            pb_uint(&sub, FUNCTION_NAME, si);
            pb_uint(&sub, FUNCTION_SYSTEM_NAME, si);
            pb_message(&body, PROFILE_FUNCTION, &sub);
        }
        loc_fn[i] = fn_of_str[si];
        loc_map[i] = 0;
        if (l->file && *l->file) {
            uint64_t fi = st_intern(&st, l->file);
            ids_reserve(&map_of_str, &map_cap, (size_t)fi + 1);
            if (!map_of_str[fi]) {
                if (nmaps == maps_cap) {
                    maps_cap = maps_cap ? maps_cap * 2 : 16;
                    map_lo = alloc_realloc(ALLOC_SUB_PROFILER, map_lo, maps_cap * sizeof(uint64_t));
                    map_hi = alloc_realloc(ALLOC_SUB_PROFILER, map_hi, maps_cap * sizeof(uint64_t));
                    map_file =
                        alloc_realloc(ALLOC_SUB_PROFILER, map_file, maps_cap * sizeof(char *));
                }
                map_lo[nmaps] = l->addr;
                map_hi[nmaps] = l->addr;
                map_file[nmaps] = l->file;
                map_of_str[fi] = ++nmaps;
            }
            uint64_t m = map_of_str[fi];
            if (l->addr < map_lo[m - 1]) map_lo[m - 1] = l->addr;
            if (l->addr > map_hi[m - 1]) map_hi[m - 1] = l->addr;
            loc_map[i] = m;
        }
    }

    /* mapping: the range is the one the sampled addresses span (the model keeps no maps).
     * Executables before shared libraries: pprof names the profile after the first mapping. */
    map_id = alloc_malloc(ALLOC_SUB_PROFILER, (nmaps ? nmaps : 1) * sizeof(uint64_t));
    uint64_t next_id = 1;
    for (int lib = 0; lib < 2; lib++) {
        for (size_t m = 0; m < nmaps; m++) {
            if (is_shared_library(map_file[m]) != lib) continue;
            map_id[m] = next_id++;
            pb_uint(&sub, MAPPING_ID, map_id[m]);
            pb_uint(&sub, MAPPING_MEMORY_START, map_lo[m]);
            pb_uint(&sub, MAPPING_MEMORY_LIMIT,
                    map_hi[m] == UINT64_MAX ? map_hi[m] : map_hi[m] + 1);
            pb_uint(&sub, MAPPING_FILENAME, st_intern(&st, map_file[m]));
            pb_uint(&sub, MAPPING_HAS_FUNCTIONS, 1);
            pb_message(&body, PROFILE_MAPPING, &sub);
        }
    }

    /* location: id = index + 1 */
    for (size_t i = 0; i < p->nlocs; i++) {
        pb_uint(&sub, LOCATION_ID, i + 1);
        pb_uint(&sub, LOCATION_MAPPING_ID, loc_map[i] ? map_id[loc_map[i] - 1] : 0);
        pb_uint(&sub, LOCATION_ADDRESS, p->locs[i].addr);
        pb_uint(&inner, LINE_FUNCTION_ID, loc_fn[i]);
        pb_message(&sub, LOCATION_LINE, &inner);
        pb_message(&body, PROFILE_LOCATION, &sub);
    }

    /* sample: packed location ids, packed values, the subsystem label */
    uint64_t key_subsystem = st_intern(&st, "subsystem");
    for (size_t i = 0; i < p->nsamples; i++) {
        const prof_sample *s = &p->samples[i];
        for (size_t j = 0; j < s->nlocs; j++)
            pb_varint(&inner, (uint64_t)s->locs[j] + 1);
        if (inner.len) pb_message(&sub, SAMPLE_LOCATION_ID, &inner);
        pb_varint(&inner, pb_int64_of(s->alloc_objs));
        pb_varint(&inner, pb_int64_of(s->alloc_bytes));
        pb_varint(&inner, pb_int64_of(s->live_objs));
        pb_varint(&inner, pb_int64_of(s->live_bytes));
        pb_message(&sub, SAMPLE_VALUE, &inner);
        const char *subname = (s->subsystem >= 0 && s->subsystem < ALLOC_SUB_COUNT)
                                  ? alloc_sub_name((alloc_sub)s->subsystem)
                                  : "other";
        pb_uint(&inner, LABEL_KEY, key_subsystem);
        pb_uint(&inner, LABEL_STR, st_intern(&st, subname));
        pb_message(&sub, SAMPLE_LABEL, &inner);
        pb_message(&body, PROFILE_SAMPLE, &sub);
    }

    pb_uint(&body, PROFILE_TIME_NANOS, p->time_ns > 0 ? (uint64_t)p->time_ns : 0);
    pb_uint(&sub, VALUETYPE_TYPE, st_intern(&st, "space"));
    pb_uint(&sub, VALUETYPE_UNIT, st_intern(&st, "bytes"));
    pb_message(&body, PROFILE_PERIOD_TYPE, &sub);
    pb_uint(&body, PROFILE_PERIOD, p->sample_period);
    pb_uint(&body, PROFILE_DEFAULT_SAMPLE_TYPE, st_intern(&st, "inuse_space"));

    /* string_table last: every string is interned by now (field order is free in protobuf) */
    for (size_t i = 0; i < st.n; i++)
        pb_bytes(&body, PROFILE_STRING_TABLE, st.strs[i], strlen(st.strs[i]));

    rc = gzip_append((const unsigned char *)body.data, body.len, out);

    alloc_free(ALLOC_SUB_PROFILER, loc_fn);
    alloc_free(ALLOC_SUB_PROFILER, loc_map);
    alloc_free(ALLOC_SUB_PROFILER, fn_of_str);
    alloc_free(ALLOC_SUB_PROFILER, map_of_str);
    alloc_free(ALLOC_SUB_PROFILER, map_lo);
    alloc_free(ALLOC_SUB_PROFILER, map_hi);
    alloc_free(ALLOC_SUB_PROFILER, map_file);
    alloc_free(ALLOC_SUB_PROFILER, map_id);
    st_free(&st);
    prof_buf_free(&inner);
    prof_buf_free(&sub);
    prof_buf_free(&body);
    return rc;
}
