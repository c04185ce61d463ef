/* reports — what an operator asks of a profile: which allocation sites hold the memory, how
 * the sampled bytes split over memkv's subsystems, and which sites keep growing across
 * snapshots (leak suspects). */
#include "profiler/profiler.h"

#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"

/* ---- top sites -------------------------------------------------------------------------- */

typedef struct site_ref {
    const char *func;
    size_t sample;
} site_ref;

static int cmp_site_ref(const void *a, const void *b) {
    const site_ref *x = a, *y = b;
    int c = strcmp(x->func, y->func);
    if (c) return c;
    return x->sample < y->sample ? -1 : x->sample > y->sample;
}

static int cmp_site(const void *a, const void *b) {
    const prof_site *x = a, *y = b;
    if (x->live_bytes != y->live_bytes) return x->live_bytes > y->live_bytes ? -1 : 1;
    return strcmp(x->func, y->func);
}

static const char *site_of(const prof_profile *p, const prof_sample *s) {
    if (s->nlocs == 0 || s->locs[0] >= p->nlocs || !p->locs[s->locs[0]].func) return "[unknown]";
    return p->locs[s->locs[0]].func;
}

size_t prof_top_sites(const prof_profile *p, prof_site *out, size_t cap) {
    if (!p || !out || cap == 0 || p->nsamples == 0) return 0;
    site_ref *refs = alloc_malloc(ALLOC_SUB_PROFILER, p->nsamples * sizeof(*refs));
    double total = 0;
    size_t nrefs = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        if (!(p->samples[i].live_bytes > 0)) continue;
        total += p->samples[i].live_bytes;
        refs[nrefs].func = site_of(p, &p->samples[i]);
        refs[nrefs].sample = i;
        nrefs++;
    }
    qsort(refs, nrefs, sizeof(*refs), cmp_site_ref);

    /* One site per function name (different addresses of one function are one site). */
    prof_site *sites = alloc_malloc(ALLOC_SUB_PROFILER, (nrefs ? nrefs : 1) * sizeof(*sites));
    double sub_bytes[ALLOC_SUB_COUNT];
    size_t nsites = 0;
    for (size_t i = 0; i < nrefs;) {
        prof_site *st = &sites[nsites++];
        memset(st, 0, sizeof(*st));
        memset(sub_bytes, 0, sizeof(sub_bytes));
        st->func = refs[i].func;
        size_t j = i;
        for (; j < nrefs && strcmp(refs[j].func, refs[i].func) == 0; j++) {
            const prof_sample *s = &p->samples[refs[j].sample];
            st->live_bytes += s->live_bytes;
            st->live_objs += s->live_objs;
            int sub = s->subsystem >= 0 && s->subsystem < ALLOC_SUB_COUNT ? s->subsystem
                                                                          : ALLOC_SUB_OTHER;
            sub_bytes[sub] += s->live_bytes;
        }
        /* A site reached from several subsystems' paths is shown under the biggest one. */
        st->subsystem = ALLOC_SUB_OTHER;
        for (int k = 0; k < ALLOC_SUB_COUNT; k++)
            if (sub_bytes[k] > sub_bytes[st->subsystem]) st->subsystem = k;
        st->share = total > 0 ? st->live_bytes / total : 0;
        i = j;
    }
    qsort(sites, nsites, sizeof(*sites), cmp_site);
    size_t n = nsites < cap ? nsites : cap;
    memcpy(out, sites, n * sizeof(*sites));
    alloc_free(ALLOC_SUB_PROFILER, sites);
    alloc_free(ALLOC_SUB_PROFILER, refs);
    return n;
}

/* ---- subsystems ------------------------------------------------------------------------- */

void prof_bytes_by_subsystem(const prof_profile *p, double *out, size_t nsub) {
    if (!out) return;
    for (size_t i = 0; i < nsub; i++)
        out[i] = 0;
    if (!p) return;
    for (size_t i = 0; i < p->nsamples; i++) {
        int sub = p->samples[i].subsystem;
        if (sub >= 0 && (size_t)sub < nsub) out[sub] += p->samples[i].live_bytes;
    }
}

/* ---- leak suspects ---------------------------------------------------------------------- */

#define LEAK_GROWTH_EPSILON 1.0 /* bytes: smaller changes are rounding, not growth */

/* A snapshot's sites sorted by name (with one name's entries summed), for binary search. */
typedef struct named_value {
    const char *func; /* NUL-terminated copy's pointer into the caller's snapshot */
    size_t len;
    double bytes;
} named_value;

static int cmp_named(const void *a, const void *b) {
    const named_value *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->func, y->func, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int cmp_suspect(const void *a, const void *b) {
    const prof_suspect *x = a, *y = b;
    if (x->growth_bytes != y->growth_bytes) return x->growth_bytes > y->growth_bytes ? -1 : 1;
    return strcmp(x->func, y->func);
}

static size_t site_name_len(const prof_snapshot_site *s) {
    return strnlen(s->func, sizeof(s->func));
}

/* Sorts and merges one snapshot's sites; returns the distinct count. */
static size_t index_snapshot(const prof_snapshot *snap, named_value *out) {
    size_t n = 0;
    for (size_t i = 0; i < snap->nsites; i++) {
        out[n].func = snap->sites[i].func;
        out[n].len = site_name_len(&snap->sites[i]);
        out[n].bytes = snap->sites[i].live_bytes;
        n++;
    }
    qsort(out, n, sizeof(*out), cmp_named);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && cmp_named(&out[m - 1], &out[i]) == 0)
            out[m - 1].bytes += out[i].bytes;
        else
            out[m++] = out[i];
    }
    return m;
}

static double lookup(const named_value *v, size_t n, const named_value *key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_named(&v[mid], key);
        if (c == 0) return v[mid].bytes;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

size_t prof_leak_suspects(const prof_snapshot *snaps, size_t nsnaps, prof_suspect *out,
                          size_t cap) {
    if (!snaps || nsnaps < 2 || !out || cap == 0) return 0;
    size_t intervals = nsnaps - 1;
    if (intervals > INT32_MAX) return 0;
    /* grew in at least 60% of the intervals: ceil(0.6 × intervals) */
    size_t need = (3 * intervals + 4) / 5;

    named_value **idx = alloc_calloc(ALLOC_SUB_PROFILER, nsnaps * sizeof(*idx));
    size_t *nidx = alloc_calloc(ALLOC_SUB_PROFILER, nsnaps * sizeof(*nidx));
    for (size_t s = 0; s < nsnaps; s++) {
        size_t ns = snaps[s].sites ? snaps[s].nsites : 0;
        idx[s] = alloc_malloc(ALLOC_SUB_PROFILER, (ns ? ns : 1) * sizeof(named_value));
        prof_snapshot sn = snaps[s];
        sn.nsites = ns;
        nidx[s] = index_snapshot(&sn, idx[s]);
    }

    /* Candidates: the newest snapshot's sites (growth > 0 needs them there). */
    const named_value *newest = idx[nsnaps - 1];
    size_t ncand = nidx[nsnaps - 1];
    prof_suspect *found =
        alloc_malloc(ALLOC_SUB_PROFILER, (ncand ? ncand : 1) * sizeof(prof_suspect));
    size_t nfound = 0;
    double secs = (double)(snaps[nsnaps - 1].time_ns - snaps[0].time_ns) / 1e9;
    for (size_t c = 0; c < ncand; c++) {
        const named_value *key = &newest[c];
        double prev = lookup(idx[0], nidx[0], key), first = prev;
        size_t grew = 0;
        for (size_t s = 1; s < nsnaps; s++) {
            double v = lookup(idx[s], nidx[s], key);
            if (v - prev > LEAK_GROWTH_EPSILON) grew++;
            prev = v;
        }
        double growth = key->bytes - first;
        if (grew < need || !(growth > LEAK_GROWTH_EPSILON)) continue;
        prof_suspect *sp = &found[nfound++];
        memset(sp, 0, sizeof(*sp));
        size_t len = key->len < sizeof(sp->func) - 1 ? key->len : sizeof(sp->func) - 1;
        memcpy(sp->func, key->func, len);
        sp->func[len] = '\0';
        sp->live_bytes = key->bytes;
        sp->growth_bytes = growth;
        sp->bytes_per_sec = secs > 0 ? growth / secs : 0;
        sp->grew_intervals = (int)grew;
        sp->intervals = (int)intervals;
    }
    qsort(found, nfound, sizeof(*found), cmp_suspect);
    size_t n = nfound < cap ? nfound : cap;
    memcpy(out, found, n * sizeof(*found));

    alloc_free(ALLOC_SUB_PROFILER, found);
    for (size_t s = 0; s < nsnaps; s++)
        alloc_free(ALLOC_SUB_PROFILER, idx[s]);
    alloc_free(ALLOC_SUB_PROFILER, nidx);
    alloc_free(ALLOC_SUB_PROFILER, idx);
    return n;
}
