/* Per-command statistics as Redis 7.0 shows them: INFO commandstats (calls, usec, rejected and
 * failed calls per command and subcommand), INFO errorstats (error replies by their first
 * word), INFO latencystats and LATENCY HISTOGRAM (a latency histogram per command, with
 * latency-tracking on).
 *
 * The counters live with the command table (commands.c counts them where commands run); this
 * file keeps the error prefixes and renders everything. Error prefixes are bounded by
 * errorstats-max-prefixes (Redis's 128): a reply under one more prefix logs the list, replaces
 * the table with ERRORSTATS_DISABLED (count 1) and stops tracking until CONFIG RESETSTAT, as
 * Redis 7.2 does (7.0 had no bound). Memory: ALLOC_SUB_SLOWLOG (introspection data). Main
 * thread only. */
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/log.h"
#include "server/server.h"

#define SUB ALLOC_SUB_SLOWLOG
#define ERROR_PREFIX_MAX 32 /* Redis looks for the space within the first 32 bytes */

typedef struct error_stat {
    char name[ERROR_PREFIX_MAX];
    size_t len;
    long long count;
} error_stat;

static struct {
    error_stat *errors; /* in order of first appearance */
    size_t nerrors, cap;
    int disabled; /* over errorstats-max-prefixes: nothing more by prefix until RESETSTAT */
} E;

static void errors_clear(void) {
    alloc_free(SUB, E.errors);
    E.errors = NULL;
    E.nerrors = E.cap = 0;
}

static void error_add(const char *name, size_t len) {
    if (E.nerrors == E.cap) {
        E.cap = E.cap ? E.cap * 2 : 8;
        E.errors = alloc_realloc(SUB, E.errors, E.cap * sizeof(*E.errors));
    }
    error_stat *e = &E.errors[E.nerrors++];
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->len = len;
    e->count = 1;
}

/* Stops tracking by prefix, as Redis: the list is logged, one ERRORSTATS_DISABLED entry left. */
static void errors_disable(void) {
    char list[ERROR_PREFIX_MAX * 32];
    size_t n = 0;
    for (size_t i = 0; i < E.nerrors && n + ERROR_PREFIX_MAX + 2 < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", E.errors[i].name);
    log_msg(LOG_WARNING,
            "Errorstats stopped adding new errors because the number of different errors "
            "reached errorstats-max-prefixes (%lld); INFO errorstats shows ERRORSTATS_DISABLED "
            "until CONFIG RESETSTAT.",
            srv.errorstats_max_prefixes);
    log_msg(LOG_WARNING, "Current errors code list: %s%s", list,
            n + ERROR_PREFIX_MAX + 2 >= sizeof(list) ? ", ..." : "");
    errors_clear();
    error_add("ERRORSTATS_DISABLED", 19);
    E.disabled = 1;
}

void cmdstats_error(const char *msg) {
    if (E.disabled) return;
    /* The first word within 32 bytes; ERR when there is none (Redis's afterErrorReply). */
    if (*msg == '-') msg++;
    size_t len = strnlen(msg, ERROR_PREFIX_MAX);
    const char *space = memchr(msg, ' ', len);
    if (space && space > msg) {
        len = (size_t)(space - msg);
    } else {
        msg = "ERR";
        len = 3;
    }
    for (size_t i = 0; i < E.nerrors; i++) {
        if (E.errors[i].len == len && memcmp(E.errors[i].name, msg, len) == 0) {
            E.errors[i].count++;
            return;
        }
    }
    if ((long long)E.nerrors >= srv.errorstats_max_prefixes) {
        errors_disable();
        return;
    }
    error_add(msg, len);
}

void cmdstats_each_error(void (*fn)(void *ctx, const char *prefix, long long count), void *ctx) {
    for (size_t i = 0; i < E.nerrors; i++)
        fn(ctx, E.errors[i].name, E.errors[i].count);
}

static void stats_reset(void *ctx, const char *name, cmd_stats *st) {
    (void)ctx;
    (void)name;
    lathist_free(&st->hist, SUB);
    memset(st, 0, sizeof(*st));
}

void cmdstats_reset(void) {
    commands_each_stats(stats_reset, NULL);
    errors_clear();
    E.disabled = 0;
}

void cmdstats_free(void) {
    cmdstats_reset();
}

/* ---- INFO ---- */

typedef struct emitter {
    void (*emit)(void *ctx, const char *line, size_t len);
    void *ctx;
} emitter;

/* Redis's getSafeInfoString: a name never breaks the field syntax. */
static void safe_name(char *out, size_t cap, const char *name) {
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++)
        out[i] = (name[i] == ':' || name[i] == '\r' || name[i] == '\n') ? '_' : name[i];
    out[i] = '\0';
}

static void emit_commandstat(void *ctx, const char *name, cmd_stats *st) {
    const emitter *em = ctx;
    if (!st->calls && !st->failed && !st->rejected) return;
    char safe[96], line[256];
    safe_name(safe, sizeof(safe), name);
    int n =
        snprintf(line, sizeof(line),
                 "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
                 "failed_calls=%lld",
                 safe, st->calls, st->usec, st->calls ? (double)st->usec / (double)st->calls : 0.0,
                 st->rejected, st->failed);
    em->emit(em->ctx, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void cmdstats_info_commandstats(void (*emit)(void *ctx, const char *line, size_t len), void *ctx) {
    emitter em = {emit, ctx};
    commands_each_stats(emit_commandstat, &em);
}

void cmdstats_info_errorstats(void (*emit)(void *ctx, const char *line, size_t len), void *ctx) {
    char line[96];
    for (size_t i = 0; i < E.nerrors; i++) {
        int n = snprintf(line, sizeof(line), "errorstat_%s:count=%lld", E.errors[i].name,
                         E.errors[i].count);
        emit(ctx, line, (size_t)n);
    }
}

static void emit_latencystat(void *ctx, const char *name, cmd_stats *st) {
    const emitter *em = ctx;
    if (!st->hist) return;
    char safe[96], line[96 + CMDSTATS_MAX_PERCENTILES * 48];
    safe_name(safe, sizeof(safe), name);
    size_t n = (size_t)snprintf(line, sizeof(line), "latency_percentiles_usec_%s:", safe);
    for (int i = 0; i < srv.latency_npercentiles; i++) {
        char pname[64];
        config_percentile_name(pname, sizeof(pname), srv.latency_percentiles[i]);
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%sp%s=%.3f", i ? "," : "", pname,
                              (double)lathist_percentile(st->hist, srv.latency_percentiles[i]));
    }
    em->emit(em->ctx, line, n < sizeof(line) ? n : sizeof(line) - 1);
}

void cmdstats_info_latencystats(void (*emit)(void *ctx, const char *line, size_t len), void *ctx) {
    emitter em = {emit, ctx};
    commands_each_stats(emit_latencystat, &em);
}

/* ---- LATENCY HISTOGRAM ---- */

static void reply_cdf_point(void *ctx, uint64_t bound, uint64_t cum) {
    client *c = ctx;
    reply_add_int(&c->reply, (long long)bound);
    reply_add_int(&c->reply, (long long)cum);
}

/* name => {calls, histogram_usec => {bound => cumulative count}} */
static void reply_histogram(client *c, const char *name, const lathist *h) {
    reply_add_bulk_cstr(&c->reply, name);
    reply_add_map_len(&c->reply, 2);
    reply_add_bulk_cstr(&c->reply, "calls");
    reply_add_int(&c->reply, (long long)h->total);
    reply_add_bulk_cstr(&c->reply, "histogram_usec");
    reply_add_map_len(&c->reply, lathist_pow2_cdf(h, NULL, NULL));
    lathist_pow2_cdf(h, reply_cdf_point, c);
}

typedef struct hist_walk {
    client *c;
    long long n;
} hist_walk;

static void walk_histogram(void *ctx, const char *name, cmd_stats *st) {
    hist_walk *w = ctx;
    if (!st->hist) return;
    if (w->c) reply_histogram(w->c, name, st->hist);
    w->n++;
}

/* The statistics a LATENCY HISTOGRAM argument names ("get", "client|list"): fn for the command
 * or subcommand, and for a container for each of its subcommands too, as Redis 7.0. */
static void walk_named(const resp_arg *a, hist_walk *w) {
    const char *bar = memchr(a->ptr, '|', a->len);
    size_t clen = bar ? (size_t)(bar - a->ptr) : a->len;
    const command *cmd = command_lookup(a->ptr, clen);
    if (!cmd) return;
    if (bar) {
        resp_arg s = {.ptr = (char *)bar + 1, .len = a->len - clen - 1};
        subcommand *sub = memchr(s.ptr, '|', s.len) ? NULL : command_find_sub(cmd, &s);
        if (sub) walk_histogram(w, sub->fullname, &sub->stats);
        return;
    }
    walk_histogram(w, cmd->name, command_stats(cmd));
    commands_each_sub_stats(cmd, walk_histogram, w);
}

void cmdstats_latency_histogram(client *c) {
    hist_walk count = {NULL, 0};
    if (c->argc == 2) {
        commands_each_stats(walk_histogram, &count);
    } else {
        for (int i = 2; i < c->argc; i++)
            walk_named(&c->argv[i], &count);
    }
    reply_add_map_len(&c->reply, count.n);
    hist_walk out = {c, 0};
    if (c->argc == 2) {
        commands_each_stats(walk_histogram, &out);
    } else {
        for (int i = 2; i < c->argc; i++)
            walk_named(&c->argv[i], &out);
    }
}
