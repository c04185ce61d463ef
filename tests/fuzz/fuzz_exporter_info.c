/* INFO ALL parser and its rendering (exporter/info.c, exporter/render.c). The input is what a
 * target answered to INFO; it may also carry a MEMORY STATS-like tail (after a 0xff byte) turned
 * into memstats entries, so both halves of render_info meet hostile names.
 *
 * Checks beyond "no crash":
 *  - info_parse succeeds iff a "key:value" line exists, keeps at most INFO_MAX_FIELDS fields,
 *    each with a key free of ':' and '\n', a lower-case section and a value free of '\n';
 *  - info_get finds the first field of each kept key; the kind's version is a field's value;
 *  - render_info never makes the writer fail, in text 0.0.4 and in OpenMetrics (a writer
 *    error would drop a whole family: a duplicate label set, an invalid name, …). */
#include "fuzz.h"

#include "render.h"

#include <string.h>

static void render_both(const scrape_result *r) {
    static const metrics_format formats[2] = {METRICS_TEXT_004, METRICS_OPENMETRICS_1};
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, formats[f]);
        int rc = render_info(&w, r);
        if (rc != 0) fprintf(stderr, "writer: %s\n", metrics_writer_error(&w));
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(metrics_writer_errors(&w) == 0);
        FUZZ_CHECK(metrics_writer_finish(&w) == 0);
        metrics_writer_deinit(&w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *cut = memchr(data, 0xff, size);
    size_t ilen = cut ? (size_t)(cut - data) : size;

    info_doc d;
    int rc = info_parse(&d, (const char *)data, ilen);
    if (rc != 0) {
        FUZZ_CHECK(d.text == NULL && d.fields == NULL && d.n == 0);
        return 0;
    }
    FUZZ_CHECK(d.n > 0 && d.n <= INFO_MAX_FIELDS);
    for (size_t i = 0; i < d.n; i++) {
        const info_field *f = &d.fields[i];
        FUZZ_CHECK(f->key[0] && !strchr(f->key, ':') && !strchr(f->key, '\n'));
        FUZZ_CHECK(!strchr(f->value, '\n'));
        for (const char *p = f->section; *p; p++)
            FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
        const char *v = info_get(&d, f->key);
        FUZZ_CHECK(v != NULL);
        if (i < 64) { /* the first occurrence is found (bounded: quadratic otherwise) */
            size_t j = 0;
            while (strcmp(d.fields[j].key, f->key) != 0)
                j++;
            FUZZ_CHECK(v == d.fields[j].value);
        }
    }
    const char *version = NULL;
    server_kind kind = info_detect_kind(&d, &version);
    FUZZ_CHECK(version != NULL);
    FUZZ_CHECK(strcmp(server_kind_name(kind), "") != 0);

    /* the tail: records of one length byte, a name and a value byte */
    memstats ms;
    memset(&ms, 0, sizeof(ms));
    if (cut) {
        const uint8_t *p = cut + 1, *end = data + size;
        while (p < end && ms.n < 64) {
            size_t n = *p++ % 48;
            if ((size_t)(end - p) < n + 1) break;
            if (ms.n == ms.cap) {
                ms.cap = ms.cap ? ms.cap * 2 : 8;
                ms.e = realloc(ms.e, ms.cap * sizeof(*ms.e));
                FUZZ_CHECK(ms.e != NULL);
            }
            memcpy(ms.e[ms.n].name, p, n);
            ms.e[ms.n].name[n] = '\0';
            ms.e[ms.n].value = (double)(int8_t)p[n];
            ms.n++;
            p += n + 1;
        }
    }

    scrape_result r;
    memset(&r, 0, sizeof(r));
    r.up = 1;
    r.kind = kind;
    r.version = version;
    r.info = &d;
    r.memstats = cut ? &ms : NULL;
    render_both(&r);
    free(ms.e);
    info_free(&d);
    FUZZ_CHECK(d.text == NULL && d.n == 0);
    return 0;
}
