/* Configuration engine (src/server/config.c) with the server's real parameter table
 * (src/server/server_config.c, compiled into this target; the server functions its apply hooks
 * call are stubbed below and succeed). Every CFG_* type and every custom parser of the table
 * (client-output-buffer-limit, metrics-port, save, appendonly, notify-keyspace-events, whose
 * parser is src/server/notify.c's) is reached.
 *
 * Input: byte 0 picks the mode, the rest is text.
 *  0: a config file (cfg_load_text on fresh defaults). If it loads, a string parameter holds
 *     exactly its last line's arguments (joined by spaces, never truncated); each value is
 *     formatted and set again unchanged (CONFIG GET's text is accepted back by CONFIG SET);
 *     the file is rewritten (cfg_rewrite, as CONFIG REWRITE) and loaded into a fresh table:
 *     every value must come back the same. A refusal has an "at line N" message.
 *  1: CONFIG SET at run time: lines are name/value pairs for cfg_set_many (all or nothing: on
 *     failure every value is as before), then the first line is tried as the value of every
 *     parameter (a refused value leaves the parameter as it was; an accepted one survives a
 *     format/parse round trip).
 *  2: the command line (cfg_load_args), arguments separated by newlines; loaded string
 *     parameters hold exactly their values.
 * Throughout: error texts are NUL-terminated and shorter than CFG_ERR_LEN, cfg_split_args
 * returns NUL-terminated arguments. */
#include "fuzz.h"

#include "server/config.h"
#include "server/log.h"
#include "server/pubsub.h"
#include "server/script.h"
#include "server/server.h"
#include "server/tracking.h"

#include <string.h>
#include <unistd.h>

/* ---- what server_config.c needs from the rest of the server ---- */
server srv;
const char *const evict_policy_names[] = {"volatile-lru",
                                          "volatile-random",
                                          "volatile-ttl",
                                          "allkeys-lru",
                                          "allkeys-random",
                                          "noeviction",
                                          NULL};
void log_set_level(int level) {
    (void)level;
}
int evloop_setsize(const evloop *el) {
    (void)el;
    return 1 << 20;
}
void evict_maxmemory_changed(void) {}
void server_clamp_hz(void) { /* as main.c's */
    if (srv.hz < 1) srv.hz = 1;
    if (srv.hz > 500) srv.hz = 500;
}
int profile_apply_enabled(char *err, size_t cap) {
    (void)err;
    (void)cap;
    return 0;
}
int profile_apply_sample_bytes(char *err, size_t cap) {
    (void)err;
    (void)cap;
    return 0;
}
int profile_apply_settings(char *err, size_t cap) {
    (void)err;
    (void)cap;
    return 0;
}
int profile_apply_unwinder(char *err, size_t cap) {
    (void)err;
    (void)cap;
    return 0;
}
int endpoint_restart(char *err, size_t cap) {
    (void)err;
    (void)cap;
    return 0;
}
int keyspace_stats_apply(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    return 0;
}
void db_set_key_hooks(db_key_hook on_new, db_key_hook on_expired) {
    (void)on_new;
    (void)on_expired;
}
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen, int shard) {
    (void)ch;
    (void)chlen;
    (void)msg;
    (void)mlen;
    (void)shard;
    return 0;
}
int history_reset(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    return 0;
}
int server_hooks_apply(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    return 0;
}
int slowlog_apply_max_len(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    return 0;
}
long long script_cache_max;
int script_cache_apply_max(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    return 0;
}
/* persist.c's save rules: kept as text, its words joined by single spaces as persist.c's
 * format writes them (a value with a leading space would not survive CONFIG REWRITE and a
 * reload: the file's line is split into words again). The round trip checks
 * format(parse(x)) = x. */
static char save_text[256];
int persist_parse_save(const char *value, char *err, size_t errlen) {
    if (strlen(value) >= sizeof(save_text)) {
        snprintf(err, errlen, "Invalid save parameters");
        return -1;
    }
    size_t o = 0;
    for (const char *s = value; *s;) {
        while (*s == ' ')
            s++;
        if (!*s) break;
        if (o) save_text[o++] = ' ';
        while (*s && *s != ' ')
            save_text[o++] = *s++;
    }
    save_text[o] = '\0';
    return 0;
}
void persist_format_save(char *buf, size_t cap) {
    snprintf(buf, cap, "%s", save_text);
}

int tracking_apply_max_keys(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    return 0;
}

/* ---- helpers ---- */
#define VAL_LEN 1024

static char tmp_path[64];

static void remove_tmp(void) {
    if (tmp_path[0]) unlink(tmp_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/memkv-fuzz-config-%d.conf", (int)getpid());
    atexit(remove_tmp);
    return 0;
}

static void check_err(const char *err) {
    FUZZ_CHECK(memchr(err, '\0', CFG_ERR_LEN) != NULL);
    FUZZ_CHECK(err[0] != '\0');
}

static void fresh(void) {
    char err[CFG_ERR_LEN];
    cfg_deinit(&srv.config);
    FUZZ_CHECK(server_config_init(err) == 0);
    /* As a client enable-protected-configs allows: every parameter is reachable (the refusal
     * itself is test_config's and test_security's). */
    srv.config.allow_protected = 1;
}

/* All values, formatted, one after the other (VAL_LEN each). */
static char *snapshot(void) {
    char *s = calloc(srv.config.count, VAL_LEN);
    FUZZ_CHECK(s != NULL);
    for (size_t i = 0; i < srv.config.count; i++)
        cfg_format(&srv.config.params[i], s + i * VAL_LEN, VAL_LEN);
    return s;
}

static int same_snapshot(const char *a, const char *b) {
    for (size_t i = 0; i < srv.config.count; i++)
        if (strcmp(a + i * VAL_LEN, b + i * VAL_LEN) != 0) {
            fprintf(stderr, "%s: '%s' became '%s'\n", srv.config.params[i].name, a + i * VAL_LEN,
                    b + i * VAL_LEN);
            return 0;
        }
    return 1;
}

/* Setting a parameter to its own formatted value changes nothing. */
static void check_round_trip(const cfg_param *p) {
    char v[VAL_LEN], again[VAL_LEN], err[CFG_ERR_LEN];
    cfg_format(p, v, sizeof(v));
    if (cfg_set(&srv.config, p->name, v, err) != 0) {
        fprintf(stderr, "%s: its own value '%s' refused: %s\n", p->name, v, err);
        FUZZ_CHECK(!"formatted value refused");
    }
    cfg_format(p, again, sizeof(again));
    FUZZ_CHECK(strcmp(v, again) == 0);
}

static void check_split(const char *text) {
    char **args;
    int n = cfg_split_args(text, &args);
    FUZZ_CHECK(n >= -1);
    if (n < 0) return;
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(args[i] != NULL && strlen(args[i]) <= strlen(text));
    cfg_free_args(args, n);
}

/* A loaded file's string parameters hold exactly what their last line said (the arguments
 * joined with single spaces): never a truncated value. */
static void check_strings_loaded(const char *text) {
    const char *s = text;
    while (*s) {
        const char *eol = strchr(s, '\n');
        size_t len = eol ? (size_t)(eol - s) : strlen(s);
        char *line = strndup(s, len);
        FUZZ_CHECK(line != NULL);
        s += len + (eol ? 1 : 0);
        char **args;
        int n = cfg_split_args(line, &args);
        const cfg_param *p = n >= 2 && args[0][0] != '#' ? cfg_find(&srv.config, args[0]) : NULL;
        if (p && p->type == CFG_STRING) {
            size_t total = 0;
            for (int i = 1; i < n; i++)
                total += strlen(args[i]) + 1;
            char *want = calloc(1, total + 1), got[VAL_LEN];
            FUZZ_CHECK(want != NULL);
            for (int i = 1; i < n; i++) {
                if (i > 1) strcat(want, " ");
                strcat(want, args[i]);
            }
            cfg_format(p, got, sizeof(got));
            /* Only the last occurrence counts: compare when no later line sets it again. */
            int later = 0;
            for (const char *q = s; *q && !later;) {
                const char *e2 = strchr(q, '\n');
                size_t l2 = e2 ? (size_t)(e2 - q) : strlen(q);
                char *line2 = strndup(q, l2);
                char **a2;
                int n2 = cfg_split_args(line2, &a2);
                if (n2 >= 1 && cfg_find(&srv.config, a2[0]) == p) later = 1;
                if (n2 >= 0) cfg_free_args(a2, n2);
                free(line2);
                q += l2 + (e2 ? 1 : 0);
            }
            if (!later) FUZZ_CHECK(strcmp(got, want) == 0);
            free(want);
        }
        if (n >= 0) cfg_free_args(args, n);
        free(line);
    }
}

static void mode_file(const char *text) {
    char err[CFG_ERR_LEN];
    fresh();
    if (cfg_load_text(&srv.config, text, err) != 0) {
        check_err(err);
        FUZZ_CHECK(strncmp(err, "at line ", 8) == 0);
        return;
    }
    check_strings_loaded(text);
    server_clamp_hz(); /* as main() does once the file is loaded (hz 0 reads back as 1) */
    srv.config.started = 1;
    /* Not dir: setting it checks the directory exists here (a file may name one that does not:
     * start-up then stops). */
    for (size_t i = 0; i < srv.config.count; i++)
        if (!(srv.config.params[i].flags & CFG_IMMUTABLE) &&
            strcmp(srv.config.params[i].name, "dir") != 0)
            check_round_trip(&srv.config.params[i]);
    srv.config.started = 0;

    /* CONFIG REWRITE over the same text, then load the result afresh. */
    FILE *f = fopen(tmp_path, "w");
    FUZZ_CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    char *before = snapshot();
    if (cfg_rewrite(&srv.config, tmp_path, err) != 0) {
        fprintf(stderr, "rewrite failed: %s\n", err);
        FUZZ_CHECK(!"rewrite failed");
    }
    fresh();
    if (cfg_load_file(&srv.config, tmp_path, err) != 0) {
        fprintf(stderr, "rewritten file refused: %s\n", err);
        FUZZ_CHECK(!"rewritten file refused");
    }
    char *after = snapshot();
    FUZZ_CHECK(same_snapshot(before, after));
    free(before);
    free(after);
}

/* Lines of text, NUL-terminated in place; returns how many (at most max). */
static size_t split_lines(char *text, char **lines, size_t max) {
    size_t n = 0;
    char *s = text;
    while (n < max) {
        lines[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl) break;
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

static void mode_set(char *text) {
    char err[CFG_ERR_LEN];
    char *lines[16];
    size_t n = split_lines(text, lines, 16);
    fresh();
    srv.config.started = 1;
    size_t pairs = n / 2;
    if (pairs > 0) {
        const char *names[8], *values[8];
        for (size_t i = 0; i < pairs; i++) {
            names[i] = lines[2 * i];
            values[i] = lines[2 * i + 1];
        }
        char *before = snapshot();
        size_t bad = 99;
        int rc = cfg_set_many(&srv.config, names, values, pairs, &bad, err);
        char *after = snapshot();
        if (rc != 0) {
            check_err(err);
            FUZZ_CHECK(bad < pairs);
            FUZZ_CHECK(same_snapshot(before, after));
        } else {
            for (size_t i = 0; i < pairs; i++)
                check_round_trip(cfg_find(&srv.config, names[i]));
        }
        free(before);
        free(after);
    }
    /* The first line as the value of every parameter. */
    for (size_t i = 0; i < srv.config.count; i++) {
        const cfg_param *p = &srv.config.params[i];
        char before[VAL_LEN], after[VAL_LEN];
        cfg_format(p, before, sizeof(before));
        srv.config.started = 0; /* immutable ones too, as at start-up */
        int rc = cfg_set(&srv.config, p->name, lines[0], err);
        cfg_format(p, after, sizeof(after));
        if (rc != 0) {
            check_err(err);
            FUZZ_CHECK(strcmp(before, after) == 0);
        } else {
            check_round_trip(p);
        }
    }
    srv.config.started = 0;
}

static void mode_args(char *text) {
    char err[CFG_ERR_LEN];
    char *argv[64];
    size_t n = split_lines(text, argv, 64);
    fresh();
    if (cfg_load_args(&srv.config, (int)n, argv, err) != 0) {
        check_err(err);
        return;
    }
    /* Loaded: a string parameter holds exactly its values (joined by spaces), never a prefix. */
    for (size_t i = 0; i < n; i++) {
        if (strncmp(argv[i], "--", 2) != 0) continue;
        const cfg_param *p = cfg_find(&srv.config, argv[i] + 2);
        FUZZ_CHECK(p != NULL);
        int later = 0;
        size_t j = i + 1, total = 0;
        for (; j < n && strncmp(argv[j], "--", 2) != 0; j++)
            total += strlen(argv[j]) + 1;
        for (size_t k = j; k < n; k++)
            if (strncmp(argv[k], "--", 2) == 0 && cfg_find(&srv.config, argv[k] + 2) == p)
                later = 1;
        if (p->type != CFG_STRING || later) continue;
        char *want = calloc(1, total + 1), got[VAL_LEN];
        FUZZ_CHECK(want != NULL);
        for (size_t k = i + 1; k < j; k++) {
            if (k > i + 1) strcat(want, " ");
            strcat(want, argv[k]);
        }
        cfg_format(p, got, sizeof(got));
        FUZZ_CHECK(strcmp(got, want) == 0);
        free(want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = malloc(size);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    check_split(text);
    switch (data[0] % 3) {
    case 0:
        mode_file(text);
        break;
    case 1:
        mode_set(text);
        break;
    default:
        mode_args(text);
        break;
    }
    cfg_deinit(&srv.config);
    free(text);
    return 0;
}
