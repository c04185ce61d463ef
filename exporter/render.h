/* render — one target's figures written as the memkv_ families the embedded endpoint serves
 * (src/metrics/collector.c), through the same writer (src/metrics/writer.c, linked). Pure: the
 * caller did the I/O and parsing; this only maps. README "memkv-exporter" says, per server kind,
 * which families exist and where a meaning differs from memkv's own.
 *
 * Families every answer has, whatever happened:
 *   memkv_up                                  1 when the target answered INFO, else 0
 *   memkv_exporter_scrape_duration_seconds    this scrape of the target
 *   memkv_exporter_last_error{error}          info, only when up is 0 (or a part failed)
 * When up:
 *   memkv_server{kind,version,redis_version,allocator}   info: what answers (parse.h kinds)
 *   the memkv_ names where the meaning is the same (memkv_memory_used_bytes,
 *   memkv_memory_rss_bytes, memkv_memory_peak_bytes, memkv_memory_max_bytes,
 *   memkv_allocator_*_bytes, the ratios, memkv_db_keys{db}, memkv_db_expiring_keys{db},
 *   memkv_connected_clients, …), MEMORY STATS figures, per-size-class bins from MALLOC-STATS,
 *   and every other numeric INFO field in one generic family, memkv_info_value{section,field}.
 */
#ifndef MEMKV_EXPORTER_RENDER_H
#define MEMKV_EXPORTER_RENDER_H

#include "metrics/metrics.h"
#include "parse.h"

typedef struct scrape_result {
    int up;                  /* INFO answered and parsed */
    char error[256];         /* why up is 0, or which optional part failed; "" if none */
    double duration_seconds; /* of this scrape of the target */
    server_kind kind;
    const char *version;        /* the kind's own version (info_detect_kind), "" if unknown */
    const info_doc *info;       /* NULL unless up */
    const memstats *memstats;   /* NULL when the target has no MEMORY STATS or it failed */
    const malloc_stats *malloc; /* NULL when not asked for, or it failed */
    double malloc_age_seconds;  /* how old the cached MALLOC-STATS figures are */
    const proxy_stats *proxy;   /* a twemproxy target: its stats (info etc. are NULL) */
} scrape_result;

/* Write every family for one target. Returns 0, or the first writer error (the body stays
 * valid: the writer drops a failed family whole). */
int render_target(metrics_writer *w, const scrape_result *r);

/* The parts, for tests and for the twemproxy kind (render_target calls them). */
int render_info(metrics_writer *w, const scrape_result *r); /* INFO + MEMORY STATS */
int render_malloc_stats(metrics_writer *w, const malloc_stats *m, double age_seconds);
int render_proxy(metrics_writer *w, const proxy_stats *p);

#endif
