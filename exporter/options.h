/* options — memkv-exporter's flags and config file.
 *
 * Precedence: defaults, then the --config file, then the other flags (a flag beats the file).
 * Flags are "--name value" or "--name=value"; the booleans (--malloc-stats, --fresh-connection)
 * take no value on the command line. The config file has the syntax of memkv.conf ("name args…"
 * lines, # comments, Redis's quoting, split by memkv's own cfg_split_args) with the flags' names
 * (without "--") as keys, booleans as yes/no, and named auth entries:
 *
 *   auth NAME [user USER] password-file PATH [targets PATTERN,...]
 *   auth NAME [user USER] password-env VARIABLE [targets PATTERN,...]
 *
 * "targets" binds the entry to the targets it is for (glob patterns over the target's canonical
 * form, "10.0.0.*:6379", "redis-?:6379"): without it, anyone who can reach /scrape could
 * send the entry's password to a server of their choosing. "allow-targets" does the same for
 * every /scrape target. "token-file" protects the exporter's own HTTP as memkv's endpoint is
 * (Authorization: Bearer; /healthz stays open).
 *
 * A password is never a flag, a config value or part of a target URL: it is read from the file
 * (first line, trailing CR/LF removed) or the environment variable at every scrape that uses
 * the entry, so a rotated secret needs no restart. Durations take "5", "2.5", "5s", "500ms";
 * sizes "8388608", "512kb", "8mb", "1gb" (also k, m, g).
 *
 * Pure apart from exp_auth_password and exp_options_load_file (they read files/environment).
 * Fuzzed (tests/fuzz/fuzz_exporter_target.c feeds exp_options_load_text).
 */
#ifndef MEMKV_EXPORTER_OPTIONS_H
#define MEMKV_EXPORTER_OPTIONS_H

#include <stddef.h>

#define EXP_DEFAULT_LISTEN "127.0.0.1:9123"
#define EXP_MAX_AUTHS 64
#define EXP_NAME_MAX 64
#define EXP_ERR_LEN 320

typedef struct exp_auth {
    char name[EXP_NAME_MAX];
    char user[128];          /* "" = AUTH password (the default user) */
    char password_file[256]; /* exactly one of password_file, password_env is set */
    char password_env[128];
    char
        targets[512]; /* comma-separated glob patterns of the targets it may be sent to; "" = any */
} exp_auth;

typedef struct exp_options {
    char listen_host[256];          /* numeric address; from --listen HOST:PORT or [v6]:PORT */
    int listen_port;                /* 0 = ephemeral */
    char target[400];               /* the default target of /metrics; "" = none (/metrics has only
                                       the exporter's own families) */
    char target_auth[EXP_NAME_MAX]; /* the auth entry for the default target; "" = none */
    double timeout;                 /* seconds, a scrape's whole budget; default 5 */
    double connect_timeout;         /* seconds, for the connect alone; default 2 */
    double timeout_offset;          /* subtracted from X-Prometheus-Scrape-Timeout-Seconds */
    size_t max_reply_bytes;         /* per scrape, all replies together; default 8 MiB */
    int malloc_stats;               /* ask every target for MEMORY MALLOC-STATS */
    double malloc_stats_interval;   /* seconds between two MALLOC-STATS of a target; 60 */
    int fresh_connection;           /* dial per scrape instead of keeping a connection */
    size_t max_targets;             /* entries of the connection table; default 64 */
    char allow_targets[1024];       /* comma-separated glob patterns /scrape accepts; "" = any */
    char token_file[256];           /* the bearer token of the exporter's own HTTP; "" = none */
    exp_auth auths[EXP_MAX_AUTHS];
    size_t nauths;
    int help, version; /* --help, --version seen */
} exp_options;

void exp_options_default(exp_options *o);
/* Apply one setting (the key without "--"; value NULL for a bare boolean flag). Returns 0 or
 * -1 with err. */
int exp_options_set(exp_options *o, const char *key, const char *value, char *err, size_t errcap);
/* Config text: returns 0, or -1 with err "at line N: reason". */
int exp_options_load_text(exp_options *o, const char *text, size_t len, char *err, size_t errcap);
int exp_options_load_file(exp_options *o, const char *path, char *err, size_t errcap);
/* The command line (argv[0] skipped): the --config file first, then every other flag. */
int exp_options_parse_args(exp_options *o, int argc, char **argv, char *err, size_t errcap);
/* Checks that need everything loaded (the default target's auth entry exists, …). */
int exp_options_check(const exp_options *o, char *err, size_t errcap);

const exp_auth *exp_options_find_auth(const exp_options *o, const char *name);
/* Whether canonical (target_addr.canonical) matches one of a comma-separated list of glob
 * patterns; an empty list matches everything. */
int exp_targets_match(const char *patterns, const char *canonical);
/* The token from token_file (first line) into buf: 0, or -1 with err (unreadable, empty, too
 * long). */
int exp_read_token(const exp_options *o, char *buf, size_t cap, char *err, size_t errcap);
/* The entry's password into buf (NUL-terminated). 0, or -1 with err (file unreadable, variable
 * unset or empty, longer than cap - 1). */
int exp_auth_password(const exp_auth *a, char *buf, size_t cap, char *err, size_t errcap);

/* Parsers, exposed for the tests. 0 and *out, or -1. */
int exp_parse_duration(const char *s, double *out);
int exp_parse_size(const char *s, size_t *out);
/* "HOST:PORT", "[v6]:PORT", ":PORT" (= 127.0.0.1). host gets the address without brackets. */
int exp_parse_listen(const char *s, char *host, size_t hostcap, int *port);

/* The --help text (static). */
const char *exp_options_usage(void);

#endif
