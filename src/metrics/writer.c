/* The Prometheus / OpenMetrics text writer and the Accept negotiation (see metrics.h). */
#include "metrics/metrics.h"

#include "alloc/alloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_NONE 0
#define STATE_OPEN 1
#define STATE_SKIPPED 2

#define BUF_MIN 4096

const char *metrics_strerror(int err) {
    switch (err) {
    case 0:
        return "ok";
    case METRICS_ERR_ARG:
        return "invalid argument";
    case METRICS_ERR_NAME:
        return "invalid metric name";
    case METRICS_ERR_LABEL:
        return "invalid label name";
    case METRICS_ERR_DUPLICATE:
        return "duplicate metric family or label set";
    case METRICS_ERR_NO_FAMILY:
        return "sample outside a metric family";
    case METRICS_ERR_UNIT:
        return "invalid unit";
    case METRICS_ERR_VALUE:
        return "value not allowed for the metric type";
    case METRICS_ERR_FINISHED:
        return "metrics body already finished";
    default:
        return "unknown error";
    }
}

const char *metrics_content_type(metrics_format format) {
    if (format == METRICS_OPENMETRICS_1)
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    return "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- growable storage ---------------------------------------------------------------------- */

/* Room for n more bytes plus a NUL. */
static void buf_reserve(metrics_writer *w, size_t n) {
    if (w->cap - w->len > n) return;
    size_t cap = w->cap ? w->cap : BUF_MIN;
    while (cap - w->len <= n) {
        if (cap > SIZE_MAX / 2) abort();
        cap *= 2;
    }
    w->buf = alloc_realloc(ALLOC_SUB_HTTP, w->buf, cap);
    if (!w->buf) abort(); /* alloc_realloc aborts itself; this tells the analyzers */
    w->cap = cap;
}

static void buf_append(metrics_writer *w, const char *s, size_t n) {
    buf_reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void buf_puts(metrics_writer *w, const char *s) {
    buf_append(w, s, strlen(s));
}

static void buf_putc(metrics_writer *w, char c) {
    buf_append(w, &c, 1);
}

static void buf_truncate(metrics_writer *w, size_t len) {
    w->len = len;
    if (w->buf) w->buf[len] = '\0';
}

/* Grow an array of elem-sized items so that it holds at least n. */
static void *array_reserve(void *arr, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap) return arr;
    size_t c = *cap ? *cap : 16;
    while (c < n) {
        if (c > SIZE_MAX / 2 / elem) abort();
        c *= 2;
    }
    *cap = c;
    return alloc_realloc(ALLOC_SUB_HTTP, arr, c * elem);
}

/* ---- errors -------------------------------------------------------------------------------- */

/* A name as it may appear in an error text: printable ASCII only, at most 64 characters. */
static const char *shown(char out[72], const char *s) {
    if (!s) return "(null)";
    size_t i = 0, o = 0;
    for (; s[i] && o < 64; i++) {
        char c = s[i];
        if (c < 0x20 || c >= 0x7f) c = '?';
        out[o++] = c;
    }
    if (s[i]) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

__attribute__((format(printf, 3, 4))) static int fail(metrics_writer *w, int code, const char *fmt,
                                                      ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
    w->errors++;
    return code;
}

/* Drop the open family from the body and the name table; its later samples are refused. */
static void skip_family(metrics_writer *w) {
    if (w->family_state == STATE_OPEN) {
        buf_truncate(w, w->family_start);
        w->names_len = w->family_names0;
        w->nnames = w->family_nnames0;
    }
    w->family_state = STATE_SKIPPED;
}

/* ---- names --------------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static int is_alpha_(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* over n bytes */
static int valid_metric_name(const char *s, size_t n) {
    if (n == 0 || !(is_alpha_(s[0]) || s[0] == ':')) return 0;
    for (size_t i = 1; i < n; i++)
        if (!(is_alpha_(s[i]) || is_digit(s[i]) || s[i] == ':')) return 0;
    return 1;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, not "__…" */
static int valid_label_name(const char *s) {
    if (!is_alpha_(s[0])) return 0;
    if (s[0] == '_' && s[1] == '_') return 0;
    for (size_t i = 1; s[i]; i++)
        if (!(is_alpha_(s[i]) || is_digit(s[i]))) return 0;
    return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n > k && memcmp(s + n - k, suffix, k) == 0;
}

/* The name base + suffix is used by an earlier family. */
static int name_taken(const metrics_writer *w, const char *base, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    uint64_t h = fnv1a(fnv1a(FNV_OFFSET, base, n), suffix, k);
    for (size_t i = 0; i < w->nnames; i++) {
        if (w->name_refs[i].hash != h) continue;
        const char *s = w->names + w->name_refs[i].off;
        if (strlen(s) == n + k && memcmp(s, base, n) == 0 && memcmp(s + n, suffix, k) == 0)
            return 1;
    }
    return 0;
}

static void name_add(metrics_writer *w, const char *base, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    w->name_refs =
        array_reserve(w->name_refs, &w->name_refs_cap, w->nnames + 1, sizeof(*w->name_refs));
    w->names = array_reserve(w->names, &w->names_cap, w->names_len + n + k + 1, 1);
    w->name_refs[w->nnames].hash = fnv1a(fnv1a(FNV_OFFSET, base, n), suffix, k);
    w->name_refs[w->nnames].off = w->names_len;
    w->nnames++;
    memcpy(w->names + w->names_len, base, n);
    memcpy(w->names + w->names_len + n, suffix, k);
    w->names[w->names_len + n + k] = '\0';
    w->names_len += n + k + 1;
}

/* The names a family of this type owns: its own and its samples' (OpenMetrics's view, which
 * also covers text 0.0.4's: x_total and x_info are sample names there). */
static const char *const *family_suffixes(metrics_type type) {
    static const char *const gauge[] = {"", NULL};
    static const char *const counter[] = {"", "_total", "_created", NULL};
    static const char *const info[] = {"", "_info", NULL};
    static const char *const histogram[] = {"", "_bucket", "_sum", "_count", "_created", NULL};
    switch (type) {
    case METRICS_COUNTER:
        return counter;
    case METRICS_INFO:
        return info;
    case METRICS_HISTOGRAM:
        return histogram;
    default:
        return gauge;
    }
}

/* ---- escaping ------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or -(length of its longest valid prefix, at
 * least 1) when it is not valid: that many bytes become one U+FFFD. */
static int utf8_seq(const unsigned char *s) {
    unsigned char c = s[0];
    int need;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return -1;
    }
    for (int i = 1; i <= need; i++) {
        unsigned char b = s[i]; /* a NUL stops here: it is no continuation byte */
        if (b < lo || b > hi) return -i;
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

/* Append s escaped: \ and newline always, " when quote is set; invalid UTF-8 as U+FFFD. */
static void put_escaped(metrics_writer *w, const char *s, int quote) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        /* The longest run that needs no change is copied at once. */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '\\' && !(quote && *p == '"'))
            p++;
        if (p > run) buf_append(w, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        if (*p == '\\') {
            buf_append(w, "\\\\", 2);
            p++;
        } else if (*p == '\n') {
            buf_append(w, "\\n", 2);
            p++;
        } else if (*p == '"' && quote) {
            buf_append(w, "\\\"", 2);
            p++;
        } else {
            int n = utf8_seq(p);
            if (n > 0) {
                buf_append(w, (const char *)p, (size_t)n);
                p += n;
            } else {
                buf_append(w, "\xef\xbf\xbd", 3);
                p += -n;
            }
        }
    }
}

/* ---- values -------------------------------------------------------------------------------- */

/* buf >= 32 bytes. */
static size_t format_double(char *buf, double v) {
    if (isnan(v)) return (size_t)snprintf(buf, 32, "NaN");
    if (isinf(v)) return (size_t)snprintf(buf, 32, "%s", v > 0 ? "+Inf" : "-Inf");
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return (size_t)n;
}

/* A histogram bound in OpenMetrics's canonical form: a float, ".0" added to an integral one.
 * buf >= 32 bytes; v is finite. */
static size_t format_bound(char *buf, double v) {
    size_t n = format_double(buf, v);
    if (!strpbrk(buf, ".e")) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return n;
}

/* ---- the writer ---------------------------------------------------------------------------- */

void metrics_writer_init(metrics_writer *w, metrics_format format) {
    memset(w, 0, sizeof(*w));
    w->format = format == METRICS_OPENMETRICS_1 ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004;
}

void metrics_writer_deinit(metrics_writer *w) {
    alloc_free(ALLOC_SUB_HTTP, w->buf);
    alloc_free(ALLOC_SUB_HTTP, w->sample_name);
    alloc_free(ALLOC_SUB_HTTP, w->label_hashes);
    alloc_free(ALLOC_SUB_HTTP, w->names);
    alloc_free(ALLOC_SUB_HTTP, w->name_refs);
    memset(w, 0, sizeof(*w));
}

void metrics_writer_reset(metrics_writer *w, metrics_format format) {
    w->format = format == METRICS_OPENMETRICS_1 ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004;
    buf_truncate(w, 0);
    w->family_state = STATE_NONE;
    w->family_start = w->family_names0 = w->family_nnames0 = 0;
    w->nlabel_hashes = 0;
    w->names_len = w->nnames = 0;
    w->finished = 0;
    w->errors = 0;
    w->err[0] = '\0';
}

static const char *type_word(metrics_format f, metrics_type t) {
    switch (t) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_INFO:
        return f == METRICS_OPENMETRICS_1 ? "info" : "gauge";
    case METRICS_UNTYPED:
        return f == METRICS_OPENMETRICS_1 ? "unknown" : "untyped";
    case METRICS_HISTOGRAM:
        return "histogram";
    default:
        return "gauge";
    }
}

int metrics_family_begin(metrics_writer *w, const char *name, const char *help, metrics_type type,
                         const char *unit) {
    char s1[72];
    if (!w) return METRICS_ERR_ARG;
    if (w->finished) return fail(w, METRICS_ERR_FINISHED, "family after the end of the body");
    w->family_state = STATE_SKIPPED; /* until it is written */
    if (!name) return fail(w, METRICS_ERR_ARG, "family without a name");
    if (type != METRICS_GAUGE && type != METRICS_COUNTER && type != METRICS_INFO &&
        type != METRICS_UNTYPED && type != METRICS_HISTOGRAM)
        return fail(w, METRICS_ERR_ARG, "family \"%s\": unknown type %d", shown(s1, name),
                    (int)type);
    if (!help || !*help)
        return fail(w, METRICS_ERR_ARG, "family \"%s\" has no HELP text", shown(s1, name));

    size_t n = strlen(name);
    if (type == METRICS_COUNTER && ends_with(name, n, "_total")) n -= strlen("_total");
    if (type == METRICS_INFO && ends_with(name, n, "_info")) n -= strlen("_info");
    if (!valid_metric_name(name, n))
        return fail(w, METRICS_ERR_NAME, "invalid metric name \"%s\"", shown(s1, name));

    if (unit && *unit) {
        size_t k = strlen(unit);
        if (type == METRICS_INFO)
            return fail(w, METRICS_ERR_UNIT, "info family \"%s\" cannot have a unit",
                        shown(s1, name));
        if (!(n > k + 1 && name[n - k - 1] == '_' && memcmp(name + n - k, unit, k) == 0)) {
            char s2[72];
            return fail(w, METRICS_ERR_UNIT, "family \"%s\": unit \"%s\" is not its suffix",
                        shown(s1, name), shown(s2, unit));
        }
    }

    const char *const *sfx = family_suffixes(type);
    for (size_t i = 0; sfx[i]; i++)
        if (name_taken(w, name, n, sfx[i]))
            return fail(w, METRICS_ERR_DUPLICATE,
                        "family \"%s\" uses the name \"%.*s%s\" of an earlier family",
                        shown(s1, name), (int)(n > 64 ? 64 : n), name, sfx[i]);

    /* Valid: register its names, write its header. */
    w->family_start = w->len;
    w->family_names0 = w->names_len;
    w->family_nnames0 = w->nnames;
    for (size_t i = 0; sfx[i]; i++)
        name_add(w, name, n, sfx[i]);

    const char *sample_sfx = type == METRICS_COUNTER ? "_total"
                             : type == METRICS_INFO  ? "_info"
                                                     : "";
    size_t sk = strlen(sample_sfx);
    w->sample_name = array_reserve(w->sample_name, &w->sample_name_cap, n + sk + 1, 1);
    memcpy(w->sample_name, name, n);
    memcpy(w->sample_name + n, sample_sfx, sk + 1);

    /* Text 0.0.4 names the family as its samples; OpenMetrics by the base name. */
    int om = w->format == METRICS_OPENMETRICS_1;
    size_t fn = om ? n : n + sk;
    buf_append(w, "# HELP ", 7);
    buf_append(w, w->sample_name, fn);
    buf_putc(w, ' ');
    put_escaped(w, help, om); /* text 0.0.4's HELP knows only \\ and \n */
    buf_append(w, "\n# TYPE ", 8);
    buf_append(w, w->sample_name, fn);
    buf_putc(w, ' ');
    buf_puts(w, type_word(w->format, type));
    buf_putc(w, '\n');
    if (om && unit && *unit) {
        buf_append(w, "# UNIT ", 7);
        buf_append(w, w->sample_name, fn);
        buf_putc(w, ' ');
        buf_puts(w, unit);
        buf_putc(w, '\n');
    }
    w->type = type;
    w->nlabel_hashes = 0;
    w->family_state = STATE_OPEN;
    return 0;
}

/* Checks common to every kind of sample (histogram: 1 for metrics_sample_histogram), and the
 * label set registered; on failure the family is skipped. */
static int sample_check(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                        int histogram, int bad_value, const char *value_text) {
    char s1[72], s2[72];
    if (!w) return METRICS_ERR_ARG;
    if (w->finished) return fail(w, METRICS_ERR_FINISHED, "sample after the end of the body");
    if (w->family_state == STATE_NONE)
        return fail(w, METRICS_ERR_NO_FAMILY, "sample before any family");
    if (w->family_state == STATE_SKIPPED)
        return fail(w, METRICS_ERR_NO_FAMILY, "sample of a family that was skipped");

    const char *fam = w->sample_name;
    int rc = 0;
    if (nlabels > 0 && !labels) {
        rc = fail(w, METRICS_ERR_ARG, "\"%s\": %zu labels but no array", shown(s1, fam), nlabels);
        goto skip;
    }
    if (histogram != (w->type == METRICS_HISTOGRAM)) {
        rc = fail(w, METRICS_ERR_ARG,
                  histogram ? "\"%s\": a histogram in a family of another type"
                            : "\"%s\": a plain sample in a histogram family",
                  shown(s1, fam));
        goto skip;
    }
    if (bad_value) {
        rc = fail(w, METRICS_ERR_VALUE, "\"%s\": value %s not allowed for a%s", shown(s1, fam),
                  value_text, w->type == METRICS_COUNTER ? " counter" : "n info metric");
        goto skip;
    }
    uint64_t set = 0;
    for (size_t i = 0; i < nlabels; i++) {
        const char *ln = labels[i].name;
        if (!ln || !valid_label_name(ln)) {
            rc = fail(w, METRICS_ERR_LABEL, "invalid label name \"%s\" in \"%s\"", shown(s1, ln),
                      shown(s2, fam));
            goto skip;
        }
        if (!labels[i].value) {
            rc = fail(w, METRICS_ERR_ARG, "label \"%s\" of \"%s\" has no value", shown(s1, ln),
                      shown(s2, fam));
            goto skip;
        }
        if (histogram && strcmp(ln, "le") == 0) {
            rc = fail(w, METRICS_ERR_LABEL, "\"%s\": a histogram's labels may not hold \"le\"",
                      shown(s1, fam));
            goto skip;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(labels[j].name, ln) == 0) {
                rc = fail(w, METRICS_ERR_LABEL, "label \"%s\" twice in one sample of \"%s\"",
                          shown(s1, ln), shown(s2, fam));
                goto skip;
            }
        }
        /* Prometheus makes no difference between an empty label and a missing one. */
        if (!labels[i].value[0]) continue;
        /* name, a byte no name has, value: one pair; the sum of the pairs does not depend on
         * their order. */
        uint64_t h = fnv1a(FNV_OFFSET, ln, strlen(ln));
        h = fnv1a(h, "\xff", 1);
        h = fnv1a(h, labels[i].value, strlen(labels[i].value));
        set += mix64(h);
    }
    for (size_t i = 0; i < w->nlabel_hashes; i++) {
        if (w->label_hashes[i] == set) {
            rc = fail(w, METRICS_ERR_DUPLICATE, "\"%s\": the same label set twice", shown(s1, fam));
            goto skip;
        }
    }
    w->label_hashes = array_reserve(w->label_hashes, &w->label_hashes_cap, w->nlabel_hashes + 1,
                                    sizeof(*w->label_hashes));
    w->label_hashes[w->nlabel_hashes++] = set;
    return 0;

skip:
    skip_family(w);
    return rc;
}

/* A checked sample's name (the family's sample name + suffix), labels (and le, when not NULL)
 * and the blank before its value. */
static void sample_put(metrics_writer *w, const char *suffix, const metrics_label *labels,
                       size_t nlabels, const char *le) {
    buf_puts(w, w->sample_name);
    buf_puts(w, suffix);
    if (nlabels > 0 || le) {
        buf_putc(w, '{');
        for (size_t i = 0; i < nlabels; i++) {
            if (i) buf_putc(w, ',');
            buf_puts(w, labels[i].name);
            buf_append(w, "=\"", 2);
            put_escaped(w, labels[i].value, 1);
            buf_putc(w, '"');
        }
        if (le) {
            if (nlabels) buf_putc(w, ',');
            buf_append(w, "le=\"", 4);
            buf_puts(w, le);
            buf_putc(w, '"');
        }
        buf_putc(w, '}');
    }
    buf_putc(w, ' ');
}

/* The checks of a plain sample, then its name and labels; the caller appends the value and the
 * newline. */
static int sample_start(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                        int bad_value, const char *value_text) {
    int rc = sample_check(w, labels, nlabels, 0, bad_value, value_text);
    if (rc == 0) sample_put(w, "", labels, nlabels, NULL);
    return rc;
}

int metrics_sample_double(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                          double value) {
    if (!w) return METRICS_ERR_ARG;
    char num[32];
    size_t n = format_double(num, value);
    int bad = 0;
    if (w->family_state == STATE_OPEN) {
        if (w->type == METRICS_COUNTER) bad = isnan(value) || value < 0;
        if (w->type == METRICS_INFO) bad = value != 1.0;
    }
    int rc = sample_start(w, labels, nlabels, bad, num);
    if (rc) return rc;
    if (w->type == METRICS_COUNTER && value == 0) n = (size_t)snprintf(num, sizeof(num), "0");
    buf_append(w, num, n);
    buf_putc(w, '\n');
    return 0;
}

int metrics_sample_int(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                       int64_t value) {
    if (!w) return METRICS_ERR_ARG;
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRId64, value);
    int bad = 0;
    if (w->family_state == STATE_OPEN) {
        if (w->type == METRICS_COUNTER) bad = value < 0;
        if (w->type == METRICS_INFO) bad = value != 1;
    }
    int rc = sample_start(w, labels, nlabels, bad, num);
    if (rc) return rc;
    buf_append(w, num, (size_t)n);
    buf_putc(w, '\n');
    return 0;
}

/* A count and the newline after it. */
static void put_count(metrics_writer *w, uint64_t v) {
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", v);
    buf_append(w, num, (size_t)n);
}

int metrics_sample_histogram(metrics_writer *w, const metrics_label *labels, size_t nlabels,
                             const double *le, const uint64_t *cumulative, size_t nbuckets,
                             uint64_t count, double sum) {
    if (!w) return METRICS_ERR_ARG;
    int rc = sample_check(w, labels, nlabels, 1, 0, "");
    if (rc) return rc;
    char s1[72];
    const char *why = NULL;
    if (nbuckets > 0 && (!le || !cumulative)) why = "bounds or counts missing";
    for (size_t i = 0; !why && i < nbuckets; i++) {
        if (!isfinite(le[i]))
            why = "a bound that is not finite (+Inf is written by the writer)";
        else if (i > 0 && !(le[i] > le[i - 1]))
            why = "bounds not in increasing order";
        else if (i > 0 && cumulative[i] < cumulative[i - 1])
            why = "cumulative counts that decrease";
    }
    if (!why && nbuckets > 0 && cumulative[nbuckets - 1] > count)
        why = "a bucket count above the count";
    if (!why && isnan(sum)) why = "a NaN sum";
    if (why) {
        rc =
            fail(w, METRICS_ERR_VALUE, "\"%s\": histogram with %s", shown(s1, w->sample_name), why);
        skip_family(w);
        return rc;
    }
    char bound[40];
    for (size_t i = 0; i < nbuckets; i++) {
        format_bound(bound, le[i]);
        sample_put(w, "_bucket", labels, nlabels, bound);
        put_count(w, cumulative[i]);
    }
    sample_put(w, "_bucket", labels, nlabels, "+Inf");
    put_count(w, count);
    sample_put(w, "_sum", labels, nlabels, NULL);
    char num[32];
    buf_append(w, num, format_double(num, sum));
    buf_putc(w, '\n');
    sample_put(w, "_count", labels, nlabels, NULL);
    put_count(w, count);
    return 0;
}

int metrics_writer_finish(metrics_writer *w) {
    if (!w) return METRICS_ERR_ARG;
    if (w->finished) return fail(w, METRICS_ERR_FINISHED, "body finished twice");
    w->family_state = STATE_NONE;
    if (w->format == METRICS_OPENMETRICS_1) buf_append(w, "# EOF\n", 6);
    w->finished = 1;
    return 0;
}

const char *metrics_writer_data(const metrics_writer *w, size_t *len) {
    if (len) *len = w->len;
    return w->buf ? w->buf : "";
}

char *metrics_writer_take(metrics_writer *w, size_t *len) {
    if (w->cap == 0) buf_append(w, "", 0); /* an empty body is still a string */
    char *body = w->buf;
    if (len) *len = w->len;
    w->buf = NULL;
    w->cap = 0;
    w->len = 0;
    metrics_writer_reset(w, w->format);
    return body;
}

void metrics_buffer_free(void *body) {
    alloc_free(ALLOC_SUB_HTTP, body);
}

const char *metrics_writer_error(const metrics_writer *w) {
    return w->err;
}

size_t metrics_writer_errors(const metrics_writer *w) {
    return w->errors;
}

/* ---- Accept negotiation -------------------------------------------------------------------- */

static int lower(int c) {
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* RFC 9110 tchar */
static int is_tchar(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_ows(int c) {
    return c == ' ' || c == '\t';
}

/* A token [s, s + n) equals the lower-case word w, ignoring case. */
static int token_is(const char *s, size_t n, const char *word) {
    size_t k = strlen(word);
    if (n != k) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != word[i]) return 0;
    return 1;
}

/* qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], in thousandths; -1 if malformed. */
static int parse_q(const char *s, size_t n) {
    if (n == 0 || (s[0] != '0' && s[0] != '1')) return -1;
    int q = (s[0] - '0') * 1000;
    if (n == 1) return q;
    if (s[1] != '.' || n > 5) return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (!is_digit(s[i])) return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* One media range of the header. */
typedef struct accept_entry {
    const char *type, *subtype;
    size_t type_len, subtype_len;
    char version[16]; /* "" when absent; "?" when too long to be one we know */
    int q;            /* thousandths */
} accept_entry;

/* Parse the entry at *p up to the next top-level ',' (or the end); *p is left after it.
 * Returns 1 if the entry is well formed, 0 otherwise (it is then skipped whole). */
static int accept_next(const char **p, accept_entry *e) {
    const char *s = *p;
    int ok = 1;
    memset(e, 0, sizeof(*e));
    e->q = 1000;
    while (is_ows(*s))
        s++;
    e->type = s;
    while (is_tchar((unsigned char)*s))
        s++;
    e->type_len = (size_t)(s - e->type);
    if (e->type_len == 0 || *s != '/') ok = 0;
    if (ok) {
        e->subtype = ++s;
        while (is_tchar((unsigned char)*s))
            s++;
        e->subtype_len = (size_t)(s - e->subtype);
        if (e->subtype_len == 0) ok = 0;
    }
    while (ok) {
        while (is_ows(*s))
            s++;
        if (*s != ';') break;
        s++;
        while (is_ows(*s))
            s++;
        const char *pn = s;
        while (is_tchar((unsigned char)*s))
            s++;
        size_t pnl = (size_t)(s - pn);
        while (is_ows(*s))
            s++;
        if (pnl == 0 || *s != '=') {
            ok = 0;
            break;
        }
        s++;
        while (is_ows(*s))
            s++;
        char val[16];
        size_t vl = 0;
        int too_long = 0;
        if (*s == '"') { /* quoted-string, \ escapes one character */
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1]) s++;
                if (vl < sizeof(val) - 1)
                    val[vl++] = *s;
                else
                    too_long = 1;
                s++;
            }
            if (*s != '"') {
                ok = 0;
                break;
            }
            s++;
        } else {
            const char *v0 = s;
            while (is_tchar((unsigned char)*s))
                s++;
            if (s == v0) {
                ok = 0;
                break;
            }
            vl = (size_t)(s - v0);
            if (vl > sizeof(val) - 1) {
                too_long = 1;
                vl = sizeof(val) - 1;
            }
            memcpy(val, v0, vl);
        }
        val[vl] = '\0';
        if (token_is(pn, pnl, "q")) {
            e->q = too_long ? -1 : parse_q(val, vl);
            if (e->q < 0) ok = 0;
        } else if (token_is(pn, pnl, "version")) {
            if (too_long)
                snprintf(e->version, sizeof(e->version), "?");
            else
                memcpy(e->version, val, vl + 1);
        }
    }
    while (ok && is_ows(*s))
        s++;
    if (ok && *s != ',' && *s != '\0') ok = 0;
    /* Skip to the end of the entry, stepping over quoted strings. */
    while (*s && *s != ',') {
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1]) s++;
                s++;
            }
            if (!*s) break;
        }
        s++;
    }
    if (*s == ',') s++;
    *p = s;
    return ok;
}

/* The best match so far for one of our formats: rank = specificity (0 = not matched). */
typedef struct accept_match {
    int rank, q, pos;
} accept_match;

static void match_update(accept_match *m, int rank, int q, int pos) {
    if (rank > m->rank || (rank == m->rank && q > m->q)) {
        m->rank = rank;
        m->q = q;
        m->pos = pos;
    }
}

metrics_format metrics_format_from_accept(const char *accept) {
    if (!accept) return METRICS_TEXT_004;
    accept_match om = {0, 0, 0}, text = {0, 0, 0};
    const char *p = accept;
    for (int pos = 0; *p; pos++) {
        accept_entry e;
        if (!accept_next(&p, &e)) continue;
        if (token_is(e.type, e.type_len, "application") &&
            token_is(e.subtype, e.subtype_len, "openmetrics-text")) {
            if (strcmp(e.version, "1.0.0") == 0)
                match_update(&om, 3, e.q, pos);
            else if (e.version[0] == '\0')
                match_update(&om, 2, e.q, pos);
            else if (strcmp(e.version, "0.0.1") == 0)
                match_update(&om, 1, e.q, pos);
        } else if (token_is(e.type, e.type_len, "text") &&
                   token_is(e.subtype, e.subtype_len, "plain")) {
            if (strcmp(e.version, "0.0.4") == 0)
                match_update(&text, 4, e.q, pos);
            else if (e.version[0] == '\0')
                match_update(&text, 3, e.q, pos);
        } else if (token_is(e.type, e.type_len, "text") &&
                   token_is(e.subtype, e.subtype_len, "*")) {
            match_update(&text, 2, e.q, pos);
        } else if (token_is(e.type, e.type_len, "*") && token_is(e.subtype, e.subtype_len, "*")) {
            match_update(&text, 1, e.q, pos);
        }
    }
    if (om.rank == 0 || om.q <= 0) return METRICS_TEXT_004;
    if (text.rank == 0 || om.q > text.q) return METRICS_OPENMETRICS_1;
    if (om.q < text.q) return METRICS_TEXT_004;
    if (text.rank <= 2) return METRICS_OPENMETRICS_1; /* equal q, text only by a wildcard */
    return om.pos < text.pos ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004;
}
