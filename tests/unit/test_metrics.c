/* Unit tests of the metrics writer: exact bodies of gauges, counters, info, untyped and
 * histogram families with and without labels in both formats, escaping, special and
 * round-tripping floats, exact integers, Accept negotiation (each header placed against an
 * unreadable page, so an over-read crashes), misuse (the family is skipped whole, nothing corrupt
 * is left), buffer ownership and memory accounting, and Debian's promtool on generated bodies of
 * both formats. */
#include "metrics/metrics.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "promtool.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define L(n, v) ((metrics_label){(n), (v)})

/* ---- helpers ----------------------------------------------------------------------------- */

/* The body must equal `want` exactly. */
#define ASSERT_BODY(w, want)                                                                       \
    do {                                                                                           \
        size_t len_;                                                                               \
        const char *got_ = metrics_writer_data((w), &len_);                                        \
        assert_string_equal(got_, (want));                                                         \
        assert_int_equal(len_, strlen(want));                                                      \
    } while (0)

/* The value as the writer writes it, in a gauge (text format, no labels). */
static void gauge_value_text(double v, char *out, size_t cap) {
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_family_begin(&w, "g", "h", METRICS_GAUGE, NULL), 0);
    size_t head = strlen(metrics_writer_data(&w, NULL));
    assert_int_equal(metrics_sample_double(&w, NULL, 0, v), 0);
    const char *line = metrics_writer_data(&w, NULL) + head;
    assert_memory_equal(line, "g ", 2);
    size_t n = strlen(line + 2);
    assert_true(n > 1 && n < cap && line[2 + n - 1] == '\n');
    memcpy(out, line + 2, n - 1);
    out[n - 1] = '\0';
    metrics_writer_deinit(&w);
}

static const char *int_value_text(int64_t v, char *out, size_t cap) {
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_family_begin(&w, "g", "h", METRICS_GAUGE, NULL), 0);
    assert_int_equal(metrics_sample_int(&w, NULL, 0, v), 0);
    const char *body = metrics_writer_data(&w, NULL);
    const char *line = strstr(body, "\ng ");
    assert_non_null(line);
    snprintf(out, cap, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
    metrics_writer_deinit(&w);
    return out;
}

/* ---- exact bodies -------------------------------------------------------------------------- */

static void test_content_types(void **state) {
    (void)state;
    assert_string_equal(metrics_content_type(METRICS_TEXT_004),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(metrics_content_type(METRICS_OPENMETRICS_1),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_string_equal(metrics_content_type((metrics_format)42),
                        "text/plain; version=0.0.4; charset=utf-8");
}

static void write_gauge(metrics_writer *w) {
    assert_int_equal(metrics_family_begin(w, "memkv_memory_used_bytes",
                                          "Bytes the server accounts for (Redis's used_memory).",
                                          METRICS_GAUGE, "bytes"),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 1048576), 0);
    assert_int_equal(metrics_writer_finish(w), 0);
}

static void test_gauge_text(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    write_gauge(&w);
    ASSERT_BODY(&w, "# HELP memkv_memory_used_bytes Bytes the server accounts for (Redis's "
                    "used_memory).\n"
                    "# TYPE memkv_memory_used_bytes gauge\n"
                    "memkv_memory_used_bytes 1048576\n");
    assert_string_equal(metrics_writer_error(&w), "");
    assert_int_equal(metrics_writer_errors(&w), 0);
    metrics_writer_deinit(&w);
}

static void test_gauge_openmetrics(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    write_gauge(&w);
    ASSERT_BODY(&w, "# HELP memkv_memory_used_bytes Bytes the server accounts for (Redis's "
                    "used_memory).\n"
                    "# TYPE memkv_memory_used_bytes gauge\n"
                    "# UNIT memkv_memory_used_bytes bytes\n"
                    "memkv_memory_used_bytes 1048576\n"
                    "# EOF\n");
    metrics_writer_deinit(&w);
}

static void write_counters(metrics_writer *w) {
    /* base name */
    assert_int_equal(metrics_family_begin(w, "memkv_commands_processed", "Commands processed.",
                                          METRICS_COUNTER, NULL),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 12345), 0);
    /* with a unit, and given with _total, which is removed */
    assert_int_equal(metrics_family_begin(w, "memkv_cpu_seconds_total", "CPU time used.",
                                          METRICS_COUNTER, "seconds"),
                     0);
    metrics_label mode[] = {L("mode", "user")};
    assert_int_equal(metrics_sample_double(w, mode, 1, 1.5), 0);
    mode[0].value = "system";
    assert_int_equal(metrics_sample_double(w, mode, 1, -0.0), 0); /* written as 0 */
    assert_int_equal(metrics_writer_finish(w), 0);
}

static void test_counter_text(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    write_counters(&w);
    ASSERT_BODY(&w, "# HELP memkv_commands_processed_total Commands processed.\n"
                    "# TYPE memkv_commands_processed_total counter\n"
                    "memkv_commands_processed_total 12345\n"
                    "# HELP memkv_cpu_seconds_total CPU time used.\n"
                    "# TYPE memkv_cpu_seconds_total counter\n"
                    "memkv_cpu_seconds_total{mode=\"user\"} 1.5\n"
                    "memkv_cpu_seconds_total{mode=\"system\"} 0\n");
    metrics_writer_deinit(&w);
}

static void test_counter_openmetrics(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    write_counters(&w);
    ASSERT_BODY(&w, "# HELP memkv_commands_processed Commands processed.\n"
                    "# TYPE memkv_commands_processed counter\n"
                    "memkv_commands_processed_total 12345\n"
                    "# HELP memkv_cpu_seconds CPU time used.\n"
                    "# TYPE memkv_cpu_seconds counter\n"
                    "# UNIT memkv_cpu_seconds seconds\n"
                    "memkv_cpu_seconds_total{mode=\"user\"} 1.5\n"
                    "memkv_cpu_seconds_total{mode=\"system\"} 0\n"
                    "# EOF\n");
    metrics_writer_deinit(&w);
}

static void write_info_untyped(metrics_writer *w) {
    metrics_label build[] = {L("version", "0.1.0"), L("allocator", "jemalloc-5.3.0")};
    assert_int_equal(
        metrics_family_begin(w, "memkv_build", "Build of the server; value 1.", METRICS_INFO, NULL),
        0);
    assert_int_equal(metrics_sample_int(w, build, 2, 1), 0);
    assert_int_equal(
        metrics_family_begin(w, "memkv_misc", "Something untyped.", METRICS_UNTYPED, ""), 0);
    assert_int_equal(metrics_sample_double(w, NULL, 0, 2.25), 0);
    assert_int_equal(metrics_writer_finish(w), 0);
}

static void test_info_untyped(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    write_info_untyped(&w);
    ASSERT_BODY(&w, "# HELP memkv_build_info Build of the server; value 1.\n"
                    "# TYPE memkv_build_info gauge\n"
                    "memkv_build_info{version=\"0.1.0\",allocator=\"jemalloc-5.3.0\"} 1\n"
                    "# HELP memkv_misc Something untyped.\n"
                    "# TYPE memkv_misc untyped\n"
                    "memkv_misc 2.25\n");
    metrics_writer_deinit(&w);

    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    write_info_untyped(&w);
    ASSERT_BODY(&w, "# HELP memkv_build Build of the server; value 1.\n"
                    "# TYPE memkv_build info\n"
                    "memkv_build_info{version=\"0.1.0\",allocator=\"jemalloc-5.3.0\"} 1\n"
                    "# HELP memkv_misc Something untyped.\n"
                    "# TYPE memkv_misc unknown\n"
                    "memkv_misc 2.25\n"
                    "# EOF\n");
    metrics_writer_deinit(&w);

    /* "_info" given with the name is removed, as "_total" for counters */
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    assert_int_equal(metrics_family_begin(&w, "x_info", "h", METRICS_INFO, NULL), 0);
    assert_int_equal(metrics_sample_double(&w, NULL, 0, 1.0), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    ASSERT_BODY(&w, "# HELP x h\n# TYPE x info\nx_info 1\n# EOF\n");
    metrics_writer_deinit(&w);
}

static void test_labels_several(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(metrics_family_begin(&w, "memkv_memory_subsystem_bytes",
                                          "Bytes held per subsystem.", METRICS_GAUGE, "bytes"),
                     0);
    metrics_label a[] = {L("subsystem", "strings"), L("arena", "keyspace"), L("x_1", "")};
    assert_int_equal(metrics_sample_int(&w, a, 3, 100), 0);
    metrics_label b[] = {L("subsystem", "query_buffers")};
    assert_int_equal(metrics_sample_int(&w, b, 1, 0), 0);
    assert_int_equal(metrics_sample_int(&w, NULL, 0, -7), 0); /* no labels: another series */
    assert_int_equal(metrics_writer_finish(&w), 0);
    ASSERT_BODY(&w,
                "# HELP memkv_memory_subsystem_bytes Bytes held per subsystem.\n"
                "# TYPE memkv_memory_subsystem_bytes gauge\n"
                "memkv_memory_subsystem_bytes{subsystem=\"strings\",arena=\"keyspace\",x_1=\"\"} "
                "100\n"
                "memkv_memory_subsystem_bytes{subsystem=\"query_buffers\"} 0\n"
                "memkv_memory_subsystem_bytes -7\n");
    metrics_writer_deinit(&w);
}

/* ---- escaping ------------------------------------------------------------------------------ */

static void write_escapes(metrics_writer *w) {
    assert_int_equal(metrics_family_begin(w, "memkv_esc", "Back\\slash, \"quotes\"\nand newline.",
                                          METRICS_GAUGE, NULL),
                     0);
    metrics_label l[] = {L("path", "C:\\dir\\"), L("q", "say \"hi\""), L("nl", "a\nb"),
                         L("utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                         L("tab", "a\tb\r")};
    assert_int_equal(metrics_sample_int(w, l, 5, 1), 0);
    /* invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a
     * surrogate, a code point above U+10FFFF, 0xff */
    metrics_label bad[] = {L("v", "a\x80z \xe2\x82z \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xff")};
    assert_int_equal(metrics_sample_int(w, bad, 1, 2), 0);
    assert_int_equal(metrics_writer_finish(w), 0);
}

#define ESC_SAMPLES                                                                                \
    "memkv_esc{path=\"C:\\\\dir\\\\\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\","                          \
    "utf8=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",tab=\"a\tb\r\"} 1\n"                       \
    "memkv_esc{v=\"a\xef\xbf\xbdz \xef\xbf\xbdz \xef\xbf\xbd\xef\xbf\xbd "                         \
    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "       \
    "\xef\xbf\xbd\"} 2\n"

static void test_escaping(void **state) {
    (void)state;
    metrics_writer w;
    /* text 0.0.4: HELP escapes \ and newline only (its parser refuses \"). */
    metrics_writer_init(&w, METRICS_TEXT_004);
    write_escapes(&w);
    ASSERT_BODY(&w, "# HELP memkv_esc Back\\\\slash, \"quotes\"\\nand newline.\n"
                    "# TYPE memkv_esc gauge\n" ESC_SAMPLES);
    metrics_writer_deinit(&w);
    /* OpenMetrics: a raw " is no normal-char in HELP, so it is escaped too. */
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    write_escapes(&w);
    ASSERT_BODY(&w, "# HELP memkv_esc Back\\\\slash, \\\"quotes\\\"\\nand newline.\n"
                    "# TYPE memkv_esc gauge\n" ESC_SAMPLES "# EOF\n");
    metrics_writer_deinit(&w);
}

/* ---- values -------------------------------------------------------------------------------- */

static void test_special_floats(void **state) {
    (void)state;
    char s[64];
    gauge_value_text(INFINITY, s, sizeof(s));
    assert_string_equal(s, "+Inf");
    gauge_value_text(-INFINITY, s, sizeof(s));
    assert_string_equal(s, "-Inf");
    gauge_value_text(NAN, s, sizeof(s));
    assert_string_equal(s, "NaN");
    gauge_value_text(-NAN, s, sizeof(s));
    assert_string_equal(s, "NaN");
    gauge_value_text(0.0, s, sizeof(s));
    assert_string_equal(s, "0");
    gauge_value_text(-0.0, s, sizeof(s));
    assert_string_equal(s, "-0");
    gauge_value_text(0.1, s, sizeof(s));
    assert_string_equal(s, "0.1"); /* not 0.10000000000000001 */
    gauge_value_text(1.0 / 3, s, sizeof(s));
    assert_string_equal(s, "0.3333333333333333");
    gauge_value_text(0.1 + 0.2, s, sizeof(s));
    assert_string_equal(s, "0.30000000000000004");
    gauge_value_text(1e21, s, sizeof(s));
    assert_string_equal(s, "1e+21");
    gauge_value_text(9007199254740992.0, s, sizeof(s)); /* 2^53 */
    assert_string_equal(s, "9007199254740992");
    gauge_value_text(DBL_MAX, s, sizeof(s));
    assert_string_equal(s, "1.7976931348623157e+308");
    gauge_value_text(-DBL_MIN, s, sizeof(s));
    assert_string_equal(s, "-2.2250738585072014e-308");
    gauge_value_text(5e-324, s, sizeof(s));
    assert_true(strtod(s, NULL) == 5e-324);

    /* Counters and info in OpenMetrics accept +Inf and 1.0 too. */
    metrics_writer w;
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    assert_int_equal(metrics_family_begin(&w, "c", "h", METRICS_COUNTER, NULL), 0);
    assert_int_equal(metrics_sample_double(&w, NULL, 0, INFINITY), 0);
    assert_int_equal(metrics_writer_finish(&w), 0);
    ASSERT_BODY(&w, "# HELP c h\n# TYPE c counter\nc_total +Inf\n# EOF\n");
    metrics_writer_deinit(&w);
}

/* Every double comes back bit for bit from its text. */
static void test_float_round_trip(void **state) {
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char s[64];
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        if (i % 2) {
            memcpy(&v, &x, sizeof(v)); /* any bit pattern */
            if (!isfinite(v)) continue;
        } else {
            v = (double)(x >> 11) / (double)(1ULL << (x % 60)); /* ordinary magnitudes */
        }
        gauge_value_text(v, s, sizeof(s));
        double back = strtod(s, NULL);
        assert_memory_equal(&back, &v, sizeof(v));
        assert_true(strlen(s) <= 24);
    }
}

static void test_integers_exact(void **state) {
    (void)state;
    char s[64];
    /* 2^53 + 1 is no double: the int path must not go through one. */
    assert_string_equal(int_value_text(9007199254740993LL, s, sizeof(s)), "9007199254740993");
    assert_string_equal(int_value_text(INT64_MAX, s, sizeof(s)), "9223372036854775807");
    assert_string_equal(int_value_text(INT64_MIN, s, sizeof(s)), "-9223372036854775808");
    assert_string_equal(int_value_text(0, s, sizeof(s)), "0");
    assert_string_equal(int_value_text(-1, s, sizeof(s)), "-1");
}

/* ---- negotiation --------------------------------------------------------------------------- */

/* Negotiate with the header's NUL as the last byte before an unreadable page. */
static metrics_format negotiate(const char *accept) {
    long page = sysconf(_SC_PAGESIZE);
    size_t n = strlen(accept) + 1;
    size_t pages = (n + (size_t)page - 1) / (size_t)page + 1;
    char *map = mmap(NULL, pages * (size_t)page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    char *guard = map + (pages - 1) * (size_t)page;
    assert_int_equal(mprotect(guard, (size_t)page, PROT_NONE), 0);
    char *s = guard - n;
    memcpy(s, accept, n);
    metrics_format f = metrics_format_from_accept(s);
    munmap(map, pages * (size_t)page);
    return f;
}

#define OM METRICS_OPENMETRICS_1
#define TXT METRICS_TEXT_004

static void test_negotiation(void **state) {
    (void)state;
    /* Prometheus 2.42's scrape header. */
    assert_int_equal(negotiate("application/openmetrics-text;version=1.0.0,application/"
                               "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                               "q=0.5,*/*;q=0.1"),
                     OM);
    /* a scraper that prefers text */
    assert_int_equal(negotiate("text/plain;version=0.0.4;q=1,application/"
                               "openmetrics-text;version=1.0.0;q=0.5"),
                     TXT);
    /* curl, browsers, none, empty */
    assert_int_equal(negotiate("*/*"), TXT);
    assert_int_equal(negotiate("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                     TXT);
    assert_int_equal(metrics_format_from_accept(NULL), TXT);
    assert_int_equal(negotiate(""), TXT);
    assert_int_equal(negotiate("   "), TXT);
    /* OpenMetrics alone, any case, spaces, quoted version, no version, 0.0.1 only */
    assert_int_equal(negotiate("application/openmetrics-text"), OM);
    assert_int_equal(negotiate("Application/OpenMetrics-Text ; Version=\"1.0.0\" ; Q=1.0"), OM);
    assert_int_equal(negotiate("application/openmetrics-text; version=0.0.1"), OM);
    /* q = 0 means "not acceptable", whatever else is listed */
    assert_int_equal(negotiate("application/openmetrics-text;q=0"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;q=0.000,text/plain;q=0.001"), TXT);
    /* a version we do not write does not count */
    assert_int_equal(negotiate("application/openmetrics-text;version=2.0.0"), TXT);
    /* the most specific entry decides the q: version=1.0.0 refused, bare one accepted */
    assert_int_equal(negotiate("application/openmetrics-text;version=1.0.0;q=0,"
                               "application/openmetrics-text;q=1"),
                     TXT);
    /* text/plain with q=0 but a wildcard with q=1: text/plain's own q counts */
    assert_int_equal(negotiate("text/plain;q=0,*/*,application/openmetrics-text;q=0.5"), OM);
    /* ties: explicit OpenMetrics beats a wildcard; against text/plain the first one listed */
    assert_int_equal(negotiate("*/*,application/openmetrics-text"), OM);
    assert_int_equal(negotiate("text/*;q=0.5,application/openmetrics-text;q=0.5"), OM);
    assert_int_equal(negotiate("application/openmetrics-text,text/plain"), OM);
    assert_int_equal(negotiate("text/plain,application/openmetrics-text"), TXT);
    assert_int_equal(negotiate("text/plain;version=0.0.4;q=0.3,application/openmetrics-text;q=0.4"),
                     OM);
    /* Prometheus 3's header, with escaping parameters */
    assert_int_equal(negotiate("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;"
                               "q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/"
                               "plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;"
                               "version=0.0.4;q=0.2,*/*;q=0.1"),
                     OM);
    /* garbage: nothing to parse, malformed q (entry ignored), unbalanced quotes, bytes */
    assert_int_equal(negotiate("garbage"), TXT);
    assert_int_equal(negotiate(";;;,,,/;=\"\\"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;q=abc"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;q=1.5"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;q=0.5555"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;version=\"1.0.0"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;version=\"a,b\";q=0,"
                               "application/openmetrics-text;q=0.2"),
                     OM);
    assert_int_equal(negotiate("application/openmetrics-text;version=1.0.0.0.0.0.0.0.0.0.0.0"),
                     TXT);
    assert_int_equal(negotiate("\x01\x02\xff\xfe/\x80"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text;"), TXT);
    assert_int_equal(negotiate("application/openmetrics-text garbage"), TXT);
    assert_int_equal(negotiate("garbage,application/openmetrics-text"), OM);
    /* a quoted-pair stands for its character: version "1.0.\0" is 1.0.0 */
    assert_int_equal(negotiate("application/openmetrics-text;version=\"1.0.\\0\""), OM);
    /* a long header of junk, then an OpenMetrics entry */
    char big[20000];
    size_t off = 0;
    while (off < sizeof(big) - 64)
        off += (size_t)snprintf(big + off, sizeof(big) - off, "x/y;a=\"b,c\";q=0.%d,",
                                (int)(off % 10));
    snprintf(big + off, sizeof(big) - off, "application/openmetrics-text");
    assert_int_equal(negotiate(big), OM);
}

/* ---- misuse -------------------------------------------------------------------------------- */

/* A valid family before and after each misuse shows the body stays well formed. */
static void begin_ok(metrics_writer *w, const char *name) {
    assert_int_equal(metrics_family_begin(w, name, "ok", METRICS_GAUGE, NULL), 0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 1), 0);
}

static void expect_error(metrics_writer *w, int rc, int want, const char *text) {
    assert_int_equal(rc, want);
    if (!strstr(metrics_writer_error(w), text))
        fail_msg("error text \"%s\" lacks \"%s\"", metrics_writer_error(w), text);
}

static void test_misuse_names(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    /* sample before any family */
    expect_error(&w, metrics_sample_int(&w, NULL, 0, 1), METRICS_ERR_NO_FAMILY, "before any");
    begin_ok(&w, "a");
    const char *after_a = "# HELP a ok\n# TYPE a gauge\na 1\n";
    ASSERT_BODY(&w, after_a);

    static const char *const bad_names[] = {"",   "1abc",  "a-b",  "a b", "a\nb", "caf\xc3\xa9",
                                            "a{", "a\x7f", "a\"b", "a.b"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
        metrics_type t = i % 2 ? METRICS_COUNTER : METRICS_GAUGE;
        expect_error(&w, metrics_family_begin(&w, bad_names[i], "h", t, NULL), METRICS_ERR_NAME,
                     "invalid metric name");
        /* its samples are refused, nothing is written */
        expect_error(&w, metrics_sample_int(&w, NULL, 0, 1), METRICS_ERR_NO_FAMILY, "skipped");
        ASSERT_BODY(&w, after_a);
    }
    /* the error text shows the name without control bytes, and never too long */
    metrics_family_begin(&w, "a\nb", "h", METRICS_GAUGE, NULL);
    assert_string_equal(metrics_writer_error(&w), "invalid metric name \"a?b\"");
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 2);
    longname[0] = '-';
    longname[sizeof(longname) - 1] = '\0';
    longname[sizeof(longname) - 2] = 'y';
    metrics_family_begin(&w, longname, "h", METRICS_GAUGE, NULL);
    assert_true(strlen(metrics_writer_error(&w)) < 120);
    assert_non_null(strstr(metrics_writer_error(&w), "...\""));

    /* colons are legal in metric names */
    assert_int_equal(metrics_family_begin(&w, "job:memkv_x:sum", "h", METRICS_GAUGE, NULL), 0);
    /* NULL name, NULL or empty HELP, unknown type */
    expect_error(&w, metrics_family_begin(&w, NULL, "h", METRICS_GAUGE, NULL), METRICS_ERR_ARG,
                 "without a name");
    expect_error(&w, metrics_family_begin(&w, "b", NULL, METRICS_GAUGE, NULL), METRICS_ERR_ARG,
                 "no HELP");
    expect_error(&w, metrics_family_begin(&w, "b", "", METRICS_GAUGE, NULL), METRICS_ERR_ARG,
                 "no HELP");
    expect_error(&w, metrics_family_begin(&w, "b", "h", (metrics_type)99, NULL), METRICS_ERR_ARG,
                 "unknown type");
    /* b was never written, so it can still come */
    begin_ok(&w, "b");
    assert_int_equal(metrics_writer_finish(&w), 0);
    ASSERT_BODY(&w, "# HELP a ok\n# TYPE a gauge\na 1\n"
                    "# HELP job:memkv_x:sum h\n# TYPE job:memkv_x:sum gauge\n"
                    "# HELP b ok\n# TYPE b gauge\nb 1\n# EOF\n");
    assert_int_equal(metrics_writer_errors(&w), 2 * 10 + 1 + 2 + 4);
    metrics_writer_deinit(&w);
    assert_int_equal(metrics_family_begin(NULL, "a", "h", METRICS_GAUGE, NULL), METRICS_ERR_ARG);
    assert_int_equal(metrics_sample_int(NULL, NULL, 0, 1), METRICS_ERR_ARG);
    assert_int_equal(metrics_sample_double(NULL, NULL, 0, 1), METRICS_ERR_ARG);
    assert_int_equal(metrics_writer_finish(NULL), METRICS_ERR_ARG);
}

/* A bad sample removes its whole family, samples already written included. */
static void test_misuse_labels(void **state) {
    (void)state;
    static const char *const bad_labels[] = {"", "1a", "a-b", "__name__", "__x", "a b", "é", NULL};
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        begin_ok(&w, "a");
        char before[256];
        snprintf(before, sizeof(before), "%s", metrics_writer_data(&w, NULL));
        for (size_t i = 0; i < sizeof(bad_labels) / sizeof(*bad_labels); i++) {
            assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
            metrics_label good[] = {L("k", "1")};
            assert_int_equal(metrics_sample_int(&w, good, 1, 1), 0);
            metrics_label l[] = {L("ok", "v"), L(bad_labels[i], "v")};
            expect_error(&w, metrics_sample_int(&w, l, 2, 2), METRICS_ERR_LABEL,
                         "invalid label name");
            ASSERT_BODY(&w, before);
            /* the rest of the family is refused */
            expect_error(&w, metrics_sample_int(&w, good, 1, 1), METRICS_ERR_NO_FAMILY, "skipped");
            ASSERT_BODY(&w, before);
        }
        /* a label twice in one sample */
        assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
        metrics_label twice[] = {L("x", "1"), L("y", "2"), L("x", "3")};
        expect_error(&w, metrics_sample_int(&w, twice, 3, 1), METRICS_ERR_LABEL, "twice");
        /* NULL value, NULL array with labels */
        assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
        metrics_label nullv[] = {L("x", NULL)};
        expect_error(&w, metrics_sample_int(&w, nullv, 1, 1), METRICS_ERR_ARG, "no value");
        assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
        expect_error(&w, metrics_sample_double(&w, NULL, 2, 1), METRICS_ERR_ARG, "no array");
        ASSERT_BODY(&w, before);
        /* the same label set twice, in another order; an empty value is no label */
        assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
        metrics_label ab[] = {L("a", "1"), L("b", "2")}, ba[] = {L("b", "2"), L("a", "1")};
        metrics_label swapped[] = {L("a", "2"), L("b", "1")};
        assert_int_equal(metrics_sample_int(&w, ab, 2, 1), 0);
        assert_int_equal(metrics_sample_int(&w, swapped, 2, 1), 0);
        expect_error(&w, metrics_sample_int(&w, ba, 2, 1), METRICS_ERR_DUPLICATE, "same label set");
        ASSERT_BODY(&w, before);
        assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
        metrics_label empty[] = {L("a", "")};
        assert_int_equal(metrics_sample_int(&w, NULL, 0, 1), 0);
        expect_error(&w, metrics_sample_int(&w, empty, 1, 1), METRICS_ERR_DUPLICATE,
                     "same label set");
        ASSERT_BODY(&w, before);
        /* the family can finally be written whole */
        assert_int_equal(metrics_family_begin(&w, "fam", "h", METRICS_GAUGE, NULL), 0);
        assert_int_equal(metrics_sample_int(&w, ab, 2, 5), 0);
        assert_int_equal(metrics_writer_finish(&w), 0);
        char want[512];
        snprintf(want, sizeof(want), "%s# HELP fam h\n# TYPE fam gauge\nfam{a=\"1\",b=\"2\"} 5\n%s",
                 before, f ? "# EOF\n" : "");
        ASSERT_BODY(&w, want);
        metrics_writer_deinit(&w);
    }
}

static void test_misuse_duplicates(void **state) {
    (void)state;
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        begin_ok(&w, "g");
        assert_int_equal(metrics_family_begin(&w, "c", "h", METRICS_COUNTER, NULL), 0);
        assert_int_equal(metrics_sample_int(&w, NULL, 0, 3), 0);
        assert_int_equal(metrics_family_begin(&w, "i", "h", METRICS_INFO, NULL), 0);
        char before[512];
        snprintf(before, sizeof(before), "%s", metrics_writer_data(&w, NULL));
        /* the same name; names another family's samples use; either way round */
        expect_error(&w, metrics_family_begin(&w, "g", "h", METRICS_GAUGE, NULL),
                     METRICS_ERR_DUPLICATE, "earlier family");
        expect_error(&w, metrics_family_begin(&w, "g", "h", METRICS_COUNTER, NULL),
                     METRICS_ERR_DUPLICATE, "earlier family");
        expect_error(&w, metrics_family_begin(&w, "c", "h", METRICS_GAUGE, NULL),
                     METRICS_ERR_DUPLICATE, "earlier family");
        expect_error(&w, metrics_family_begin(&w, "c_total", "h", METRICS_GAUGE, NULL),
                     METRICS_ERR_DUPLICATE, "\"c_total\" of an earlier");
        expect_error(&w, metrics_family_begin(&w, "c_created", "h", METRICS_UNTYPED, NULL),
                     METRICS_ERR_DUPLICATE, "earlier family");
        expect_error(&w, metrics_family_begin(&w, "c_total", "h", METRICS_COUNTER, NULL),
                     METRICS_ERR_DUPLICATE, "earlier family");
        expect_error(&w, metrics_family_begin(&w, "i_info", "h", METRICS_GAUGE, NULL),
                     METRICS_ERR_DUPLICATE, "earlier family");
        expect_error(&w, metrics_sample_int(&w, NULL, 0, 1), METRICS_ERR_NO_FAMILY, "skipped");
        ASSERT_BODY(&w, before);
        /* a gauge first, then a counter whose samples would carry its name */
        begin_ok(&w, "d_total");
        snprintf(before, sizeof(before), "%s", metrics_writer_data(&w, NULL));
        expect_error(&w, metrics_family_begin(&w, "d", "h", METRICS_COUNTER, NULL),
                     METRICS_ERR_DUPLICATE, "\"d_total\" of an earlier");
        ASSERT_BODY(&w, before);
        /* a family removed for a bad sample gives its name back */
        assert_int_equal(metrics_family_begin(&w, "e", "h", METRICS_GAUGE, NULL), 0);
        metrics_label bad[] = {L("0", "x")};
        assert_int_equal(metrics_sample_int(&w, bad, 1, 1), METRICS_ERR_LABEL);
        begin_ok(&w, "e");
        metrics_writer_deinit(&w);
    }
}

static void test_misuse_units_values(void **state) {
    (void)state;
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        /* the unit must be the name's suffix, after an underscore */
        expect_error(&w, metrics_family_begin(&w, "x_bytes", "h", METRICS_GAUGE, "seconds"),
                     METRICS_ERR_UNIT, "not its suffix");
        expect_error(&w, metrics_family_begin(&w, "xbytes", "h", METRICS_GAUGE, "bytes"),
                     METRICS_ERR_UNIT, "not its suffix");
        expect_error(&w, metrics_family_begin(&w, "bytes", "h", METRICS_GAUGE, "bytes"),
                     METRICS_ERR_UNIT, "not its suffix");
        expect_error(&w, metrics_family_begin(&w, "x_bytes", "h", METRICS_GAUGE, "ytes"),
                     METRICS_ERR_UNIT, "not its suffix");
        /* counter: the unit precedes _total */
        expect_error(&w, metrics_family_begin(&w, "x_total", "h", METRICS_COUNTER, "total"),
                     METRICS_ERR_UNIT, "not its suffix");
        expect_error(&w, metrics_family_begin(&w, "x", "h", METRICS_INFO, "bytes"),
                     METRICS_ERR_UNIT, "cannot have a unit");
        assert_int_equal(metrics_writer_data(&w, NULL)[0], '\0');
        /* counters refuse negative and NaN values, info anything but 1 */
        assert_int_equal(metrics_family_begin(&w, "c", "h", METRICS_COUNTER, NULL), 0);
        expect_error(&w, metrics_sample_int(&w, NULL, 0, -1), METRICS_ERR_VALUE, "counter");
        assert_int_equal(metrics_family_begin(&w, "c2", "h", METRICS_COUNTER, NULL), 0);
        expect_error(&w, metrics_sample_double(&w, NULL, 0, NAN), METRICS_ERR_VALUE, "NaN");
        assert_int_equal(metrics_family_begin(&w, "c3", "h", METRICS_COUNTER, NULL), 0);
        expect_error(&w, metrics_sample_double(&w, NULL, 0, -0.5), METRICS_ERR_VALUE, "-0.5");
        assert_int_equal(metrics_family_begin(&w, "i", "h", METRICS_INFO, NULL), 0);
        expect_error(&w, metrics_sample_int(&w, NULL, 0, 2), METRICS_ERR_VALUE, "info");
        assert_int_equal(metrics_family_begin(&w, "i2", "h", METRICS_INFO, NULL), 0);
        expect_error(&w, metrics_sample_double(&w, NULL, 0, 0.5), METRICS_ERR_VALUE, "info");
        assert_int_equal(metrics_writer_data(&w, NULL)[0], '\0');
        /* gauges take anything */
        assert_int_equal(metrics_family_begin(&w, "g", "h", METRICS_GAUGE, NULL), 0);
        metrics_label l[] = {L("k", "nan")};
        assert_int_equal(metrics_sample_double(&w, l, 1, NAN), 0);
        assert_int_equal(metrics_sample_int(&w, NULL, 0, -1), 0);
        /* nothing after finish */
        assert_int_equal(metrics_writer_finish(&w), 0);
        size_t len;
        metrics_writer_data(&w, &len);
        expect_error(&w, metrics_writer_finish(&w), METRICS_ERR_FINISHED, "twice");
        expect_error(&w, metrics_sample_int(&w, NULL, 0, 1), METRICS_ERR_FINISHED, "after");
        expect_error(&w, metrics_family_begin(&w, "z", "h", METRICS_GAUGE, NULL),
                     METRICS_ERR_FINISHED, "after");
        size_t len2;
        metrics_writer_data(&w, &len2);
        assert_int_equal(len, len2);
        metrics_writer_deinit(&w);
    }
    for (int e = 0; e >= -9; e--)
        assert_true(strlen(metrics_strerror(e)) > 0);
    assert_string_equal(metrics_strerror(0), "ok");
    assert_string_equal(metrics_strerror(-100), "unknown error");
}

/* ---- histograms ---------------------------------------------------------------------------- */

static void test_histogram(void **state) {
    (void)state;
    static const double le[] = {0, 1, 3, 0.5e300};
    static const uint64_t cum[] = {1, 1, 4, UINT64_MAX - 1};
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        assert_int_equal(metrics_family_begin(&w, "len", "Lengths.", METRICS_HISTOGRAM, NULL), 0);
        metrics_label l[] = {L("type", "a\"b")};
        assert_int_equal(metrics_sample_histogram(&w, l, 1, le, cum, 4, UINT64_MAX, 2.5), 0);
        /* no bounds: only +Inf; no labels */
        assert_int_equal(metrics_sample_histogram(&w, NULL, 0, NULL, NULL, 0, 0, 0), 0);
        assert_int_equal(
            metrics_family_begin(&w, "size_bytes", "Sizes.", METRICS_HISTOGRAM, "bytes"), 0);
        assert_int_equal(metrics_sample_histogram(&w, NULL, 0, le, cum, 1, 3, 7), 0);
        assert_int_equal(metrics_writer_finish(&w), 0);
        /* The same in both formats but for OpenMetrics's UNIT line and # EOF. */
        char want[2048];
        snprintf(want, sizeof(want),
                 "# HELP len Lengths.\n"
                 "# TYPE len histogram\n"
                 "len_bucket{type=\"a\\\"b\",le=\"0.0\"} 1\n"
                 "len_bucket{type=\"a\\\"b\",le=\"1.0\"} 1\n"
                 "len_bucket{type=\"a\\\"b\",le=\"3.0\"} 4\n"
                 "len_bucket{type=\"a\\\"b\",le=\"5e+299\"} 18446744073709551614\n"
                 "len_bucket{type=\"a\\\"b\",le=\"+Inf\"} 18446744073709551615\n"
                 "len_sum{type=\"a\\\"b\"} 2.5\n"
                 "len_count{type=\"a\\\"b\"} 18446744073709551615\n"
                 "len_bucket{le=\"+Inf\"} 0\n"
                 "len_sum 0\n"
                 "len_count 0\n"
                 "# HELP size_bytes Sizes.\n"
                 "# TYPE size_bytes histogram\n"
                 "%s"
                 "size_bytes_bucket{le=\"0.0\"} 1\n"
                 "size_bytes_bucket{le=\"+Inf\"} 3\n"
                 "size_bytes_sum 7\n"
                 "size_bytes_count 3\n"
                 "%s",
                 f ? "# UNIT size_bytes bytes\n" : "", f ? "# EOF\n" : "");
        ASSERT_BODY(&w, want);
        metrics_writer_deinit(&w);
    }
}

static void test_histogram_misuse(void **state) {
    (void)state;
    static const double le[] = {1, 3, 7};
    static const uint64_t cum[] = {1, 2, 5};
    static const double down[] = {1, 7, 3}, same[] = {1, 1, 3}, inf[] = {1, 3, INFINITY},
                        nan_le[] = {NAN, 1, 3};
    static const uint64_t dec[] = {1, 3, 2};
    for (int f = 0; f < 2; f++) {
        metrics_writer w;
        metrics_writer_init(&w, f ? METRICS_OPENMETRICS_1 : METRICS_TEXT_004);
        /* names a histogram's samples take are taken, both ways */
        assert_int_equal(metrics_family_begin(&w, "h_bucket", "h", METRICS_GAUGE, NULL), 0);
        expect_error(&w, metrics_family_begin(&w, "h", "h", METRICS_HISTOGRAM, NULL),
                     METRICS_ERR_DUPLICATE, "h_bucket");
        assert_int_equal(metrics_family_begin(&w, "k", "h", METRICS_HISTOGRAM, NULL), 0);
        expect_error(&w, metrics_family_begin(&w, "k_count", "h", METRICS_GAUGE, NULL),
                     METRICS_ERR_DUPLICATE, "k_count");
        metrics_writer_reset(&w, w.format);
        struct {
            const double *le;
            const uint64_t *cum;
            size_t n;
            uint64_t count;
            double sum;
            const char *why;
        } bad[] = {
            {down, cum, 3, 5, 1, "increasing"}, {same, cum, 3, 5, 1, "increasing"},
            {inf, cum, 3, 5, 1, "not finite"},  {nan_le, cum, 3, 5, 1, "not finite"},
            {le, dec, 3, 5, 1, "decrease"},     {le, cum, 3, 4, 1, "above the count"},
            {le, cum, 3, 5, NAN, "NaN"},        {NULL, cum, 3, 5, 1, "missing"},
            {le, NULL, 3, 5, 1, "missing"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_int_equal(metrics_family_begin(&w, "h", "h", METRICS_HISTOGRAM, NULL), 0);
            metrics_label ok[] = {L("type", "x")};
            assert_int_equal(metrics_sample_histogram(&w, ok, 1, le, cum, 3, 5, 1), 0);
            metrics_label l[] = {L("type", "y")};
            expect_error(&w,
                         metrics_sample_histogram(&w, l, 1, bad[i].le, bad[i].cum, bad[i].n,
                                                  bad[i].count, bad[i].sum),
                         METRICS_ERR_VALUE, bad[i].why);
            /* the family is gone whole, and its name is free again */
            assert_int_equal(metrics_writer_data(&w, NULL)[0], '\0');
            expect_error(&w, metrics_sample_histogram(&w, ok, 1, le, cum, 3, 5, 1),
                         METRICS_ERR_NO_FAMILY, "skipped");
        }
        /* "le" is the writer's; the same label set twice; plain samples and histograms only in
         * their own families */
        assert_int_equal(metrics_family_begin(&w, "h", "h", METRICS_HISTOGRAM, NULL), 0);
        metrics_label lel[] = {L("le", "1")};
        expect_error(&w, metrics_sample_histogram(&w, lel, 1, le, cum, 3, 5, 1), METRICS_ERR_LABEL,
                     "le");
        assert_int_equal(metrics_family_begin(&w, "h", "h", METRICS_HISTOGRAM, NULL), 0);
        assert_int_equal(metrics_sample_histogram(&w, NULL, 0, le, cum, 3, 5, 1), 0);
        expect_error(&w, metrics_sample_histogram(&w, NULL, 0, le, cum, 3, 5, 1),
                     METRICS_ERR_DUPLICATE, "twice");
        assert_int_equal(metrics_family_begin(&w, "h", "h", METRICS_HISTOGRAM, NULL), 0);
        expect_error(&w, metrics_sample_int(&w, NULL, 0, 1), METRICS_ERR_ARG, "plain sample");
        assert_int_equal(metrics_family_begin(&w, "h", "h", METRICS_HISTOGRAM, NULL), 0);
        expect_error(&w, metrics_sample_double(&w, NULL, 0, 1), METRICS_ERR_ARG, "plain sample");
        assert_int_equal(metrics_family_begin(&w, "g", "h", METRICS_GAUGE, NULL), 0);
        expect_error(&w, metrics_sample_histogram(&w, NULL, 0, le, cum, 3, 5, 1), METRICS_ERR_ARG,
                     "another type");
        assert_int_equal(metrics_writer_data(&w, NULL)[0], '\0');
        expect_error(&w, metrics_family_begin(&w, "x", "h", (metrics_type)99, NULL),
                     METRICS_ERR_ARG, "unknown type");
        metrics_writer_deinit(&w);
    }
}

/* ---- ownership and accounting -------------------------------------------------------------- */

static void test_take_reset_accounting(void **state) {
    (void)state;
    int64_t base = alloc_sub_bytes(ALLOC_SUB_HTTP);
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HTTP), base); /* init allocates nothing */
    size_t len = 99;
    assert_string_equal(metrics_writer_data(&w, &len), "");
    assert_int_equal(len, 0);

    /* an empty body can be taken too */
    char *empty = metrics_writer_take(&w, &len);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    assert_int_equal(len, 0);
    metrics_buffer_free(empty);
    metrics_buffer_free(NULL);

    /* grow past several doublings: 3000 families with 10 labelled samples each */
    char name[32], val[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "memkv_f%d", i);
        assert_int_equal(metrics_family_begin(&w, name, "A family\nwith \"help\".",
                                              i % 2 ? METRICS_COUNTER : METRICS_GAUGE, NULL),
                         0);
        for (int j = 0; j < 10; j++) {
            snprintf(val, sizeof(val), "v%d\\", j);
            metrics_label l[] = {L("n", val)};
            assert_int_equal(metrics_sample_int(&w, l, 1, j), 0);
        }
    }
    assert_true(alloc_sub_bytes(ALLOC_SUB_HTTP) > base + 1000000);
    assert_int_equal(metrics_writer_finish(&w), 0);
    size_t data_len;
    const char *data = metrics_writer_data(&w, &data_len);
    assert_int_equal(strlen(data), data_len);
    assert_non_null(strstr(data, "\nmemkv_f2999_total{n=\"v9\\\\\"} 9\n"));

    char *body = metrics_writer_take(&w, &len);
    assert_int_equal(len, data_len);
    assert_int_equal(strlen(body), len);
    /* the writer is empty again, in the same format, and may be reused at once */
    assert_string_equal(metrics_writer_data(&w, NULL), "");
    begin_ok(&w, "memkv_f1"); /* names were forgotten too */
    metrics_buffer_free(body);

    /* reset keeps the capacity and forgets errors */
    metrics_family_begin(&w, "1", "h", METRICS_GAUGE, NULL);
    assert_int_equal(metrics_writer_errors(&w), 1);
    metrics_writer_reset(&w, METRICS_OPENMETRICS_1);
    assert_int_equal(metrics_writer_errors(&w), 0);
    assert_string_equal(metrics_writer_error(&w), "");
    begin_ok(&w, "memkv_f1");
    assert_int_equal(metrics_writer_finish(&w), 0);
    ASSERT_BODY(&w, "# HELP memkv_f1 ok\n# TYPE memkv_f1 gauge\nmemkv_f1 1\n# EOF\n");

    metrics_writer_deinit(&w);
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_HTTP), base);
    /* deinit leaves a writer that can be initialised and deinitialised again */
    metrics_writer_init(&w, (metrics_format)7); /* unknown: text */
    metrics_writer_deinit(&w);
    metrics_writer_init(&w, (metrics_format)7);
    assert_int_equal(metrics_writer_finish(&w), 0);
    ASSERT_BODY(&w, "");
    metrics_writer_deinit(&w);
}

/* ---- promtool ------------------------------------------------------------------------------ */

/* The families DESIGN.md makes a contract, and a few more, as a collector would write them.
 * classic_only leaves out what promtool's classic-text parser cannot read in an OpenMetrics
 * body: the info family and a '"' in HELP (escaped there as \", which classic text refuses). */
static void write_realistic(metrics_writer *w, int classic_only) {
    static const char *const alloc_names[] = {"allocated", "active", "resident",
                                              "retained",  "mapped", "metadata"};
    char name[96], help[160];
    for (size_t i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "memkv_allocator_%s_bytes", alloc_names[i]);
        snprintf(help, sizeof(help), "Bytes %s by the allocator (jemalloc's stats.%s).",
                 alloc_names[i], alloc_names[i]);
        assert_int_equal(metrics_family_begin(w, name, help, METRICS_GAUGE, "bytes"), 0);
        assert_int_equal(metrics_sample_int(w, NULL, 0, (int64_t)(i + 1) << 20), 0);
    }
    assert_int_equal(metrics_family_begin(w, "memkv_memory_used_bytes",
                                          "Bytes the server accounts for (Redis's used_memory).",
                                          METRICS_GAUGE, "bytes"),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 9007199254740993LL), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_memory_max_bytes",
                                          "maxmemory in bytes; 0 means no limit.", METRICS_GAUGE,
                                          "bytes"),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 0), 0);
    assert_int_equal(
        metrics_family_begin(w, "memkv_memory_subsystem_bytes",
                             classic_only ? "Bytes held per subsystem \\ exact usable sizes."
                                          : "Bytes held per subsystem \\ \"exact\" usable sizes.",
                             METRICS_GAUGE, "bytes"),
        0);
    static const char *const subs[] = {"strings", "key_index", "query_buffers", "weird \"\\\n"};
    for (size_t i = 0; i < 4; i++) {
        metrics_label l[] = {L("subsystem", subs[i])};
        assert_int_equal(metrics_sample_int(w, l, 1, (int64_t)i * 4096), 0);
    }
    assert_int_equal(metrics_family_begin(w, "process_resident_memory_bytes",
                                          "Resident memory size in bytes.", METRICS_GAUGE, "bytes"),
                     0);
    assert_int_equal(metrics_sample_double(w, NULL, 0, 123456789.0), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_profiling_active",
                                          "1 if heap profiling samples allocations.", METRICS_GAUGE,
                                          NULL),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 0), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_profiling_sample_bytes",
                                          "Mean bytes between profiling samples.", METRICS_GAUGE,
                                          "bytes"),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 524288), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_mem_fragmentation_ratio",
                                          "Process RSS / used memory.", METRICS_GAUGE, NULL),
                     0);
    assert_int_equal(metrics_sample_double(w, NULL, 0, 1.0 / 3), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_special_values", "Gauges with special values.",
                                          METRICS_GAUGE, NULL),
                     0);
    metrics_label k1[] = {L("kind", "pinf")}, k2[] = {L("kind", "ninf")}, k3[] = {L("kind", "nan")};
    assert_int_equal(metrics_sample_double(w, k1, 1, INFINITY), 0);
    assert_int_equal(metrics_sample_double(w, k2, 1, -INFINITY), 0);
    assert_int_equal(metrics_sample_double(w, k3, 1, NAN), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_commands_processed",
                                          "Commands processed since start.", METRICS_COUNTER, NULL),
                     0);
    assert_int_equal(metrics_sample_int(w, NULL, 0, 42), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_evicted_keys", "Keys evicted by maxmemory.",
                                          METRICS_COUNTER, NULL),
                     0);
    metrics_label db[] = {L("db", "0")};
    assert_int_equal(metrics_sample_int(w, db, 1, 7), 0);
    assert_int_equal(metrics_family_begin(w, "process_cpu_seconds", "Total CPU time in seconds.",
                                          METRICS_COUNTER, "seconds"),
                     0);
    assert_int_equal(metrics_sample_double(w, NULL, 0, 0.25), 0);
    assert_int_equal(metrics_family_begin(w, "memkv_keyspace_key_bytes", "Bytes per key, by type.",
                                          METRICS_HISTOGRAM, "bytes"),
                     0);
    static const double le[] = {0, 1, 3, 7, 15};
    static const uint64_t cum[] = {0, 0, 2, 2, 9};
    metrics_label ts[] = {L("type", "string")}, th[] = {L("type", "hash")};
    assert_int_equal(metrics_sample_histogram(w, ts, 1, le, cum, 5, 10, 93), 0);
    assert_int_equal(metrics_sample_histogram(w, th, 1, NULL, NULL, 0, 0, 0), 0);
    if (!classic_only) {
        assert_int_equal(metrics_family_begin(w, "memkv_build", "Build information; always 1.",
                                              METRICS_INFO, NULL),
                         0);
        metrics_label b[] = {L("version", "0.1.0"), L("allocator", "jemalloc-5.3.0")};
        assert_int_equal(metrics_sample_int(w, b, 2, 1), 0);
    }
    assert_int_equal(metrics_writer_finish(w), 0);
}

static void test_promtool_text(void **state) {
    (void)state;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    write_realistic(&w, 0); /* everything, info and quotes included */
    char out[4096];
    int rc = promtool_check_metrics(metrics_writer_data(&w, NULL), out, sizeof(out));
    if (rc != 0 || out[0]) {
        fputs(metrics_writer_data(&w, NULL), stderr);
        fail_msg("promtool exit %d on the body above:\n%s", rc, out);
    }
    metrics_writer_deinit(&w);
}

/* What promtool 2.42 says about an OpenMetrics body: it parses it as classic text 0.0.4.
 * "# UNIT" and "# EOF" pass as comments. Three things differ:
 *   - "# TYPE memkv_build info" (and "unknown" for untyped) is a parse error, exit 1:
 *     `text format parsing error in line N: unknown metric type "info"`;
 *   - OpenMetrics escapes '"' in HELP as \", which classic text refuses, exit 1:
 *     `text format parsing error in line N: invalid escape sequence '\"'`;
 *   - a counter declared "# TYPE x counter" with samples "x_total" is a lint problem, exit 3:
 *     `x_total no help text`, once per counter (for classic text x_total is a family of its own
 *     that has no HELP).
 * None of these is wrong OpenMetrics. So the body without info and quotes must give exactly the
 * counter lines (or nothing, should promtool learn OpenMetrics), and the full body must stop
 * at one of the two known parse errors (or pass) — any other complaint fails the test. */
static void test_promtool_openmetrics(void **state) {
    (void)state;
    metrics_writer w;
    char out[4096];
    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    write_realistic(&w, 1);
    int rc = promtool_check_metrics(metrics_writer_data(&w, NULL), out, sizeof(out));
    static const char expected[] = "memkv_commands_processed_total no help text\n"
                                   "memkv_evicted_keys_total no help text\n"
                                   "process_cpu_seconds_total no help text\n";
    if (!((rc == 3 && strcmp(out, expected) == 0) || (rc == 0 && !out[0]))) {
        fputs(metrics_writer_data(&w, NULL), stderr);
        fail_msg("promtool exit %d on the body above:\n%s", rc, out);
    }
    metrics_writer_deinit(&w);

    metrics_writer_init(&w, METRICS_OPENMETRICS_1);
    write_realistic(&w, 0);
    rc = promtool_check_metrics(metrics_writer_data(&w, NULL), out, sizeof(out));
    if (!((rc == 1 && (strstr(out, "unknown metric type \"info\"") ||
                       strstr(out, "invalid escape sequence '\\\"'"))) ||
          (rc == 0 && !out[0]))) {
        fputs(metrics_writer_data(&w, NULL), stderr);
        fail_msg("promtool exit %d on the body above:\n%s", rc, out);
    }
    metrics_writer_deinit(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_types),         cmocka_unit_test(test_gauge_text),
        cmocka_unit_test(test_gauge_openmetrics),     cmocka_unit_test(test_counter_text),
        cmocka_unit_test(test_counter_openmetrics),   cmocka_unit_test(test_info_untyped),
        cmocka_unit_test(test_labels_several),        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_special_floats),        cmocka_unit_test(test_float_round_trip),
        cmocka_unit_test(test_integers_exact),        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_misuse_names),          cmocka_unit_test(test_misuse_labels),
        cmocka_unit_test(test_misuse_duplicates),     cmocka_unit_test(test_misuse_units_values),
        cmocka_unit_test(test_take_reset_accounting), cmocka_unit_test(test_promtool_text),
        cmocka_unit_test(test_promtool_openmetrics),  cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_histogram_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
