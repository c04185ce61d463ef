#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "util/util.h"

#define CFG_VALUE_MAX 1024

const cfg_param *cfg_find(const cfg_table *t, const char *name) {
    for (size_t i = 0; i < t->count; i++)
        if (strcasecmp(t->params[i].name, name) == 0) return &t->params[i];
    return NULL;
}

static int parse_bool(const char *v) {
    if (strcasecmp(v, "yes") == 0) return 1;
    if (strcasecmp(v, "no") == 0) return 0;
    return -1;
}

/* Parse value into p's storage. */
static int parse_into(const cfg_param *p, const char *value, char *err) {
    long long ll;
    switch (p->type) {
    case CFG_BOOL: {
        int b = parse_bool(value);
        if (b < 0) {
            snprintf(err, CFG_ERR_LEN, "argument must be 'yes' or 'no'");
            return -1;
        }
        *(int *)p->ptr = b;
        return 0;
    }
    case CFG_INT:
    case CFG_MEMORY: {
        int bad = p->type == CFG_INT ? util_parse_ll(value, strlen(value), &ll)
                                     : util_parse_memory(value, &ll);
        if (bad == -2) { /* a memory value over LLONG_MAX bytes: out of range, never wrapped */
            snprintf(err, CFG_ERR_LEN, "argument must be between %lld and %lld inclusive", p->min,
                     p->max);
            return -1;
        }
        if (bad) {
            snprintf(err, CFG_ERR_LEN, "%s",
                     p->type == CFG_INT ? "argument couldn't be parsed into an integer"
                                        : "argument must be a memory value");
            return -1;
        }
        if (ll < p->min || ll > p->max) {
            snprintf(err, CFG_ERR_LEN, "argument must be between %lld and %lld inclusive", p->min,
                     p->max);
            return -1;
        }
        *(long long *)p->ptr = ll;
        return 0;
    }
    case CFG_ENUM:
        for (int i = 0; p->enum_names[i]; i++) {
            if (strcasecmp(p->enum_names[i], value) == 0) {
                *(int *)p->ptr = i;
                return 0;
            }
        }
        {
            char list[256] = "";
            for (int i = 0; p->enum_names[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, p->enum_names[i], sizeof(list) - strlen(list) - 1);
            }
            snprintf(err, CFG_ERR_LEN, "argument(s) must be one of the following: %s", list);
        }
        return -1;
    case CFG_STRING: {
        if (strlen(value) >= CFG_VALUE_MAX) {
            snprintf(err, CFG_ERR_LEN, "argument is too long");
            return -1;
        }
        char **s = p->ptr;
        alloc_free(ALLOC_SUB_OTHER, *s);
        *s = alloc_strndup(ALLOC_SUB_OTHER, value, strlen(value));
        return 0;
    }
    case CFG_CUSTOM:
        return p->parse(p, value, err);
    }
    return -1;
}

void cfg_format(const cfg_param *p, char *buf, size_t cap) {
    switch (p->type) {
    case CFG_BOOL:
        snprintf(buf, cap, "%s", *(int *)p->ptr ? "yes" : "no");
        break;
    case CFG_INT:
    case CFG_MEMORY:
        snprintf(buf, cap, "%lld", *(long long *)p->ptr);
        break;
    case CFG_ENUM:
        snprintf(buf, cap, "%s", p->enum_names[*(int *)p->ptr]);
        break;
    case CFG_STRING: {
        const char *s = *(char **)p->ptr;
        snprintf(buf, cap, "%s", s ? s : "");
        break;
    }
    case CFG_CUSTOM:
        p->format(p, buf, cap);
        break;
    }
}

int cfg_set_defaults(cfg_table *t, char *err) {
    for (size_t i = 0; i < t->count; i++) {
        cfg_param *p = &t->params[i];
        if (parse_into(p, p->default_value, err) < 0) return -1;
    }
    return 0;
}

int cfg_set(cfg_table *t, const char *name, const char *value, char *err) {
    const cfg_param *p = cfg_find(t, name);
    if (!p) {
        snprintf(err, CFG_ERR_LEN, "Unknown option or number of arguments for CONFIG SET - '%s'",
                 name);
        return -1;
    }
    if (t->started && (p->flags & CFG_IMMUTABLE)) {
        snprintf(err, CFG_ERR_LEN, "can't set immutable config");
        return -1;
    }
    if (t->started && (p->flags & CFG_PROTECTED) && !t->allow_protected) {
        snprintf(err, CFG_ERR_LEN, "can't set protected config");
        return -1;
    }
    char old[CFG_VALUE_MAX];
    cfg_format(p, old, sizeof(old));
    if (parse_into(p, value, err) < 0) return -1;
    if (t->started && p->apply && p->apply(p, err) < 0) {
        char ignored[CFG_ERR_LEN];
        parse_into(p, old, ignored);
        return -1;
    }
    return 0;
}

int cfg_set_many(cfg_table *t, const char *const *names, const char *const *values, size_t n,
                 size_t *bad, char *err) {
    char(*olds)[CFG_VALUE_MAX] = alloc_malloc(ALLOC_SUB_OTHER, (n ? n : 1) * CFG_VALUE_MAX);
    int rc = 0;
    size_t i;
    /* Refuse duplicate names up front, as Redis does. */
    for (i = 0; i < n && rc == 0; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(names[i], names[j]) == 0) {
                snprintf(err, CFG_ERR_LEN, "duplicate parameter");
                *bad = i;
                rc = -1;
                break;
            }
        }
    }
    for (i = 0; i < n && rc == 0; i++) {
        const cfg_param *p = cfg_find(t, names[i]);
        if (p) cfg_format(p, olds[i], CFG_VALUE_MAX);
        if (cfg_set(t, names[i], values[i], err) < 0) {
            *bad = i;
            rc = -1;
            /* Roll back the ones already applied, newest first, and, as Redis's rollback
             * does, set the failing one again from its CONFIG GET form: a form that does not
             * carry every flag (notify-keyspace-events shows "A" without its "n") loses it. */
            char ignored[CFG_ERR_LEN];
            if (p) cfg_set(t, names[i], olds[i], ignored);
            while (i-- > 0)
                cfg_set(t, names[i], olds[i], ignored);
            break;
        }
    }
    alloc_free(ALLOC_SUB_OTHER, olds);
    return rc;
}

/* ---- splitting lines as Redis's sdssplitargs does ---- */

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

static void gb_put(growbuf *g, char c) {
    if (g->len + 2 > g->cap) {
        g->cap = g->cap ? g->cap * 2 : 32;
        g->p = alloc_realloc(ALLOC_SUB_OTHER, g->p, g->cap);
    }
    g->p[g->len++] = c;
    g->p[g->len] = '\0';
}

typedef struct arg_list {
    char **args;
    int n, cap;
} arg_list;

/* A NUL-terminated copy of each argument util_split_args finds. */
static int keep_arg(void *ctx, char *arg, size_t len) {
    arg_list *l = ctx;
    if (l->n == INT_MAX) return -1;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->args = alloc_realloc(ALLOC_SUB_OTHER, l->args, sizeof(char *) * (size_t)l->cap);
    }
    l->args[l->n++] = alloc_strndup(ALLOC_SUB_OTHER, arg, len);
    return 0;
}

void cfg_free_args(char **args, int n) {
    if (!args) return;
    for (int i = 0; i < n; i++)
        alloc_free(ALLOC_SUB_OTHER, args[i]);
    alloc_free(ALLOC_SUB_OTHER, args);
}

int cfg_split_args(const char *line, char ***out) {
    size_t len = strlen(line);
    char *work = alloc_strndup(ALLOC_SUB_OTHER, line, len); /* split in place, so a copy */
    arg_list l = {0};
    long n = util_split_args(work, len, keep_arg, &l);
    alloc_free(ALLOC_SUB_OTHER, work);
    if (n < 0) {
        cfg_free_args(l.args, l.n);
        *out = NULL;
        return -1;
    }
    *out = l.args;
    return l.n;
}

/* Join args[first..n) with single spaces into buf. Returns 0, or -1 when the result does not
 * fit (a value is refused then, never cut short: a truncated password or bind list would be
 * taken silently). */
static int join_args(char *const *args, int first, int n, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = first; i < n; i++) {
        size_t a = strlen(args[i]), sep = i > first;
        if (a + sep >= cap - len) return -1;
        if (sep) buf[len++] = ' ';
        memcpy(buf + len, args[i], a + 1);
        len += a;
    }
    return 0;
}

int cfg_load_text(cfg_table *t, const char *text, char *err) {
    int lineno = 0;
    const char *s = text;
    while (*s) {
        const char *eol = strchr(s, '\n');
        size_t len = eol ? (size_t)(eol - s) : strlen(s);
        lineno++;
        char *line = alloc_strndup(ALLOC_SUB_OTHER, s, len);
        s += len + (eol ? 1 : 0);

        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#') {
            alloc_free(ALLOC_SUB_OTHER, line);
            continue;
        }
        char **args;
        int n = cfg_split_args(p, &args);
        char why[CFG_ERR_LEN] = "";
        if (n < 0) {
            snprintf(why, sizeof(why), "Unbalanced quotes in configuration line");
        } else if (n < 2) {
            snprintf(why, sizeof(why), "wrong number of arguments");
        } else if (!cfg_find(t, args[0])) {
            snprintf(why, sizeof(why), "Bad directive or wrong number of arguments");
        } else {
            char value[CFG_VALUE_MAX];
            char perr[CFG_ERR_LEN];
            if (join_args(args, 1, n, value, sizeof(value)) < 0)
                snprintf(why, sizeof(why), "argument is too long");
            else if (cfg_set(t, args[0], value, perr) < 0)
                snprintf(why, sizeof(why), "%s", perr);
        }
        if (n >= 0) cfg_free_args(args, n);
        if (why[0]) {
            snprintf(err, CFG_ERR_LEN, "at line %d: >>> '%.80s' <<< %s", lineno, p, why);
            alloc_free(ALLOC_SUB_OTHER, line);
            return -1;
        }
        alloc_free(ALLOC_SUB_OTHER, line);
    }
    return 0;
}

static char *read_file(const char *path, char *err) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, CFG_ERR_LEN, "can't open config file '%s': %s", path, strerror(errno));
        return NULL;
    }
    growbuf g = {0};
    gb_put(&g, 'x');
    g.len = 0;
    int c;
    while ((c = fgetc(fp)) != EOF)
        gb_put(&g, (char)c);
    g.p[g.len] = '\0';
    fclose(fp);
    return g.p;
}

int cfg_load_file(cfg_table *t, const char *path, char *err) {
    char *text = read_file(path, err);
    if (!text) return -1;
    int rc = cfg_load_text(t, text, err);
    alloc_free(ALLOC_SUB_OTHER, text);
    return rc;
}

int cfg_load_args(cfg_table *t, int argc, char **argv, char *err) {
    int i = 0;
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            snprintf(err, CFG_ERR_LEN, "unexpected argument '%s' (options are --name value)",
                     argv[i]);
            return -1;
        }
        const char *name = argv[i] + 2;
        if (!cfg_find(t, name)) {
            snprintf(err, CFG_ERR_LEN, "unknown option '--%s'", name);
            return -1;
        }
        /* Values run until the next --option, as Redis reads its command line. */
        char value[CFG_VALUE_MAX];
        int j = i + 1;
        while (j < argc && strncmp(argv[j], "--", 2) != 0)
            j++;
        if (j == i + 1) {
            snprintf(err, CFG_ERR_LEN, "option '--%s' needs a value", name);
            return -1;
        }
        if (join_args(argv, i + 1, j, value, sizeof(value)) < 0) {
            snprintf(err, CFG_ERR_LEN, "option '--%.40s': argument is too long", name);
            return -1;
        }
        char perr[CFG_ERR_LEN];
        if (cfg_set(t, name, value, perr) < 0) {
            snprintf(err, CFG_ERR_LEN, "option '--%.40s %.60s': %.140s", name, value, perr);
            return -1;
        }
        i = j;
    }
    return 0;
}

/* A value written back to a file, so that cfg_split_args reads it back the same: quoted when
 * it is empty or has a blank, a control byte, a quote or a backslash (a custom value is
 * several arguments: its spaces stay separators); inside quotes \ " and control bytes are
 * escaped (\n \r \t, else \xHH), as sdscatrepr does. */
static void append_line(growbuf *g, const cfg_param *p) {
    char value[CFG_VALUE_MAX];
    cfg_format(p, value, sizeof(value));
    for (const char *c = p->name; *c; c++)
        gb_put(g, *c);
    gb_put(g, ' ');
    int quote = value[0] == '\0';
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == ' ' && p->type == CFG_CUSTOM) continue;
        if (*c <= ' ' || *c == 0x7f || *c == '"' || *c == '\'' || *c == '\\') quote = 1;
    }
    if (quote) gb_put(g, '"');
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (!quote) {
            gb_put(g, (char)*c);
        } else if (*c == '"' || *c == '\\') {
            gb_put(g, '\\');
            gb_put(g, (char)*c);
        } else if (*c == '\n' || *c == '\r' || *c == '\t') {
            gb_put(g, '\\');
            gb_put(g, *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't');
        } else if (*c < ' ' || *c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            gb_put(g, '\\');
            gb_put(g, 'x');
            gb_put(g, hex[*c >> 4]);
            gb_put(g, hex[*c & 15]);
        } else {
            gb_put(g, (char)*c);
        }
    }
    if (quote) gb_put(g, '"');
    gb_put(g, '\n');
}

int cfg_rewrite(const cfg_table *t, const char *path, char *err) {
    char *text = read_file(path, err);
    if (!text) return -1;
    unsigned char *seen = alloc_calloc(ALLOC_SUB_OTHER, t->count ? t->count : 1);
    growbuf out = {0};
    gb_put(&out, 'x');
    out.len = 0;
    out.p[0] = '\0';

    const char *s = text;
    while (*s) {
        const char *eol = strchr(s, '\n');
        size_t len = eol ? (size_t)(eol - s) : strlen(s);
        char *line = alloc_strndup(ALLOC_SUB_OTHER, s, len);
        s += len + (eol ? 1 : 0);
        char **args = NULL;
        int n = (line[0] == '#') ? 0 : cfg_split_args(line, &args);
        const cfg_param *p = n > 0 ? cfg_find(t, args[0]) : NULL;
        if (p) {
            size_t idx = (size_t)(p - t->params);
            if (!seen[idx]) append_line(&out, p);
            seen[idx] = 1;
        } else {
            for (size_t k = 0; k < len; k++)
                gb_put(&out, line[k]);
            gb_put(&out, '\n');
        }
        if (n > 0) cfg_free_args(args, n);
        alloc_free(ALLOC_SUB_OTHER, line);
    }
    for (size_t i = 0; i < t->count; i++) {
        const cfg_param *p = &t->params[i];
        if (seen[i]) continue;
        char cur[CFG_VALUE_MAX];
        cfg_format(p, cur, sizeof(cur));
        /* Compare with the default in canonical form (e.g. "512mb" vs "536870912"). */
        char canon[CFG_VALUE_MAX] = "";
        if (p->type == CFG_MEMORY || p->type == CFG_INT) {
            long long d;
            if (util_parse_memory(p->default_value, &d) == 0)
                snprintf(canon, sizeof(canon), "%lld", d);
        } else {
            snprintf(canon, sizeof(canon), "%s", p->default_value);
        }
        if (strcasecmp(cur, canon) != 0) append_line(&out, p);
    }
    alloc_free(ALLOC_SUB_OTHER, seen);
    alloc_free(ALLOC_SUB_OTHER, text);

    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "w");
    int rc = 0;
    if (!fp || fwrite(out.p, 1, out.len, fp) != out.len || fflush(fp) != 0 ||
        fsync(fileno(fp)) != 0) {
        snprintf(err, CFG_ERR_LEN, "Rewriting config file: %s", strerror(errno));
        rc = -1;
    }
    if (fp && fclose(fp) != 0 && rc == 0) {
        snprintf(err, CFG_ERR_LEN, "Rewriting config file: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, CFG_ERR_LEN, "Rewriting config file: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) unlink(tmp);
    alloc_free(ALLOC_SUB_OTHER, out.p);
    return rc;
}

void cfg_deinit(cfg_table *t) {
    for (size_t i = 0; i < t->count; i++) {
        cfg_param *p = &t->params[i];
        if (p->type == CFG_STRING) {
            char **s = p->ptr;
            alloc_free(ALLOC_SUB_OTHER, *s);
            *s = NULL;
        }
    }
}
