/* exporter-malloc-render: MEMORY MALLOC-STATS text on stdin, the memkv_allocator_* families
 * the exporter serves for it on stdout (text format 0.0.4), through the exporter's own parser
 * and renderer (malloc_stats_parse, render_malloc_stats). Exit 0; 1 with the parser's error
 * on stderr when the text is refused. For tests/integration/test_exporter_malloc.py. */
#include "parse.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    if (!text) return 2;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *p = realloc(text, cap);
            if (!p) return 2;
            text = p;
        }
        size_t n = fread(text + len, 1, cap - len, stdin);
        if (n == 0) break;
        len += n;
    }
    malloc_stats m;
    char err[256];
    if (malloc_stats_parse(text, len, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "malloc_stats_parse: %s\n", err);
        free(text);
        return 1;
    }
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    int rc = render_malloc_stats(&w, &m, 0);
    size_t blen = 0;
    const char *body = metrics_writer_data(&w, &blen);
    fwrite(body, 1, blen, stdout);
    if (rc != 0) fprintf(stderr, "render_malloc_stats: %s\n", metrics_writer_error(&w));
    metrics_writer_deinit(&w);
    free(text);
    return rc != 0 ? 1 : 0;
}
