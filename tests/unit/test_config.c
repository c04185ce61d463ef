/* Unit tests of the config engine with a table of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

static int flag;
static long long number;
static long long bytes;
static long long fixed;
static int level;
static char *name;
static char *dump_path;
static int applied;
static int custom_a, custom_b;

static const char *const levels[] = {"debug", "notice", "warning", NULL};

static int apply_number(const cfg_param *p, char *err) {
    (void)p;
    applied++;
    if (number == 13) {
        snprintf(err, CFG_ERR_LEN, "unlucky");
        return -1;
    }
    return 0;
}

static int parse_pair(const cfg_param *p, const char *v, char *err) {
    (void)p;
    int a, b;
    if (sscanf(v, "%d %d", &a, &b) != 2) {
        snprintf(err, CFG_ERR_LEN, "need two numbers");
        return -1;
    }
    custom_a = a;
    custom_b = b;
    return 0;
}

static void format_pair(const cfg_param *p, char *buf, size_t cap) {
    (void)p;
    snprintf(buf, cap, "%d %d", custom_a, custom_b);
}

static cfg_param params[] = {
    {.name = "flag", .type = CFG_BOOL, .ptr = &flag, .default_value = "no"},
    {.name = "number",
     .type = CFG_INT,
     .ptr = &number,
     .default_value = "10",
     .min = 1,
     .max = 100,
     .apply = apply_number},
    {.name = "bytes",
     .type = CFG_MEMORY,
     .ptr = &bytes,
     .default_value = "1mb",
     .min = 0,
     .max = 1LL << 40},
    {.name = "level",
     .type = CFG_ENUM,
     .ptr = &level,
     .default_value = "notice",
     .enum_names = levels},
    {.name = "name", .type = CFG_STRING, .ptr = &name, .default_value = "memkv"},
    {.name = "path",
     .type = CFG_STRING,
     .flags = CFG_PROTECTED,
     .ptr = &dump_path,
     .default_value = ""},
    {.name = "fixed",
     .type = CFG_INT,
     .flags = CFG_IMMUTABLE,
     .ptr = &fixed,
     .default_value = "10",
     .min = 0,
     .max = 100},
    {.name = "pair",
     .type = CFG_CUSTOM,
     .ptr = NULL,
     .default_value = "1 2",
     .parse = parse_pair,
     .format = format_pair},
};

static cfg_table table;

static int setup(void **state) {
    (void)state;
    table.params = params;
    table.count = sizeof(params) / sizeof(params[0]);
    table.started = 0;
    applied = 0;
    char err[CFG_ERR_LEN];
    assert_int_equal(cfg_set_defaults(&table, err), 0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cfg_deinit(&table);
    return 0;
}

static void fmt(const char *n, char *buf) {
    const cfg_param *p = cfg_find(&table, n);
    assert_non_null(p);
    cfg_format(p, buf, 256);
}

static void test_defaults_and_format(void **state) {
    (void)state;
    char buf[256];
    fmt("flag", buf);
    assert_string_equal(buf, "no");
    fmt("bytes", buf);
    assert_string_equal(buf, "1048576");
    fmt("level", buf);
    assert_string_equal(buf, "notice");
    fmt("name", buf);
    assert_string_equal(buf, "memkv");
    fmt("pair", buf);
    assert_string_equal(buf, "1 2");
    assert_non_null(cfg_find(&table, "FLAG")); /* names are case-insensitive */
    assert_null(cfg_find(&table, "nope"));
}

static void test_set_types_and_errors(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    assert_int_equal(cfg_set(&table, "flag", "YES", err), 0);
    assert_int_equal(flag, 1);
    assert_int_equal(cfg_set(&table, "flag", "maybe", err), -1);
    assert_string_equal(err, "argument must be 'yes' or 'no'");
    assert_int_equal(flag, 1);

    assert_int_equal(cfg_set(&table, "number", "42", err), 0);
    assert_int_equal(number, 42);
    assert_int_equal(cfg_set(&table, "number", "101", err), -1);
    assert_string_equal(err, "argument must be between 1 and 100 inclusive");
    assert_int_equal(cfg_set(&table, "number", "4x", err), -1);
    assert_string_equal(err, "argument couldn't be parsed into an integer");
    assert_int_equal(number, 42);

    assert_int_equal(cfg_set(&table, "bytes", "2gb", err), 0);
    assert_int_equal(bytes, 2LL << 30);
    assert_int_equal(cfg_set(&table, "bytes", "100k", err), 0);
    assert_int_equal(bytes, 100000);
    assert_int_equal(cfg_set(&table, "bytes", "12zb", err), -1);
    assert_string_equal(err, "argument must be a memory value");
    /* Units multiply: a product over LLONG_MAX is out of range (Redis's text), never a wrap. */
    assert_int_equal(cfg_set(&table, "bytes", "9223372036854775807gb", err), -1);
    assert_string_equal(err, "argument must be between 0 and 1099511627776 inclusive");
    assert_int_equal(cfg_set(&table, "bytes", "99999999999999999999", err), -1);
    assert_string_equal(err, "argument must be between 0 and 1099511627776 inclusive");
    assert_int_equal(cfg_set(&table, "bytes", "8589934592gb", err), -1);
    assert_string_equal(err, "argument must be between 0 and 1099511627776 inclusive");
    assert_int_equal(bytes, 100000);
    assert_int_equal(cfg_set(&table, "bytes", "1024gb", err), 0);
    assert_true(bytes == 1LL << 40);
    assert_int_equal(cfg_set(&table, "bytes", "100k", err), 0);

    assert_int_equal(cfg_set(&table, "level", "Warning", err), 0);
    assert_int_equal(level, 2);
    assert_int_equal(cfg_set(&table, "level", "loud", err), -1);
    assert_string_equal(err, "argument(s) must be one of the following: debug, notice, warning");

    assert_int_equal(cfg_set(&table, "name", "", err), 0);
    assert_string_equal(name, "");
    assert_int_equal(cfg_set(&table, "pair", "7 8", err), 0);
    assert_int_equal(custom_a, 7);
    assert_int_equal(cfg_set(&table, "pair", "7", err), -1);
    assert_string_equal(err, "need two numbers");

    assert_int_equal(cfg_set(&table, "nope", "1", err), -1);
}

static void test_runtime_immutable_and_apply(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    assert_int_equal(cfg_set(&table, "fixed", "5", err), 0); /* allowed at start-up */
    assert_int_equal(applied, 0);                            /* hooks only run at run time */
    table.started = 1;
    assert_int_equal(cfg_set(&table, "fixed", "6", err), -1);
    assert_string_equal(err, "can't set immutable config");
    assert_int_equal(cfg_set(&table, "number", "20", err), 0);
    assert_int_equal(applied, 1);
    /* A failing apply hook rolls the value back. */
    assert_int_equal(cfg_set(&table, "number", "13", err), -1);
    assert_string_equal(err, "unlucky");
    assert_int_equal(number, 20);
}

/* Protected parameters: free at start-up, at run time only where the caller allows it. */
static void test_protected(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    assert_int_equal(cfg_set(&table, "path", "/a", err), 0);
    table.started = 1;
    assert_int_equal(cfg_set(&table, "path", "/b", err), -1);
    assert_string_equal(err, "can't set protected config");
    assert_string_equal(dump_path, "/a");
    table.allow_protected = 1;
    assert_int_equal(cfg_set(&table, "path", "/b", err), 0);
    assert_string_equal(dump_path, "/b");
    table.allow_protected = 0;
}

static void test_set_many_is_all_or_nothing(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    table.started = 1;
    const char *names[] = {"flag", "name", "number"};
    const char *bad_values[] = {"yes", "changed", "1000"};
    size_t bad = 99;
    assert_int_equal(cfg_set_many(&table, names, bad_values, 3, &bad, err), -1);
    assert_int_equal(bad, 2);
    assert_int_equal(flag, 0);
    assert_string_equal(name, "memkv");
    const char *good_values[] = {"yes", "changed", "50"};
    assert_int_equal(cfg_set_many(&table, names, good_values, 3, &bad, err), 0);
    assert_int_equal(flag, 1);
    assert_string_equal(name, "changed");
    assert_int_equal(number, 50);
    const char *dup_names[] = {"flag", "FLAG"};
    assert_int_equal(cfg_set_many(&table, dup_names, good_values, 2, &bad, err), -1);
    assert_int_equal(bad, 1);
}

static void test_load_text(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    const char *text = "# a comment\n"
                       "\n"
                       "   flag yes\n"
                       "name \"hello world\"\n"
                       "pair 3 4\n"
                       "bytes 64mb\n";
    assert_int_equal(cfg_load_text(&table, text, err), 0);
    assert_int_equal(flag, 1);
    assert_string_equal(name, "hello world");
    assert_int_equal(custom_b, 4);
    assert_int_equal(bytes, 64LL << 20);

    assert_int_equal(cfg_load_text(&table, "flag yes\nbogus 1\n", err), -1);
    assert_non_null(strstr(err, "at line 2"));
    assert_non_null(strstr(err, "Bad directive"));
    assert_int_equal(cfg_load_text(&table, "name \"open\n", err), -1);
    assert_non_null(strstr(err, "Unbalanced quotes"));
    assert_int_equal(cfg_load_text(&table, "number\n", err), -1);
    assert_non_null(strstr(err, "wrong number of arguments"));
    assert_int_equal(cfg_load_text(&table, "number 0\n", err), -1);
    assert_non_null(strstr(err, "between 1 and 100"));
}

static void test_load_args(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    char *argv[] = {"--number", "7", "--pair", "5", "6", "--name", "x"};
    assert_int_equal(cfg_load_args(&table, 7, argv, err), 0);
    assert_int_equal(number, 7);
    assert_int_equal(custom_a, 5);
    assert_int_equal(custom_b, 6);
    assert_string_equal(name, "x");
    char *bad1[] = {"--number"};
    assert_int_equal(cfg_load_args(&table, 1, bad1, err), -1);
    char *bad2[] = {"--nope", "1"};
    assert_int_equal(cfg_load_args(&table, 2, bad2, err), -1);
    assert_non_null(strstr(err, "unknown option '--nope'"));
    char *bad3[] = {"number", "1"};
    assert_int_equal(cfg_load_args(&table, 2, bad3, err), -1);
}

/* Found by tests/fuzz (fuzz_config, regressions/config/args-truncated): several values of one
 * --option (or one config line) longer than a value may be together were cut to 1023 bytes and
 * taken, so a bind list or password silently became a prefix of itself. */
static void test_long_values_refused_not_truncated(void **state) {
    (void)state;
    char err[CFG_ERR_LEN];
    char a[600], b[600];
    memset(a, 'a', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memset(b, 'b', sizeof(b) - 1);
    b[sizeof(b) - 1] = '\0';
    char *argv[] = {"--name", "before"};
    assert_int_equal(cfg_load_args(&table, 2, argv, err), 0);
    char *longv[] = {"--name", a, b};
    assert_int_equal(cfg_load_args(&table, 3, longv, err), -1);
    assert_string_equal(err, "option '--name': argument is too long");
    assert_string_equal(name, "before");
    /* 1023 bytes in all still fit: 511 + space + 511. */
    a[511] = '\0';
    b[511] = '\0';
    assert_int_equal(cfg_load_args(&table, 3, longv, err), 0);
    assert_int_equal(strlen(name), 1023);

    /* The same through a config file line. */
    a[511] = 'a';
    b[511] = 'b';
    char text[1300];
    snprintf(text, sizeof(text), "name %s %s\n", a, b);
    assert_int_equal(cfg_load_text(&table, text, err), -1);
    assert_non_null(strstr(err, "at line 1:"));
    assert_non_null(strstr(err, "argument is too long"));
    assert_int_equal(strlen(name), 1023);
}

static void test_split_args(void **state) {
    (void)state;
    char **args;
    int n = cfg_split_args("set \"a b\" 'c\\'d' \"\\x41\\n\" \"\"", &args);
    assert_int_equal(n, 5);
    assert_string_equal(args[0], "set");
    assert_string_equal(args[1], "a b");
    assert_string_equal(args[2], "c'd");
    assert_string_equal(args[3], "A\n");
    assert_string_equal(args[4], "");
    cfg_free_args(args, n);
    assert_int_equal(cfg_split_args("\"a\"b", &args), -1);
    assert_int_equal(cfg_split_args("'a", &args), -1);
    assert_int_equal(cfg_split_args("   ", &args), 0);
    cfg_free_args(args, 0);
}

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_rewrite(void **state) {
    (void)state;
    char path[] = "/tmp/memkv-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *orig = "# keep me\nflag no\n  # indented comment\nflag yes\nnumber 10\n";
    assert_int_equal(write(fd, orig, strlen(orig)), (ssize_t)strlen(orig));
    close(fd);
    char err[CFG_ERR_LEN];
    assert_int_equal(cfg_set(&table, "flag", "yes", err), 0);
    assert_int_equal(cfg_set(&table, "number", "55", err), 0);
    assert_int_equal(cfg_set(&table, "name", "two words", err), 0);
    assert_int_equal(cfg_rewrite(&table, path, err), 0);
    const char *out = slurp(path);
    assert_string_equal(out, "# keep me\nflag yes\n  # indented comment\nnumber 55\n"
                             "name \"two words\"\n");
    /* What was written loads back to the same values. */
    assert_int_equal(cfg_set(&table, "name", "other", err), 0);
    assert_int_equal(cfg_load_file(&table, path, err), 0);
    assert_string_equal(name, "two words");
    assert_int_equal(number, 55);
    unlink(path);
    assert_int_equal(cfg_rewrite(&table, "/nonexistent-dir/x.conf", err), -1);
}

/* Found by tests/fuzz (fuzz_config, regressions/config/rewrite-formfeed): `pidfile "\f"`
 * was rewritten as `pidfile <FF>` unquoted, and the rewritten file no longer loaded (a form
 * feed or vertical tab separates arguments): CONFIG REWRITE wrote a config the server could
 * not start from. Every control byte is now quoted and escaped. */
static void test_rewrite_control_bytes(void **state) {
    (void)state;
    static const char *const values[] = {"\f",   "\v",         "a\fb",  "\x01\x7f",   "tab\there",
                                         "cr\r", "q\"uo'te\\", " lead", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char path[] = "/tmp/memkv-test-config-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        char err[CFG_ERR_LEN];
        assert_int_equal(cfg_set(&table, "name", values[i], err), 0);
        assert_int_equal(cfg_rewrite(&table, path, err), 0);
        assert_int_equal(cfg_set(&table, "name", "other", err), 0);
        if (cfg_load_file(&table, path, err) != 0) fail_msg("value %zu: %s", i, err);
        assert_string_equal(name, values[i]);
        unlink(path);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_types_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_immutable_and_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_many_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_values_refused_not_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_control_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
