/* render_target (render.h): the families every answer has, then the parts. In its own file so
 * that tests and fuzzers of render_info link without render_malloc_stats and render_proxy. */
#include "render.h"

#include <stdio.h>

int render_target(metrics_writer *w, const scrape_result *r) {
    if (!w || !r) return METRICS_ERR_ARG;
    int err = 0, rc;
#define NOTE(x)                                                                                    \
    do {                                                                                           \
        rc = (x);                                                                                  \
        if (rc != 0 && err == 0) err = rc;                                                         \
    } while (0)
    NOTE(metrics_family_begin(w, "memkv_up",
                              "1 when the target answered (INFO, or a proxy's stats), else 0.",
                              METRICS_GAUGE, NULL));
    NOTE(metrics_sample_int(w, NULL, 0, r->up ? 1 : 0));
    NOTE(metrics_family_begin(w, "memkv_exporter_scrape_duration_seconds",
                              "How long this scrape of the target took, in seconds.", METRICS_GAUGE,
                              "seconds"));
    NOTE(metrics_sample_double(w, NULL, 0, r->duration_seconds));
    if (r->error[0]) {
        char error[sizeof(r->error) + 1];
        snprintf(error, sizeof(error), "%.*s", (int)sizeof(r->error), r->error);
        NOTE(metrics_family_begin(w, "memkv_exporter_last_error",
                                  "Why the target is down, or which optional part of the scrape "
                                  "failed (MEMORY STATS, MALLOC-STATS); always 1.",
                                  METRICS_INFO, NULL));
        metrics_label l[] = {{"error", error}};
        NOTE(metrics_sample_int(w, l, 1, 1));
    }
    if (r->up) {
        NOTE(render_info(w, r));
        if (r->malloc) NOTE(render_malloc_stats(w, r->malloc, r->malloc_age_seconds));
        if (r->proxy) NOTE(render_proxy(w, r->proxy));
    }
#undef NOTE
    return err;
}
