/* twemproxy's stats JSON (exporter/proxy.c) and its rendering (render_proxy.c). The input is
 * what a stats port answered, any bytes.
 *
 * Checks beyond "no crash" (and no leak: every acceptance is freed):
 *  - a refusal leaves the struct zeroed with an error text;
 *  - an acceptance stays in the bounds (256 pools, 4096 servers), every name NUL-terminated
 *    inside its field, no pool named twice, no server twice in a pool, and every server's
 *    pool among the pools;
 *  - rendering (text 0.0.4 and OpenMetrics) leaves a body ending in a newline, and the
 *    parse is deterministic (a second parse gives the same figures). */
#include "fuzz.h"

#include "parse.h"
#include "render.h"

#include <string.h>

static int zeroed(const proxy_stats *p) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < sizeof(*p); i++)
        if (b[i]) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    proxy_stats p;
    char err[128];
    int rc = proxy_stats_parse((const char *)data, size, &p, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(zeroed(&p));
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(p.npools <= 256 && p.nservers <= 4096);
    FUZZ_CHECK(strnlen(p.service, sizeof(p.service)) < sizeof(p.service));
    FUZZ_CHECK(strnlen(p.source, sizeof(p.source)) < sizeof(p.source));
    FUZZ_CHECK(strnlen(p.version, sizeof(p.version)) < sizeof(p.version));
    for (size_t i = 0; i < p.npools; i++) {
        FUZZ_CHECK(strnlen(p.pools[i].name, sizeof(p.pools[i].name)) < sizeof(p.pools[i].name));
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(p.pools[k].name, p.pools[i].name) != 0);
    }
    for (size_t i = 0; i < p.nservers; i++) {
        const proxy_server *s = &p.servers[i];
        FUZZ_CHECK(strnlen(s->name, sizeof(s->name)) < sizeof(s->name));
        FUZZ_CHECK(strnlen(s->pool, sizeof(s->pool)) < sizeof(s->pool));
        int found = 0;
        for (size_t k = 0; k < p.npools; k++)
            if (strcmp(p.pools[k].name, s->pool) == 0) found = 1;
        FUZZ_CHECK(found);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(p.servers[k].pool, s->pool) != 0 ||
                       strcmp(p.servers[k].name, s->name) != 0);
    }
    proxy_stats q;
    FUZZ_CHECK(proxy_stats_parse((const char *)data, size, &q, NULL, 0) == 0);
    FUZZ_CHECK(q.npools == p.npools && q.nservers == p.nservers);
    FUZZ_CHECK(p.nservers == 0 ||
               memcmp(q.servers, p.servers, p.nservers * sizeof(*p.servers)) == 0);
    proxy_stats_free(&q);
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        (void)render_proxy(&w, &p);
        FUZZ_CHECK(metrics_writer_finish(&w) == 0);
        size_t len;
        const char *body = metrics_writer_data(&w, &len);
        FUZZ_CHECK(len == 0 || body[len - 1] == '\n');
        metrics_writer_deinit(&w);
    }
    proxy_stats_free(&p);
    FUZZ_CHECK(zeroed(&p));
    return 0;
}
