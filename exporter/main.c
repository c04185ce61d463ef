/* memkv-exporter — scrapes Redis-protocol servers and twemproxy, serves memkv_* families.
 *
 * HTTP: the endpoint of src/metrics/http.c in thread-per-connection mode, so a scrape waiting
 * on a slow target holds only its own connection's thread: scrapes of other targets never
 * wait on it. Every scrape is bounded by one deadline (scrape.h). */
#include "metrics/metrics.h"

#include "alloc/alloc.h"
#include "options.h"
#include "parse.h"
#include "render.h"
#include "scrape.h"
#include "self.h"
#include "target.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef MEMKV_EXPORTER_VERSION
#define MEMKV_EXPORTER_VERSION "0.1.0"
#endif

/* malloc_setup.c: glibc's malloc tuned for this process (a file of its own: <malloc.h> declares a
 * malloc_stats() that parse.h's struct would clash with). */
void exp_malloc_setup(void);

/* The scrape handler's stack: render and scrape need a few tens of KiB (a 16 KiB read buffer,
 * hiredis, the writer's calls); the default 8 MiB is only address space, but a smaller one keeps
 * the touched pages and the VMAs of many concurrent scrapes small. */
#define THREAD_STACK_BYTES (256u * 1024u)

typedef struct exporter {
    exp_options opt;
    target_table *table;
    exp_self self;
} exporter;

static int text_response(http_response *resp, int status, const char *msg) {
    size_t len = strlen(msg);
    /* freed by the endpoint with metrics_buffer_free, i.e. as an ALLOC_SUB_HTTP block */
    char *b = alloc_malloc(ALLOC_SUB_HTTP, len + 2);
    memcpy(b, msg, len);
    b[len] = '\n';
    b[len + 1] = '\0';
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = b;
    resp->len = len + 1;
    return 0;
}

/* A refused /scrape: 400 for a malformed request, 403 for a target this exporter will not
 * scrape (allow-targets, or an auth entry bound to other targets); both counted as
 * bad_request. */
static int refuse(exporter *x, http_response *resp, int status, const char *msg) {
    atomic_fetch_add_explicit(&x->self.bad_requests, 1, memory_order_relaxed);
    return text_response(resp, status, msg);
}

/* The scrape budget: --timeout, and Prometheus' header minus the offset (never below half of
 * the header, so a 1 s scrape_timeout still leaves the target most of it). */
static double budget(const exporter *x, const char *header) {
    double t = x->opt.timeout;
    double h;
    if (header && exp_parse_number(header, strlen(header), &h) == 0 && h > 0 && h < 1e6) {
        double eff = h - x->opt.timeout_offset;
        if (eff < h / 2) eff = h / 2;
        if (eff < t) t = eff;
    }
    return t;
}

/* Scrape one target and render it into w. */
static void scrape_and_render(exporter *x, metrics_writer *w, const target_addr *a,
                              const exp_auth *auth, int want_malloc, double deadline) {
    scrape_out out;
    char password[512];
    scrape_opts so = {
        .deadline = deadline,
        .connect_timeout = x->opt.connect_timeout,
        .max_reply_bytes = x->opt.max_reply_bytes,
        .fresh_connection = x->opt.fresh_connection,
        .malloc_stats = want_malloc,
        .malloc_interval = x->opt.malloc_stats_interval,
    };
    atomic_fetch_add_explicit(&x->self.in_flight, 1, memory_order_relaxed);
    char perr[256] = "";
    if (auth) {
        so.auth_name = auth->name;
        so.user = auth->user;
        if (exp_auth_password(auth, password, sizeof(password), perr, sizeof(perr)) == 0)
            so.password = password;
    }
    if (perr[0]) { /* no password to send: down, without dialling */
        memset(&out, 0, sizeof(out));
        out.res.version = "";
        snprintf(out.res.error, sizeof(out.res.error), "%s", perr);
    } else {
        scrape_target(x->table, a, &so, &out);
    }
    explicit_bzero(password, sizeof(password));
    atomic_fetch_add_explicit(&x->self.in_flight, -1, memory_order_relaxed);
    exp_self_note(&x->self, &out);
    render_target(w, &out.res);
    scrape_out_free(&out);
}

static int on_scrape(void *ctx, const http_scrape_request *req, http_response *resp) {
    exporter *x = ctx;
    double start = scrape_now();
    int is_metrics = strcmp(req->path, "/metrics") == 0;
    const char *target = NULL, *auth_name = NULL, *kind = NULL;
    int want_malloc = x->opt.malloc_stats;
    char msg[640];
    target_addr a;

    if (is_metrics) { /* the default target; the query string is ignored, as memkv's */
        if (x->opt.target[0]) {
            target = x->opt.target;
            if (x->opt.target_auth[0]) auth_name = x->opt.target_auth;
        }
    } else {
        if (req->args_truncated) return refuse(x, resp, 400, "too many query parameters");
        for (size_t i = 0; i < req->nargs; i++) {
            const char *n = req->args[i].name, *v = req->args[i].value;
            const char **slot = NULL;
            if (strcmp(n, "target") == 0)
                slot = &target;
            else if (strcmp(n, "auth") == 0)
                slot = &auth_name;
            else if (strcmp(n, "kind") == 0)
                slot = &kind;
            else if (strcmp(n, "malloc_stats") == 0) {
                if (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0)
                    want_malloc = 1;
                else if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 ||
                         strcasecmp(v, "no") == 0)
                    want_malloc = 0;
                else
                    return refuse(x, resp, 400, "malloc_stats must be 1 or 0");
                continue;
            } else {
                snprintf(msg, sizeof(msg),
                         "unknown query parameter '%.64s' (known: target, auth, malloc_stats, "
                         "kind)",
                         n);
                return refuse(x, resp, 400, msg);
            }
            if (*slot) {
                snprintf(msg, sizeof(msg), "query parameter '%.64s' given twice", n);
                return refuse(x, resp, 400, msg);
            }
            *slot = v;
        }
        if (!target || !*target) return refuse(x, resp, 400, "missing target parameter");
    }

    const exp_auth *auth = NULL;
    if (target) {
        char err[200];
        if (target_parse(target, &a, err, sizeof(err)) != 0) {
            snprintf(msg, sizeof(msg), "invalid target: %s", err);
            return refuse(x, resp, 400, msg);
        }
        if (kind && *kind) {
            if (strcmp(kind, "proxy") == 0 || strcmp(kind, "twemproxy") == 0)
                a.is_proxy = 1;
            else if (strcmp(kind, "redis") != 0)
                return refuse(x, resp, 400, "kind must be redis or proxy");
        }
        if (a.is_proxy && strncmp(a.canonical, "proxy://", 8) != 0) {
            char c[TARGET_KEY_MAX];
            snprintf(c, sizeof(c), "proxy://%.*s", (int)sizeof(c) - 9, a.canonical);
            memcpy(a.canonical, c, sizeof(c));
        }
        if (auth_name && *auth_name) {
            auth = exp_options_find_auth(&x->opt, auth_name);
            if (!auth) {
                snprintf(msg, sizeof(msg), "unknown auth '%.64s' (not in the config file)",
                         auth_name);
                return refuse(x, resp, 400, msg);
            }
        }
        /* The default target of /metrics is the operator's own choice; /scrape's come from
         * whoever reaches this port. */
        if (!is_metrics && !exp_targets_match(x->opt.allow_targets, a.canonical)) {
            snprintf(msg, sizeof(msg), "target '%.200s' is not in allow-targets", a.canonical);
            return refuse(x, resp, 403, msg);
        }
        if (auth && !exp_targets_match(auth->targets, a.canonical)) {
            snprintf(msg, sizeof(msg),
                     "auth '%.64s' is not for target '%.200s' (its targets: %.100s)", auth->name,
                     a.canonical, auth->targets);
            return refuse(x, resp, 403, msg);
        }
    }

    metrics_format fmt = metrics_format_from_accept(req->accept);
    metrics_writer w;
    metrics_writer_init(&w, fmt);
    if (target)
        scrape_and_render(x, &w, &a, auth, want_malloc, start + budget(x, req->scrape_timeout));
    exp_self_write(&w, &x->self, x->table, MEMKV_EXPORTER_VERSION);
    if (is_metrics) {
        metrics_process p;
        metrics_process_read(&p);
        metrics_write_process(&w, &p);
    }
    metrics_writer_finish(&w);
    size_t len = 0;
    resp->body = metrics_writer_take(&w, &len);
    resp->len = len;
    resp->status = 200;
    resp->content_type = metrics_content_type(fmt);
    metrics_writer_deinit(&w);
    return 0;
}

static void on_log(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "memkv-exporter: http: %s\n", line);
}

int main(int argc, char **argv) {
    exp_malloc_setup();
    exporter *x = calloc(1, sizeof(*x));
    if (!x) return 1;
    char err[EXP_ERR_LEN];
    exp_options_default(&x->opt);
    if (exp_options_parse_args(&x->opt, argc, argv, err, sizeof(err)) != 0 ||
        exp_options_check(&x->opt, err, sizeof(err)) != 0) {
        fprintf(stderr, "memkv-exporter: %s\n(see --help)\n", err);
        free(x);
        return 2;
    }
    if (x->opt.help) {
        fputs(exp_options_usage(), stdout);
        free(x);
        return 0;
    }
    if (x->opt.version) {
        printf("memkv-exporter %s\n", MEMKV_EXPORTER_VERSION);
        free(x);
        return 0;
    }
    if (x->opt.target[0]) {
        target_addr a;
        if (target_parse(x->opt.target, &a, err, sizeof(err)) != 0) {
            fprintf(stderr, "memkv-exporter: --target: %s\n", err);
            free(x);
            return 2;
        }
    }

    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
        pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
    /* SIGTERM/SIGINT are taken by sigwait below; every thread started after this inherits the
     * mask, so none of them is interrupted. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    x->table = target_table_new(x->opt.max_targets);
    http_config cfg;
    http_config_default(&cfg);
    snprintf(cfg.bind, sizeof(cfg.bind), "%s", x->opt.listen_host);
    cfg.port = x->opt.listen_port;
    cfg.thread_per_connection = 1;
    cfg.max_connections = 256;
    unsigned t = (unsigned)x->opt.timeout + 10u;
    cfg.timeout_seconds = t > 10 ? t : 10;
    snprintf(cfg.name, sizeof(cfg.name), "memkv-exporter");
    if (x->opt.token_file[0]) {
        char terr[EXP_ERR_LEN];
        if (exp_read_token(&x->opt, cfg.token, sizeof(cfg.token), terr, sizeof(terr)) != 0) {
            fprintf(stderr, "memkv-exporter: %s\n", terr);
            target_table_free(x->table);
            free(x);
            return 2;
        }
    }
    http_handlers h;
    memset(&h, 0, sizeof(h));
    h.ctx = x;
    h.scrape = on_scrape;
    h.log = on_log;
    int port = 0;
    char herr[256] = "";
    http_endpoint *ep = http_start(&cfg, &h, &port, herr, sizeof(herr));
    if (!ep) {
        fprintf(stderr, "memkv-exporter: cannot listen on %s:%d: %s\n", cfg.bind, cfg.port, herr);
        target_table_free(x->table);
        free(x);
        return 1;
    }
    int v6 = strchr(cfg.bind, ':') != NULL;
    fprintf(stderr, "memkv-exporter %s: listening on http://%s%s%s:%d/\n", MEMKV_EXPORTER_VERSION,
            v6 ? "[" : "", cfg.bind, v6 ? "]" : "", port);
    fflush(stderr);

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "memkv-exporter: signal %d, stopping\n", sig);
    http_stop(ep);
    target_table_free(x->table);
    free(x);
    return 0;
}
