/* MEMORY STATS reply parser (exporter/memstats.c): bytes → hiredis' redisReader → memstats_parse,
 * then render_info of the entries. Any reply hiredis accepts may arrive (an error, a scalar,
 * nesting, binary names).
 *
 * Checks beyond "no crash":
 *  - at most 4096 entries, every name non-empty, NUL-terminated inside the field and without a
 *    NUL before its end; memstats_get finds each name's first entry;
 *  - a reply that is not an array of pairs (or a map) is refused and leaves nothing allocated;
 *  - render_info of the entries never makes the writer fail. */
#include "fuzz.h"

#include "render.h"

#include <math.h>
#include <string.h>

static void check(const redisReply *reply) {
    memstats m;
    int rc = memstats_parse(reply, &m);
    if (rc != 0) {
        FUZZ_CHECK(m.e == NULL && m.n == 0);
        return;
    }
    FUZZ_CHECK(m.n <= 4096 && m.n <= m.cap);
    for (size_t i = 0; i < m.n; i++) {
        size_t len = strnlen(m.e[i].name, sizeof(m.e[i].name));
        FUZZ_CHECK(len > 0 && len < sizeof(m.e[i].name));
        if (i < 64) {
            double v;
            FUZZ_CHECK(memstats_get(&m, m.e[i].name, &v) == 0);
            size_t j = 0;
            while (strcmp(m.e[j].name, m.e[i].name) != 0)
                j++;
            FUZZ_CHECK(v == m.e[j].value || (isnan(v) && isnan(m.e[j].value)));
        }
    }
    scrape_result r;
    memset(&r, 0, sizeof(r));
    r.up = 1;
    r.memstats = &m;
    static const metrics_format formats[2] = {METRICS_TEXT_004, METRICS_OPENMETRICS_1};
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, formats[f]);
        FUZZ_CHECK(render_info(&w, &r) == 0);
        FUZZ_CHECK(metrics_writer_errors(&w) == 0);
        metrics_writer_deinit(&w);
    }
    memstats_free(&m);
    FUZZ_CHECK(m.e == NULL && m.n == 0);
}

/* hiredis 0.14 allocates an aggregate's element vector from its declared count before any
 * element arrives (it has no maxelements), so "*999999999" is an out-of-memory in hiredis, not
 * in the parser under test: inputs declaring more than 100000 elements are not fed. */
static int huge_aggregate(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*' && data[i] != '%' && data[i] != '~' && data[i] != '>') continue;
        size_t j = i + 1, digits = 0;
        if (j < size && data[j] == '-') j++;
        while (j < size && data[j] >= '0' && data[j] <= '9' && digits < 7) {
            j++;
            digits++;
        }
        if (digits >= 6) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (huge_aggregate(data, size)) return 0;
    redisReader *rd = redisReaderCreate();
    FUZZ_CHECK(rd != NULL);
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        for (int i = 0; i < 4; i++) {
            void *reply = NULL;
            if (redisReaderGetReply(rd, &reply) != REDIS_OK || !reply) break;
            check(reply);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(rd);
    return 0;
}
