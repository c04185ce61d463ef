/* self — memkv-exporter's own figures (memkv_exporter_* families), counted on the HTTP threads
 * with relaxed atomics and written into every answer. */
#ifndef MEMKV_EXPORTER_SELF_H
#define MEMKV_EXPORTER_SELF_H

#include <stdatomic.h>
#include <stdint.h>

#include "metrics/metrics.h"
#include "scrape.h"
#include "target.h"

typedef struct exp_self {
    _Atomic uint64_t scrapes_up, scrapes_down, bad_requests;
    _Atomic uint64_t connections_opened, reply_bytes;
    _Atomic int64_t in_flight;
} exp_self;

/* Count one finished scrape of a target. */
void exp_self_note(exp_self *s, const scrape_out *o);
/* memkv_exporter_scrapes_total{result="up"|"down"|"bad_request"},
 * memkv_exporter_connections_opened_total, memkv_exporter_reply_bytes_total,
 * memkv_exporter_scrapes_in_flight, memkv_exporter_connections_kept, memkv_exporter_targets
 * (t may be NULL), memkv_exporter_build_info{version}. Returns 0 or the first writer error. */
int exp_self_write(metrics_writer *w, exp_self *s, target_table *t, const char *version);

#endif
