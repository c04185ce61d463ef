/* memkv-exporter: flags, config file and auth entries (exporter/options.h). */
#include "options.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

static int load(exp_options *o, const char *text, char *err, size_t cap) {
    exp_options_default(o);
    return exp_options_load_text(o, text, strlen(text), err, cap);
}

static void test_defaults(void **state) {
    (void)state;
    exp_options o;
    exp_options_default(&o);
    assert_string_equal(o.listen_host, "127.0.0.1");
    assert_int_equal(o.listen_port, 9123);
    assert_true(o.timeout > 0);
    assert_int_equal(o.max_reply_bytes, 8u << 20);
    assert_true(o.malloc_stats_interval == 60.0);
    assert_int_equal(o.fresh_connection, 0);
    assert_int_equal(o.malloc_stats, 0);
    assert_int_equal(o.max_targets, 64);
}

static void test_parsers(void **state) {
    (void)state;
    double d;
    assert_int_equal(exp_parse_duration("5", &d), 0);
    assert_true(d == 5.0);
    assert_int_equal(exp_parse_duration("2.5s", &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(exp_parse_duration("250ms", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(exp_parse_duration("", &d), -1);
    assert_int_equal(exp_parse_duration("5m", &d), -1);
    assert_int_equal(exp_parse_duration("-1", &d), -1);
    assert_int_equal(exp_parse_duration("nan", &d), -1);
    assert_int_equal(exp_parse_duration("1e9", &d), -1);
    size_t z;
    assert_int_equal(exp_parse_size("8mb", &z), 0);
    assert_int_equal(z, 8u << 20);
    assert_int_equal(exp_parse_size("4096", &z), 0);
    assert_int_equal(z, 4096);
    assert_int_equal(exp_parse_size("lots", &z), -1);
    assert_int_equal(exp_parse_size("0", &z), -1);
    char host[64];
    int port;
    assert_int_equal(exp_parse_listen("0.0.0.0:9123", host, sizeof(host), &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 9123);
    assert_int_equal(exp_parse_listen("[::1]:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(exp_parse_listen(":80", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(exp_parse_listen("::1:80", host, sizeof(host), &port), -1);
    assert_int_equal(exp_parse_listen("h:70000", host, sizeof(host), &port), -1);
    assert_int_equal(exp_parse_listen("h", host, sizeof(host), &port), -1);
    assert_int_equal(exp_parse_listen("[::1]", host, sizeof(host), &port), -1);
}

static void test_config_text(void **state) {
    (void)state;
    exp_options o;
    char err[EXP_ERR_LEN] = "";
    const char *text = "# memkv-exporter\n"
                       "listen 0.0.0.0:9200\n"
                       "\n"
                       "target \"redis://db-1:6380\"\n"
                       "target-auth ops\n"
                       "timeout 3s\r\n"
                       "connect-timeout 500ms\n"
                       "max-reply-bytes 16mb\n"
                       "malloc-stats yes\n"
                       "malloc-stats-interval 120\n"
                       "fresh-connection no\n"
                       "max-targets 10\n"
                       "auth ops user exporter password-file /etc/memkv/ops.pass\n"
                       "  auth legacy password-env LEGACY_PASS   # the default user\n";
    /* A trailing comment after the entry is not Redis syntax: it would be an attribute. */
    assert_int_equal(load(&o, text, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 14"));
    const char *good = "listen 0.0.0.0:9200\n"
                       "target \"redis://db-1:6380\"\n"
                       "target-auth ops\n"
                       "timeout 3s\r\n"
                       "connect-timeout 500ms\n"
                       "max-reply-bytes 16mb\n"
                       "malloc-stats yes\n"
                       "malloc-stats-interval 120\n"
                       "fresh-connection no\n"
                       "max-targets 10\n"
                       "auth ops user exporter password-file /etc/memkv/ops.pass\n"
                       "auth legacy password-env LEGACY_PASS\n";
    assert_int_equal(load(&o, good, err, sizeof(err)), 0);
    assert_string_equal(o.listen_host, "0.0.0.0");
    assert_int_equal(o.listen_port, 9200);
    assert_string_equal(o.target, "redis://db-1:6380");
    assert_string_equal(o.target_auth, "ops");
    assert_true(o.timeout == 3.0);
    assert_true(o.connect_timeout == 0.5);
    assert_int_equal(o.max_reply_bytes, 16u << 20);
    assert_int_equal(o.malloc_stats, 1);
    assert_true(o.malloc_stats_interval == 120.0);
    assert_int_equal(o.max_targets, 10);
    assert_int_equal(o.nauths, 2);
    const exp_auth *a = exp_options_find_auth(&o, "ops");
    assert_non_null(a);
    assert_string_equal(a->user, "exporter");
    assert_string_equal(a->password_file, "/etc/memkv/ops.pass");
    a = exp_options_find_auth(&o, "legacy");
    assert_non_null(a);
    assert_string_equal(a->user, "");
    assert_string_equal(a->password_env, "LEGACY_PASS");
    assert_null(exp_options_find_auth(&o, "nope"));
    assert_int_equal(exp_options_check(&o, err, sizeof(err)), 0);
}

static void bad(const char *text, const char *why) {
    exp_options o;
    char err[EXP_ERR_LEN] = "";
    if (load(&o, text, err, sizeof(err)) == 0) fail_msg("accepted: %s", text);
    if (!strstr(err, why)) fail_msg("'%s': error '%s' lacks '%s'", text, err, why);
}

static void test_config_refuses(void **state) {
    (void)state;
    bad("timeout soon\n", "line 1: invalid timeout");
    bad("\nbogus 1\n", "line 2: unknown option 'bogus'");
    bad("listen 1.2.3.4\n", "invalid listen");
    bad("target a b\n", "exactly one value");
    bad("password hunter2\n", "never");
    bad("auth x user u password hunter2\n", "never written");
    bad("auth x user u\n", "exactly one");
    bad("auth x\n", "auth NAME");
    bad("auth x user u password-file\n", "needs a value");
    bad("auth x password-file /a password-env B\n", "exactly one");
    bad("auth x user a user b password-file /p\n", "repeated");
    bad("auth x colour red password-file /p\n", "unknown auth attribute");
    bad("auth bad/name password-file /p\n", "invalid auth name");
    bad("auth x password-file /p\nauth x password-env P\n", "defined twice");
    bad("target \"unbalanced\n", "unbalanced");
    bad("max-targets 0\n", "max-targets");
    bad("malloc-stats perhaps\n", "boolean");
    bad("config /etc/x\n", "command-line");
    exp_options o;
    char err[EXP_ERR_LEN];
    assert_int_equal(load(&o, "target-auth ghost\ntarget h\n", err, sizeof(err)), 0);
    assert_int_equal(exp_options_check(&o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ghost"));
    const char nul[] = "timeout 1\0\n";
    exp_options_default(&o);
    assert_int_equal(exp_options_load_text(&o, nul, sizeof(nul) - 1, err, sizeof(err)), -1);
}

static void test_args_and_file(void **state) {
    (void)state;
    char path[] = "/tmp/test_exporter_options_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *conf = "timeout 3\nmax-targets 5\nauth ops password-env TEST_EXPORTER_PASS\n";
    assert_int_equal(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
    close(fd);
    char *argv[] = {"memkv-exporter",
                    "--timeout=7",
                    "--config",
                    path,
                    "--fresh-connection",
                    "--target",
                    "h:1",
                    "--target-auth",
                    "ops",
                    "--malloc-stats",
                    NULL};
    exp_options o;
    exp_options_default(&o);
    char err[EXP_ERR_LEN] = "";
    assert_int_equal(exp_options_parse_args(&o, 10, argv, err, sizeof(err)), 0);
    assert_true(o.timeout == 7.0); /* the flag beats the file, wherever it stands */
    assert_int_equal(o.max_targets, 5);
    assert_int_equal(o.fresh_connection, 1);
    assert_int_equal(o.malloc_stats, 1);
    assert_int_equal(exp_options_check(&o, err, sizeof(err)), 0);

    char pw[64];
    const exp_auth *a = exp_options_find_auth(&o, "ops");
    unsetenv("TEST_EXPORTER_PASS");
    assert_int_equal(exp_auth_password(a, pw, sizeof(pw), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "TEST_EXPORTER_PASS"));
    setenv("TEST_EXPORTER_PASS", "s3cret", 1);
    assert_int_equal(exp_auth_password(a, pw, sizeof(pw), err, sizeof(err)), 0);
    assert_string_equal(pw, "s3cret");

    /* a password file: first line, CR/LF removed */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pa ss\r\nignored\n", 15), 15);
    close(fd);
    exp_auth f;
    memset(&f, 0, sizeof(f));
    snprintf(f.name, sizeof(f.name), "f");
    snprintf(f.password_file, sizeof(f.password_file), "%s", path);
    assert_int_equal(exp_auth_password(&f, pw, sizeof(pw), err, sizeof(err)), 0);
    assert_string_equal(pw, "pa ss");
    assert_int_equal(exp_auth_password(&f, pw, 3, err, sizeof(err)), -1);
    unlink(path);
    assert_int_equal(exp_auth_password(&f, pw, sizeof(pw), err, sizeof(err)), -1);

    char *bad1[] = {"x", "--timeout", NULL};
    exp_options_default(&o);
    assert_int_equal(exp_options_parse_args(&o, 2, bad1, err, sizeof(err)), -1);
    char *bad2[] = {"x", "positional", NULL};
    assert_int_equal(exp_options_parse_args(&o, 2, bad2, err, sizeof(err)), -1);
    char *bad3[] = {"x", "--config", "/nonexistent/memkv-exporter.conf", NULL};
    assert_int_equal(exp_options_parse_args(&o, 3, bad3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open"));
    char *bad4[] = {"x", "--password", "hunter2", NULL};
    assert_int_equal(exp_options_parse_args(&o, 3, bad4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "never"));
    char *help[] = {"x", "--help", "--bogus", NULL};
    exp_options_default(&o);
    assert_int_equal(exp_options_parse_args(&o, 3, help, err, sizeof(err)), 0);
    assert_int_equal(o.help, 1);
    assert_non_null(strstr(exp_options_usage(), "--max-reply-bytes"));
}

/* Where credentials and scrapes may go: "targets" of an auth entry, allow-targets, token-file. */
static void test_target_bounds(void **state) {
    (void)state;
    exp_options o;
    char err[EXP_ERR_LEN] = "";
    exp_options_default(&o);
    assert_string_equal(o.allow_targets, "");
    assert_string_equal(o.token_file, "");
    const char *text = "auth ops user m password-env P targets 10.0.0.*:6379,unix:///run/r.sock\n"
                       "auth any password-env Q\n"
                       "allow-targets 10.0.*,redis-?:6379\n"
                       "token-file /etc/memkv-exporter/token\n";
    assert_int_equal(exp_options_load_text(&o, text, strlen(text), err, sizeof(err)), 0);
    const exp_auth *ops = exp_options_find_auth(&o, "ops");
    assert_non_null(ops);
    assert_string_equal(ops->targets, "10.0.0.*:6379,unix:///run/r.sock");
    assert_string_equal(exp_options_find_auth(&o, "any")->targets, "");
    assert_string_equal(o.allow_targets, "10.0.*,redis-?:6379");
    assert_string_equal(o.token_file, "/etc/memkv-exporter/token");

    assert_true(exp_targets_match(ops->targets, "10.0.0.7:6379"));
    assert_true(exp_targets_match(ops->targets, "unix:///run/r.sock"));
    assert_false(exp_targets_match(ops->targets, "10.0.0.7:6380"));
    assert_false(exp_targets_match(ops->targets, "evil:6379"));
    assert_true(exp_targets_match("", "anything:1"));
    assert_true(exp_targets_match(o.allow_targets, "REDIS-1:6379")); /* host names: any case */
    assert_false(exp_targets_match(o.allow_targets, "redis-10:6379"));
    assert_false(exp_targets_match(",", "a:1"));
    assert_true(exp_targets_match(",a:1", "a:1"));

    exp_options_default(&o);
    const char *twice = "auth x password-env P targets a targets b\n";
    assert_int_equal(exp_options_load_text(&o, twice, strlen(twice), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "targets"));
    exp_options_default(&o);
    assert_int_equal(exp_options_set(&o, "token-file", "", err, sizeof(err)), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_config_text),   cmocka_unit_test(test_config_refuses),
        cmocka_unit_test(test_args_and_file), cmocka_unit_test(test_target_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
