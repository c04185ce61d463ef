/* Prometheus / OpenMetrics text writer (src/metrics/writer.c). Its input is not bytes from a
 * socket but it escapes what others chose (label values, HELP texts) into a format scrapers
 * parse strictly, so it is fuzzed like a parser: the input is a program of writer calls —
 * family_begin(name, help, type, unit), sample_double / sample_int(labels, value), finish —
 * run on two writers at once, text 0.0.4 and OpenMetrics 1.0.
 *
 * Checks beyond "no crash":
 *  - every call returns the same code in both formats (metrics.h promises the same checks);
 *  - the body is NUL-terminated, ends every line with '\n', and in OpenMetrics ends with
 *    "# EOF\n" once finished;
 *  - a family is in the body whole or not at all: the sample lines of each body are exactly
 *    the accepted samples of the families that never failed, in order, with the same labels
 *    (label values unescaped; values that are valid UTF-8 compared byte for byte) and the same
 *    values (a double reads back as the same double, an int64 exactly). */
#include "fuzz.h"

#include "metrics/metrics.h"

#include <math.h>
#include <string.h>

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t next_byte(reader *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static const char *const words[] = {"memkv_x", "x_bytes", "x_total",   "x_info", "up",
                                    "a:b",     "le",      "__name__",  "bytes",  "seconds",
                                    "1bad",    "db",      "x_created", ""};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* A string: from the word list (high bit) or up to 31 raw bytes (a NUL shortens it). */
static void next_string(reader *r, char *out) {
    uint8_t b = next_byte(r);
    if (b & 0x80) {
        snprintf(out, 64, "%s", words[(b & 0x7f) % NWORDS]);
        return;
    }
    size_t len = b % 32, i = 0;
    for (; i < len && r->n; i++)
        out[i] = (char)next_byte(r);
    out[i] = '\0';
}

static double next_double(reader *r) {
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1e300, -1e-300, 9007199254740993.0};
    uint8_t b = next_byte(r);
    if (b < 8) return special[b];
    if (b == 8) return INFINITY;
    if (b == 9) return -INFINITY;
    if (b == 10) return NAN;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | next_byte(r);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* Strictly valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_valid(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (n < 0) return 0;
        unsigned cp = n == 0 ? c : c & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

#define MAX_LABELS 3
#define MAX_SAMPLES 128

typedef struct expected {
    int family; /* index of its family_begin call */
    int is_int, check_value;
    size_t nlabels;
    char names[MAX_LABELS][64], values[MAX_LABELS][64];
    double d;
    int64_t i;
} expected;

/* Parses one sample line at *p (advanced past it) and compares it with e. */
static void check_sample_line(const char **p, const expected *e) {
    const char *s = *p;
    const char *nl = strchr(s, '\n');
    FUZZ_CHECK(nl != NULL);
    s += strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
    size_t k = 0;
    if (*s == '{') {
        s++;
        while (*s != '}') {
            FUZZ_CHECK(k < e->nlabels);
            size_t nlen = strlen(e->names[k]);
            FUZZ_CHECK(strncmp(s, e->names[k], nlen) == 0 && s[nlen] == '=' && s[nlen + 1] == '"');
            s += nlen + 2;
            char v[256];
            size_t vn = 0;
            while (*s != '"') {
                FUZZ_CHECK(*s != '\n' && *s != '\0' && vn < sizeof(v) - 1);
                if (*s == '\\') {
                    s++;
                    FUZZ_CHECK(*s == '\\' || *s == '"' || *s == 'n');
                    v[vn++] = *s == 'n' ? '\n' : *s;
                } else {
                    v[vn++] = *s;
                }
                s++;
            }
            v[vn] = '\0';
            if (utf8_valid((const unsigned char *)e->values[k]))
                FUZZ_CHECK(strcmp(v, e->values[k]) == 0);
            s++;
            k++;
            if (*s == ',') s++;
        }
        s++;
    }
    FUZZ_CHECK(k == e->nlabels);
    FUZZ_CHECK(*s == ' ');
    s++;
    char *end;
    if (e->is_int) {
        long long v = strtoll(s, &end, 10);
        if (e->check_value) FUZZ_CHECK(v == e->i);
    } else {
        double v = strtod(s, &end);
        if (e->check_value) FUZZ_CHECK((isnan(v) && isnan(e->d)) || v == e->d);
    }
    FUZZ_CHECK(end == nl);
    *p = nl + 1;
}

static void check_body(const metrics_writer *w, const expected *ex, size_t nex, const int *dead,
                       int finished) {
    size_t len;
    const char *body = metrics_writer_data(w, &len);
    FUZZ_CHECK(body != NULL && strlen(body) == len);
    FUZZ_CHECK(len == 0 || body[len - 1] == '\n');
    if (w->format == METRICS_OPENMETRICS_1 && finished)
        FUZZ_CHECK(len >= 6 && strcmp(body + len - 6, "# EOF\n") == 0);
    const char *p = body;
    size_t k = 0;
    while (*p) {
        if (*p == '#') {
            p = strchr(p, '\n');
            FUZZ_CHECK(p != NULL);
            p++;
            continue;
        }
        while (k < nex && dead[ex[k].family])
            k++;
        FUZZ_CHECK(k < nex); /* a sample line nobody wrote */
        check_sample_line(&p, &ex[k]);
        k++;
    }
    while (k < nex && dead[ex[k].family])
        k++;
    FUZZ_CHECK(k == nex); /* an accepted sample missing */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    metrics_writer w[2];
    metrics_writer_init(&w[0], METRICS_TEXT_004);
    metrics_writer_init(&w[1], METRICS_OPENMETRICS_1);
    static expected ex[MAX_SAMPLES];
    int dead[256] = {0};
    size_t nex = 0;
    int family = -1, calls = 0, finished = 0;
    metrics_type ftype = METRICS_GAUGE;
    while (r.n && calls < 200) {
        calls++;
        uint8_t op = next_byte(&r) % 8;
        int rc[2];
        if (op < 2) {
            char name[64], help[64], unit[64];
            next_string(&r, name);
            next_string(&r, help);
            ftype = (metrics_type)(next_byte(&r) % 4);
            int has_unit = next_byte(&r) & 1;
            next_string(&r, unit);
            for (int f = 0; f < 2; f++)
                rc[f] = metrics_family_begin(&w[f], name, help, ftype, has_unit ? unit : NULL);
            FUZZ_CHECK(rc[0] == rc[1]);
            family = calls < 256 ? calls : 255;
            if (rc[0] != 0) dead[family] = 1;
        } else if (op < 7) {
            expected e;
            memset(&e, 0, sizeof(e));
            e.family = family < 0 ? 0 : family;
            e.nlabels = next_byte(&r) % (MAX_LABELS + 1);
            metrics_label labels[MAX_LABELS];
            for (size_t i = 0; i < e.nlabels; i++) {
                next_string(&r, e.names[i]);
                next_string(&r, e.values[i]);
                labels[i].name = e.names[i];
                labels[i].value = e.values[i];
            }
            e.is_int = op >= 5;
            e.check_value = ftype != METRICS_INFO;
            if (e.is_int) {
                uint64_t bits = 0;
                for (int i = 0; i < 8; i++)
                    bits = bits << 8 | next_byte(&r);
                memcpy(&e.i, &bits, sizeof(e.i));
                if (next_byte(&r) & 1) e.i %= 1000;
            } else {
                e.d = next_double(&r);
            }
            for (int f = 0; f < 2; f++)
                rc[f] = e.is_int ? metrics_sample_int(&w[f], labels, e.nlabels, e.i)
                                 : metrics_sample_double(&w[f], labels, e.nlabels, e.d);
            FUZZ_CHECK(rc[0] == rc[1]);
            if (rc[0] == 0) {
                FUZZ_CHECK(family >= 0 && !finished);
                if (nex < MAX_SAMPLES)
                    ex[nex++] = e;
                else
                    dead[e.family] = 1; /* too many to follow: stop checking this family */
            } else if (rc[0] != METRICS_ERR_NO_FAMILY && rc[0] != METRICS_ERR_FINISHED) {
                dead[e.family] = 1;
            }
        } else {
            for (int f = 0; f < 2; f++)
                rc[f] = metrics_writer_finish(&w[f]);
            FUZZ_CHECK(rc[0] == rc[1]);
            FUZZ_CHECK(rc[0] == 0 || finished);
            finished = 1;
        }
        for (int f = 0; f < 2; f++)
            FUZZ_CHECK(metrics_writer_error(&w[f]) != NULL);
    }
    for (int f = 0; f < 2; f++)
        check_body(&w[f], ex, nex, dead, finished);
    size_t len;
    char *body = metrics_writer_take(&w[0], &len);
    FUZZ_CHECK(body != NULL && strlen(body) == len);
    metrics_buffer_free(body);
    metrics_writer_deinit(&w[0]);
    metrics_writer_deinit(&w[1]);
    return 0;
}
