/* config — a table-driven configuration engine. Pure: it knows nothing of the server; the
 * server owns the table (server_config.c) whose entries point at its fields.
 *
 * Each parameter has a type, a default, bounds, whether it may change at run time, and an
 * optional apply hook run after a run-time change (CONFIG SET) so e.g. `loglevel` takes effect
 * at once. The same table serves the config file, `--name value` arguments, CONFIG GET (glob
 * patterns), CONFIG SET (several pairs, all or nothing) and CONFIG REWRITE.
 */
#ifndef MEMKV_CONFIG_H
#define MEMKV_CONFIG_H

#include <stddef.h>

typedef enum cfg_type {
    CFG_BOOL,   /* int: yes/no */
    CFG_INT,    /* long long within [min, max] */
    CFG_MEMORY, /* long long bytes, accepts units (1gb, 512mb, 100k) */
    CFG_ENUM,   /* int: index into enum_names */
    CFG_STRING, /* char * owned by the engine (alloc_strndup); NULL never, "" allowed */
    CFG_CUSTOM, /* parse/format hooks */
} cfg_type;

#define CFG_IMMUTABLE 1 /* only at start-up */
#define CFG_SENSITIVE 2 /* value hidden from the log */
/* Names a path the server writes to: at run time only where the caller allows it
 * (Redis 7's enable-protected-configs), so a client cannot choose where files go. */
#define CFG_PROTECTED 4
/* A test knob: CONFIG GET answers it only by its exact name, not to a pattern (Redis's
 * HIDDEN_CONFIG). */
#define CFG_HIDDEN 8

#define CFG_ERR_LEN 256

typedef struct cfg_param cfg_param;
struct cfg_param {
    const char *name;
    cfg_type type;
    int flags;
    void *ptr; /* int *, long long *, char **, or the custom hook's target */
    const char *default_value;
    long long min, max;            /* CFG_INT and CFG_MEMORY */
    const char *const *enum_names; /* CFG_ENUM, NULL-terminated */
    /* CFG_CUSTOM: parse text into ptr (0 ok, -1 with err), format into buf. */
    int (*parse)(const cfg_param *p, const char *value, char *err);
    void (*format)(const cfg_param *p, char *buf, size_t cap);
    /* Run after a run-time change; -1 (with err) rolls the change back. */
    int (*apply)(const cfg_param *p, char *err);
};

typedef struct cfg_table {
    cfg_param *params;
    size_t count;
    int started; /* set once start-up is over: immutable parameters refuse CONFIG SET */
    /* Whether run-time changes may touch CFG_PROTECTED parameters; the caller sets it for
     * the client it serves before cfg_set / cfg_set_many. */
    int allow_protected;
} cfg_table;

const cfg_param *cfg_find(const cfg_table *t, const char *name);

/* Set every parameter to its default. Returns 0, or -1 with err (a bad default is a bug). */
int cfg_set_defaults(cfg_table *t, char *err);

/* Set one parameter from its text value. At run time (t->started) immutable parameters are
 * refused and the apply hook runs. Returns 0, or -1 with err (Redis's wording for the reason,
 * without the "ERR CONFIG SET failed" prefix). */
int cfg_set(cfg_table *t, const char *name, const char *value, char *err);

/* Several pairs, all or nothing (earlier ones are rolled back if a later one fails).
 * On failure *bad is the index of the failing pair. */
int cfg_set_many(cfg_table *t, const char *const *names, const char *const *values, size_t n,
                 size_t *bad, char *err);

/* Current value as text (memory as plain bytes, bool as yes/no), as CONFIG GET shows it. */
void cfg_format(const cfg_param *p, char *buf, size_t cap);

/* Parse config text (a file's contents): "name arg arg…" lines, # comments, quotes as Redis.
 * Multiple arguments are joined with a space. On error returns -1 and err holds Redis-style
 * "at line N: >>> 'line' <<< reason". */
int cfg_load_text(cfg_table *t, const char *text, char *err);
int cfg_load_file(cfg_table *t, const char *path, char *err);

/* Command line after the optional config file: "--name v1 v2 --other v". Returns 0 or -1. */
int cfg_load_args(cfg_table *t, int argc, char **argv, char *err);

/* Rewrite path: lines of known parameters get their current value (first occurrence kept,
 * later duplicates dropped), comments and unknown lines stay, parameters that differ from
 * their default and were absent are appended. Written to a temp file and renamed. */
int cfg_rewrite(const cfg_table *t, const char *path, char *err);

/* Split a line like Redis's sdssplitargs into at most max args written to out (malloc'ed
 * copies freed with cfg_free_args). Returns count, or -1 on unbalanced quotes. */
int cfg_split_args(const char *line, char ***out);
void cfg_free_args(char **args, int n);

/* Free engine-owned strings. */
void cfg_deinit(cfg_table *t);

#endif
