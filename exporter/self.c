/* self — the exporter's own families (see self.h). */
#include "self.h"

static uint64_t ld(_Atomic uint64_t *v) {
    return atomic_load_explicit(v, memory_order_relaxed);
}

static int64_t i64(uint64_t v) {
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

void exp_self_note(exp_self *s, const scrape_out *o) {
    if (o->res.up)
        atomic_fetch_add_explicit(&s->scrapes_up, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->scrapes_down, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->connections_opened, (uint64_t)o->connections_opened,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->reply_bytes, (uint64_t)o->reply_bytes, memory_order_relaxed);
}

typedef struct sw {
    metrics_writer *w;
    int err;
} sw;

static void note(sw *c, int rc) {
    if (rc && !c->err) c->err = rc;
}

static void one(sw *c, const char *name, const char *help, metrics_type type, int64_t v) {
    note(c, metrics_family_begin(c->w, name, help, type, NULL));
    note(c, metrics_sample_int(c->w, NULL, 0, v));
}

int exp_self_write(metrics_writer *w, exp_self *s, target_table *t, const char *version) {
    sw c = {w, 0};
    note(&c, metrics_family_begin(w, "memkv_exporter_scrapes",
                                  "Scrapes of targets by this exporter, by result: up (the target "
                                  "answered), down (memkv_up 0), bad_request (refused with 400).",
                                  METRICS_COUNTER, NULL));
    metrics_label l = {"result", "up"};
    note(&c, metrics_sample_int(w, &l, 1, i64(ld(&s->scrapes_up))));
    l.value = "down";
    note(&c, metrics_sample_int(w, &l, 1, i64(ld(&s->scrapes_down))));
    l.value = "bad_request";
    note(&c, metrics_sample_int(w, &l, 1, i64(ld(&s->bad_requests))));
    one(&c, "memkv_exporter_connections_opened",
        "Connections dialled to targets (a kept connection is dialled once, a fresh one per "
        "scrape).",
        METRICS_COUNTER, i64(ld(&s->connections_opened)));
    note(&c, metrics_family_begin(w, "memkv_exporter_reply_bytes", "Bytes read from targets.",
                                  METRICS_COUNTER, "bytes"));
    note(&c, metrics_sample_int(w, NULL, 0, i64(ld(&s->reply_bytes))));
    one(&c, "memkv_exporter_scrapes_in_flight", "Scrapes of targets running now.", METRICS_GAUGE,
        atomic_load_explicit(&s->in_flight, memory_order_relaxed));
    if (t) {
        one(&c, "memkv_exporter_connections_kept", "Idle connections to targets kept for reuse.",
            METRICS_GAUGE, i64(target_table_kept(t)));
        one(&c, "memkv_exporter_targets",
            "Targets remembered (kind, cached MALLOC-STATS), at most --max-targets.", METRICS_GAUGE,
            i64(target_table_entries(t)));
    }
    note(&c, metrics_family_begin(w, "memkv_exporter_build", "The exporter's version.",
                                  METRICS_INFO, NULL));
    metrics_label v = {"version", version};
    note(&c, metrics_sample_int(w, &v, 1, 1));
    return c.err;
}
