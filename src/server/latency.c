/* LATENCY: the latency monitor of Redis 7.0. With latency-monitor-threshold > 0 (ms), every
 * event that took at least that long is sampled: a ring of the last LATENCY_SAMPLES seconds
 * that had a spike (one sample per second, the worst one), the latest spike and the worst
 * ever, per event. Events memkv records: "command" and "fast-command" (a command's run, by its
 * fast flag, as Redis), "expire-cycle" (the cron's active expiry), "eviction-cycle" (one call
 * of the eviction loop that evicted keys).
 *
 * LATEST, HISTORY, RESET and HELP answer as Redis, and HISTOGRAM (the per-command histograms of
 * latency-tracking, cmdstats.c) too; DOCTOR and GRAPH give memkv's own short
 * texts (verbatim strings, as Redis's). Main thread only; memory in ALLOC_SUB_SLOWLOG. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc/alloc.h"
#include "server/server.h"

#define LATENCY_SAMPLES 160
#define LATENCY_MAX_EVENTS 16
#define SUB ALLOC_SUB_SLOWLOG

typedef struct latency_sample {
    int32_t time; /* unix seconds; 0 = unused slot */
    uint32_t ms;
} latency_sample;

typedef struct latency_series {
    char name[32];
    int idx; /* next slot to write */
    uint32_t max;
    latency_sample samples[LATENCY_SAMPLES];
} latency_series;

static latency_series *series[LATENCY_MAX_EVENTS];
static int nseries;

static latency_series *series_find(const char *name, size_t len) {
    for (int i = 0; i < nseries; i++)
        if (strlen(series[i]->name) == len && memcmp(series[i]->name, name, len) == 0)
            return series[i];
    return NULL;
}

void latency_add_sample(const char *event, long long ms) {
    if (srv.latency_monitor_threshold <= 0 || ms < srv.latency_monitor_threshold) return;
    latency_series *s = series_find(event, strlen(event));
    if (!s) {
        if (nseries == LATENCY_MAX_EVENTS) return;
        s = alloc_calloc(SUB, sizeof(*s));
        snprintf(s->name, sizeof(s->name), "%s", event);
        series[nseries++] = s;
    }
    uint32_t v = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    int32_t now = (int32_t)time(NULL);
    if (v > s->max) s->max = v;
    int prev = (s->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES;
    if (s->samples[prev].time == now) { /* one sample per second: the worst */
        if (v > s->samples[prev].ms) s->samples[prev].ms = v;
        return;
    }
    s->samples[s->idx].time = now;
    s->samples[s->idx].ms = v;
    s->idx = (s->idx + 1) % LATENCY_SAMPLES;
}

static void series_remove(int i) {
    alloc_free(SUB, series[i]);
    series[i] = series[--nseries];
    series[nseries] = NULL;
}

void latency_free(void) {
    while (nseries)
        series_remove(nseries - 1);
}

static void reply_latest(client *c) {
    reply_add_array_len(&c->reply, nseries);
    for (int i = 0; i < nseries; i++) {
        const latency_series *s = series[i];
        const latency_sample *last = &s->samples[(s->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES];
        reply_add_array_len(&c->reply, 4);
        reply_add_bulk_cstr(&c->reply, s->name);
        reply_add_int(&c->reply, last->time);
        reply_add_int(&c->reply, last->ms);
        reply_add_int(&c->reply, s->max);
    }
}

static long long series_count(const latency_series *s) {
    long long n = 0;
    for (int j = 0; j < LATENCY_SAMPLES; j++)
        n += s->samples[j].time != 0;
    return n;
}

static void reply_history(client *c, const latency_series *s) {
    if (!s) {
        reply_add_array_len(&c->reply, 0);
        return;
    }
    reply_add_array_len(&c->reply, series_count(s));
    for (int j = 0; j < LATENCY_SAMPLES; j++) { /* oldest first */
        const latency_sample *x = &s->samples[(s->idx + j) % LATENCY_SAMPLES];
        if (!x->time) continue;
        reply_add_array_len(&c->reply, 2);
        reply_add_int(&c->reply, x->time);
        reply_add_int(&c->reply, x->ms);
    }
}

/* A plain report: per event its spikes, latest, worst and mean; memkv's own wording. */
static void reply_doctor(client *c) {
    char buf[4096];
    size_t n = 0;
    if (srv.latency_monitor_threshold <= 0) {
        n = (size_t)snprintf(buf, sizeof(buf),
                             "Latency monitoring is off (latency-monitor-threshold is 0). "
                             "Turn it on with CONFIG SET latency-monitor-threshold <milliseconds>; "
                             "events that take at least that long are then recorded.\n");
    } else if (nseries == 0) {
        n = (size_t)snprintf(buf, sizeof(buf),
                             "No latency spike of %lld ms or more was recorded since the server "
                             "started (or since LATENCY RESET).\n",
                             srv.latency_monitor_threshold);
    } else {
        n = (size_t)snprintf(buf, sizeof(buf), "Latency spikes of %lld ms or more:\n",
                             srv.latency_monitor_threshold);
        for (int i = 0; i < nseries && n < sizeof(buf) - 256; i++) {
            const latency_series *s = series[i];
            long long cnt = series_count(s), sum = 0;
            for (int j = 0; j < LATENCY_SAMPLES; j++)
                sum += s->samples[j].ms;
            const latency_sample *last =
                &s->samples[(s->idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES];
            n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                  "- %s: %lld seconds with spikes, latest %u ms, worst %u ms, "
                                  "mean %lld ms.\n",
                                  s->name, cnt, last->ms, s->max, cnt ? sum / cnt : 0);
        }
        if (series_find("command", 7) || series_find("fast-command", 12))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                  "Slow commands: SLOWLOG GET names them; avoid O(N) commands on "
                                  "big keys (KEYS, SMEMBERS, HGETALL, LRANGE 0 -1).\n");
        if (series_find("expire-cycle", 12))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                  "Expire cycle: many keys expire at the same time; spread "
                                  "their expire times.\n");
        if (series_find("eviction-cycle", 14))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                  "Eviction: writes keep memory over maxmemory; raise maxmemory "
                                  "or write less.\n");
    }
    if (n >= sizeof(buf)) n = sizeof(buf) - 1;
    reply_add_verbatim(&c->reply, "txt", buf, n);
}

/* One line per sample (oldest first): its time and a bar scaled to the worst spike. */
static void reply_graph(client *c, const latency_series *s) {
    char buf[LATENCY_SAMPLES * 64 + 256];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s - high %u ms\n", s->name, s->max);
    for (int j = 0; j < LATENCY_SAMPLES; j++) {
        const latency_sample *x = &s->samples[(s->idx + j) % LATENCY_SAMPLES];
        if (!x->time) continue;
        int bar = s->max ? (int)((uint64_t)x->ms * 40 / s->max) : 0;
        if (bar < 1) bar = 1;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%10d %6u ms %.*s\n", (int)x->time, x->ms,
                              bar, "########################################");
    }
    if (n >= sizeof(buf)) n = sizeof(buf) - 1;
    reply_add_verbatim(&c->reply, "txt", buf, n);
}

void cmd_latency(client *c) {
    /* clang-format off */
    static const char *const help[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
        NULL};
    /* clang-format on */
    if (arg_eq(c, 1, "help") && c->argc == 2) {
        reply_help(c, help);
    } else if (arg_eq(c, 1, "latest") && c->argc == 2) {
        reply_latest(c);
    } else if (arg_eq(c, 1, "history") && c->argc == 3) {
        reply_history(c, series_find(c->argv[2].ptr, c->argv[2].len));
    } else if (arg_eq(c, 1, "graph") && c->argc == 3) {
        const latency_series *s = series_find(c->argv[2].ptr, c->argv[2].len);
        if (!s) {
            int len = c->argv[2].len > 128 ? 128 : (int)c->argv[2].len;
            reply_errorf(c, "ERR No samples available for event '%.*s'", len, c->argv[2].ptr);
            return;
        }
        reply_graph(c, s);
    } else if (arg_eq(c, 1, "histogram")) {
        cmdstats_latency_histogram(c);
    } else if (arg_eq(c, 1, "doctor") && c->argc == 2) {
        reply_doctor(c);
    } else if (arg_eq(c, 1, "reset") && c->argc >= 2) {
        long long resets = 0;
        if (c->argc == 2) {
            resets = nseries;
            latency_free();
        } else {
            for (int a = 2; a < c->argc; a++) {
                for (int i = 0; i < nseries; i++) {
                    if (strlen(series[i]->name) == c->argv[a].len &&
                        memcmp(series[i]->name, c->argv[a].ptr, c->argv[a].len) == 0) {
                        series_remove(i);
                        resets++;
                        break;
                    }
                }
            }
        }
        reply_add_int(&c->reply, resets);
    } else if (arg_eq(c, 1, "help") || arg_eq(c, 1, "latest") || arg_eq(c, 1, "history") ||
               arg_eq(c, 1, "graph") || arg_eq(c, 1, "doctor")) {
        reply_wrong_subcommand_arity(c);
    } else {
        reply_unknown_subcommand(c);
    }
}
