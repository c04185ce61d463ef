/* options — flags and the config file (see options.h). */
#include "options.h"
#include "target.h"

#include "alloc/alloc.h"
#include "server/config.h" /* cfg_split_args: the tokenizer of memkv.conf, linked not copied */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errcap, const char *fmt,
                                                      ...) {
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void exp_options_default(exp_options *o) {
    memset(o, 0, sizeof(*o));
    exp_parse_listen(EXP_DEFAULT_LISTEN, o->listen_host, sizeof(o->listen_host), &o->listen_port);
    o->timeout = 5.0;
    o->connect_timeout = 2.0;
    o->timeout_offset = 0.25;
    o->max_reply_bytes = 8u << 20;
    o->malloc_stats_interval = 60.0;
    o->max_targets = 64;
}

int exp_parse_duration(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0) return -1;
    if (strcmp(end, "ms") == 0)
        v /= 1000.0;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        ;
    else
        return -1;
    if (s[0] == ' ' || v > 86400.0) return -1;
    *out = v;
    return 0;
}

int exp_parse_size(const char *s, size_t *out) {
    long long v;
    if (!s || util_parse_memory(s, &v) != 0 || v <= 0) return -1;
    *out = (size_t)v;
    return 0;
}

int exp_parse_listen(const char *s, char *host, size_t hostcap, int *port) {
    if (!s || !*s) return -1;
    const char *colon;
    const char *h = s, *he;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -1;
        h = s + 1;
        he = close;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) return -1; /* v6 needs brackets */
        he = colon;
    }
    const char *ps = colon + 1;
    int p = target_parse_port(ps, ps + strlen(ps), 0); /* 0: an ephemeral port */
    if (p < 0) return -1;
    size_t hl = (size_t)(he - h);
    if (hl == 0) {
        h = "127.0.0.1";
        hl = strlen(h);
    }
    if (hl >= hostcap) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = p;
    return 0;
}

static int parse_bool(const char *v, int *out) {
    if (!v || strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int copy_str(char *dst, size_t cap, const char *v) {
    if (!v || strlen(v) >= cap) return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int valid_name(const char *s) {
    if (!*s || strlen(s) >= EXP_NAME_MAX) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

int exp_options_set(exp_options *o, const char *key, const char *value, char *err, size_t errcap) {
    if (!key) return fail(err, errcap, "no option");
    int is_bool = strcmp(key, "malloc-stats") == 0 || strcmp(key, "fresh-connection") == 0 ||
                  strcmp(key, "help") == 0 || strcmp(key, "version") == 0;
    if (!is_bool && !value) return fail(err, errcap, "--%s needs a value", key);
    int b;
    if (strcmp(key, "listen") == 0) {
        if (exp_parse_listen(value, o->listen_host, sizeof(o->listen_host), &o->listen_port))
            return fail(err, errcap, "invalid listen address '%s' (HOST:PORT, [v6]:PORT)", value);
    } else if (strcmp(key, "target") == 0) {
        if (copy_str(o->target, sizeof(o->target), value))
            return fail(err, errcap, "target too long");
    } else if (strcmp(key, "target-auth") == 0) {
        if (!valid_name(value)) return fail(err, errcap, "invalid auth name '%s'", value);
        copy_str(o->target_auth, sizeof(o->target_auth), value);
    } else if (strcmp(key, "timeout") == 0) {
        if (exp_parse_duration(value, &o->timeout) || o->timeout < 0.01)
            return fail(err, errcap, "invalid timeout '%s' (e.g. 5s, 500ms)", value);
    } else if (strcmp(key, "connect-timeout") == 0) {
        if (exp_parse_duration(value, &o->connect_timeout) || o->connect_timeout < 0.01)
            return fail(err, errcap, "invalid connect-timeout '%s' (e.g. 2s, 500ms)", value);
    } else if (strcmp(key, "timeout-offset") == 0) {
        if (exp_parse_duration(value, &o->timeout_offset))
            return fail(err, errcap, "invalid timeout-offset '%s' (e.g. 250ms)", value);
    } else if (strcmp(key, "max-reply-bytes") == 0) {
        if (exp_parse_size(value, &o->max_reply_bytes) || o->max_reply_bytes < 1024)
            return fail(err, errcap, "invalid max-reply-bytes '%s' (at least 1kb)", value);
    } else if (strcmp(key, "malloc-stats-interval") == 0) {
        if (exp_parse_duration(value, &o->malloc_stats_interval))
            return fail(err, errcap, "invalid malloc-stats-interval '%s'", value);
    } else if (strcmp(key, "allow-targets") == 0) {
        if (copy_str(o->allow_targets, sizeof(o->allow_targets), value))
            return fail(err, errcap, "allow-targets too long");
    } else if (strcmp(key, "token-file") == 0) {
        if (!*value || copy_str(o->token_file, sizeof(o->token_file), value))
            return fail(err, errcap, "invalid token-file '%s'", value);
    } else if (strcmp(key, "max-targets") == 0) {
        long long v;
        if (!value || util_parse_ll(value, strlen(value), &v) || v < 1 || v > 100000)
            return fail(err, errcap, "invalid max-targets '%s' (1-100000)", value);
        o->max_targets = (size_t)v;
    } else if (is_bool) {
        if (parse_bool(value, &b)) return fail(err, errcap, "invalid boolean '%s' (yes/no)", value);
        if (strcmp(key, "malloc-stats") == 0) o->malloc_stats = b;
        if (strcmp(key, "fresh-connection") == 0) o->fresh_connection = b;
        if (strcmp(key, "help") == 0) o->help = b;
        if (strcmp(key, "version") == 0) o->version = b;
    } else if (strcmp(key, "password") == 0 || strcmp(key, "requirepass") == 0) {
        return fail(err, errcap,
                    "passwords are never given as options: use an auth entry with "
                    "password-file or password-env");
    } else {
        return fail(err, errcap, "unknown option '%s'", key);
    }
    return 0;
}

/* auth NAME [user USER] (password-file PATH | password-env VAR) [targets PATTERN,...] */
static int parse_auth(exp_options *o, char **args, int n, char *why, size_t cap) {
    if (n < 4) return fail(why, cap, "auth NAME [user USER] password-file PATH|password-env VAR");
    if (!valid_name(args[1])) return fail(why, cap, "invalid auth name '%s'", args[1]);
    if (exp_options_find_auth(o, args[1]))
        return fail(why, cap, "auth '%s' defined twice", args[1]);
    if (o->nauths >= EXP_MAX_AUTHS) return fail(why, cap, "too many auth entries");
    exp_auth a;
    memset(&a, 0, sizeof(a));
    snprintf(a.name, sizeof(a.name), "%s", args[1]);
    for (int i = 2; i < n; i += 2) {
        if (i + 1 >= n) return fail(why, cap, "'%s' needs a value", args[i]);
        const char *k = args[i], *v = args[i + 1];
        int rc = 0;
        if (strcmp(k, "user") == 0)
            rc = a.user[0] ? -1 : copy_str(a.user, sizeof(a.user), v);
        else if (strcmp(k, "password-file") == 0)
            rc = a.password_file[0] || !*v ? -1
                                           : copy_str(a.password_file, sizeof(a.password_file), v);
        else if (strcmp(k, "password-env") == 0)
            rc =
                a.password_env[0] || !*v ? -1 : copy_str(a.password_env, sizeof(a.password_env), v);
        else if (strcmp(k, "targets") == 0)
            rc = a.targets[0] || !*v ? -1 : copy_str(a.targets, sizeof(a.targets), v);
        else if (strcmp(k, "password") == 0)
            return fail(why, cap,
                        "a password is never written in the config: use password-file or "
                        "password-env");
        else
            return fail(why, cap, "unknown auth attribute '%s'", k);
        if (rc) return fail(why, cap, "invalid or repeated '%s'", k);
        if (strchr(v, '\n') || strchr(v, '\r') || strchr(v, ' '))
            if (strcmp(k, "password-file") != 0) return fail(why, cap, "invalid value for '%s'", k);
    }
    if (!!a.password_file[0] == !!a.password_env[0])
        return fail(why, cap, "auth '%s' needs exactly one of password-file, password-env", a.name);
    o->auths[o->nauths++] = a;
    return 0;
}

int exp_options_load_text(exp_options *o, const char *text, size_t len, char *err, size_t errcap) {
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *s = text + pos;
        const char *eol = memchr(s, '\n', len - pos);
        size_t l = eol ? (size_t)(eol - s) : len - pos;
        pos += l + (eol ? 1 : 0);
        lineno++;
        if (memchr(s, '\0', l)) {
            snprintf(err, errcap, "at line %d: NUL byte", lineno);
            return -1;
        }
        char *line = alloc_strndup(ALLOC_SUB_OTHER, s, l);
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p == '\0' || *p == '#') {
            alloc_free(ALLOC_SUB_OTHER, line);
            continue;
        }
        char **args = NULL;
        int n = cfg_split_args(p, &args);
        char why[EXP_ERR_LEN - 40] = "";
        if (n < 0) {
            snprintf(why, sizeof(why), "unbalanced quotes");
        } else if (n == 0) {
            /* nothing */
        } else if (strcmp(args[0], "auth") == 0) {
            parse_auth(o, args, n, why, sizeof(why));
        } else if (strcmp(args[0], "config") == 0 || strcmp(args[0], "help") == 0 ||
                   strcmp(args[0], "version") == 0) {
            snprintf(why, sizeof(why), "'%.40s' is a command-line flag only", args[0]);
        } else if (n != 2) {
            snprintf(why, sizeof(why), "'%.40s' takes exactly one value", args[0]);
        } else {
            exp_options_set(o, args[0], args[1], why, sizeof(why));
        }
        if (n > 0) cfg_free_args(args, n);
        alloc_free(ALLOC_SUB_OTHER, line);
        if (why[0]) {
            snprintf(err, errcap, "at line %d: %s", lineno, why);
            return -1;
        }
    }
    return 0;
}

int exp_options_load_file(exp_options *o, const char *path, char *err, size_t errcap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = alloc_malloc(ALLOC_SUB_OTHER, cap);
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                close(fd);
                alloc_free(ALLOC_SUB_OTHER, buf);
                snprintf(err, errcap, "%s: config file over 1 MiB", path);
                return -1;
            }
            cap *= 2;
            buf = alloc_realloc(ALLOC_SUB_OTHER, buf, cap);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            alloc_free(ALLOC_SUB_OTHER, buf);
            return -1;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    char inner[EXP_ERR_LEN];
    int rc = exp_options_load_text(o, buf, len, inner, sizeof(inner));
    alloc_free(ALLOC_SUB_OTHER, buf);
    if (rc) snprintf(err, errcap, "%.100s: %s", path, inner);
    return rc;
}

/* Split "--key=value" / "--key value"; *consumed gets the argv entries used. */
static int flag_at(int argc, char **argv, int i, char *key, size_t keycap, const char **value,
                   int *consumed, char *err, size_t errcap) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0) return fail(err, errcap, "unexpected argument '%s'", a);
    a += 2;
    const char *eq = strchr(a, '=');
    size_t kl = eq ? (size_t)(eq - a) : strlen(a);
    if (kl == 0 || kl >= keycap) return fail(err, errcap, "invalid flag '%s'", argv[i]);
    memcpy(key, a, kl);
    key[kl] = '\0';
    int is_bool = strcmp(key, "malloc-stats") == 0 || strcmp(key, "fresh-connection") == 0 ||
                  strcmp(key, "help") == 0 || strcmp(key, "version") == 0;
    *consumed = 1;
    if (eq) {
        *value = eq + 1;
    } else if (is_bool) {
        *value = NULL;
    } else if (i + 1 < argc) {
        *value = argv[i + 1];
        *consumed = 2;
    } else {
        return fail(err, errcap, "%s needs a value", argv[i]);
    }
    return 0;
}

int exp_options_parse_args(exp_options *o, int argc, char **argv, char *err, size_t errcap) {
    char key[64];
    const char *value;
    int used;
    /* Pass 1: the config file (and --help/--version, which need no valid rest). */
    for (int i = 1; i < argc; i += used) {
        if (flag_at(argc, argv, i, key, sizeof(key), &value, &used, err, errcap)) break;
        if (strcmp(key, "config") == 0) {
            if (exp_options_load_file(o, value, err, errcap)) return -1;
        } else if (strcmp(key, "help") == 0 || strcmp(key, "version") == 0) {
            if (exp_options_set(o, key, value, err, errcap)) return -1;
        }
    }
    if (o->help || o->version) return 0;
    for (int i = 1; i < argc; i += used) {
        if (flag_at(argc, argv, i, key, sizeof(key), &value, &used, err, errcap)) return -1;
        if (strcmp(key, "config") == 0) continue;
        if (strcmp(key, "auth") == 0)
            return fail(err, errcap, "auth entries belong in the --config file");
        char why[EXP_ERR_LEN];
        if (exp_options_set(o, key, value, why, sizeof(why))) {
            snprintf(err, errcap, "%s", why);
            return -1;
        }
    }
    return 0;
}

int exp_options_check(const exp_options *o, char *err, size_t errcap) {
    if (o->target_auth[0] && !exp_options_find_auth(o, o->target_auth))
        return fail(err, errcap, "target-auth '%s': no such auth entry", o->target_auth);
    if (o->target_auth[0] && !o->target[0])
        return fail(err, errcap, "target-auth without a target");
    return 0;
}

int exp_targets_match(const char *patterns, const char *canonical) {
    if (!patterns[0]) return 1;
    size_t clen = strlen(canonical);
    for (const char *p = patterns;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len && util_glob_match(p, len, canonical, clen, 1)) return 1;
        if (!end) return 0;
        p = end + 1;
    }
}

int exp_read_token(const exp_options *o, char *buf, size_t cap, char *err, size_t errcap) {
    long n = util_read_small_file(o->token_file, buf, cap);
    if (n == -2) return fail(err, errcap, "token-file '%s' too long", o->token_file);
    if (n < 0) return fail(err, errcap, "cannot read token-file '%s'", o->token_file);
    char *nl = strpbrk(buf, "\r\n");
    if (nl) *nl = '\0';
    if (!buf[0]) return fail(err, errcap, "token-file '%s' is empty", o->token_file);
    return 0;
}

const exp_auth *exp_options_find_auth(const exp_options *o, const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < o->nauths; i++)
        if (strcmp(o->auths[i].name, name) == 0) return &o->auths[i];
    return NULL;
}

int exp_auth_password(const exp_auth *a, char *buf, size_t cap, char *err, size_t errcap) {
    if (cap == 0) return -1;
    buf[0] = '\0';
    if (a->password_env[0]) {
        const char *v = getenv(a->password_env);
        if (!v || !*v)
            return fail(err, errcap, "auth: environment variable %s is unset or empty",
                        a->password_env);
        if (strlen(v) >= cap) return fail(err, errcap, "auth: password too long");
        memcpy(buf, v, strlen(v) + 1);
        return 0;
    }
    long n = util_read_small_file(a->password_file, buf, cap);
    if (n == -2) {
        buf[0] = '\0';
        return fail(err, errcap, "auth: password file of '%s' too long", a->name);
    }
    if (n < 0) return fail(err, errcap, "auth: cannot open the password file of '%s'", a->name);
    char *nl = strpbrk(buf, "\r\n");
    if (nl) *nl = '\0';
    if (!buf[0]) return fail(err, errcap, "auth: password file of '%s' is empty", a->name);
    return 0;
}

const char *exp_options_usage(void) {
    return "Usage: memkv-exporter [--config FILE] [flags]\n"
           "\n"
           "Scrapes Redis-protocol servers (memkv, Redis, Valkey, KeyDB, Kvrocks, Dragonfly)\n"
           "and twemproxy's stats port, and serves their memkv_* metrics for Prometheus.\n"
           "\n"
           "  GET /scrape?target=ADDR[&auth=NAME][&malloc_stats=1][&kind=proxy]\n"
           "  GET /metrics   the --target (if any) and the exporter's own metrics\n"
           "\n"
           "Flags (a flag beats the config file; the config file uses the same names):\n"
           "  --listen HOST:PORT          default " EXP_DEFAULT_LISTEN "\n"
           "  --target ADDR               default target of /metrics: host:port, "
           "redis://host:port,\n"
           "                              [v6]:port, unix:///path, proxy://host:port (twemproxy)\n"
           "  --target-auth NAME          the auth entry for --target\n"
           "  --config FILE               key value lines as memkv.conf; auth entries:\n"
           "                                auth NAME [user USER] password-file PATH\n"
           "                                auth NAME [user USER] password-env VARIABLE\n"
           "                              either with [targets PATTERN,...]: where it may go\n"
           "  --timeout DUR               whole scrape budget (default 5s); also capped by\n"
           "                              X-Prometheus-Scrape-Timeout-Seconds minus "
           "--timeout-offset\n"
           "  --timeout-offset DUR        default 250ms\n"
           "  --connect-timeout DUR       default 2s\n"
           "  --max-reply-bytes SIZE      all replies of one scrape (default 8mb)\n"
           "  --malloc-stats              ask every target for MEMORY MALLOC-STATS\n"
           "  --malloc-stats-interval DUR at most once per DUR per target (default 60s)\n"
           "  --fresh-connection          dial per scrape instead of keeping a connection\n"
           "  --max-targets N             kept connections / remembered targets (default 64)\n"
           "  --allow-targets PATTERNS    comma-separated globs /scrape accepts (default: any)\n"
           "  --token-file PATH           bearer token for this exporter's HTTP (/healthz open)\n"
           "  --help, --version\n";
}
