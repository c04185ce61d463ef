/* memkv-exporter: target addresses and the kept-connection table (exporter/target.h). */
#include "target.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static void parse_ok(const char *text, int is_unix, int is_proxy, const char *host, int port,
                     const char *canonical) {
    target_addr a;
    char err[200] = "";
    int rc = target_parse(text, &a, err, sizeof(err));
    if (rc != 0) fail_msg("'%s' refused: %s", text, err);
    assert_int_equal(a.is_unix, is_unix);
    assert_int_equal(a.is_proxy, is_proxy);
    if (!is_unix) {
        assert_string_equal(a.host, host);
        assert_int_equal(a.port, port);
    } else {
        assert_string_equal(a.path, host);
    }
    assert_string_equal(a.canonical, canonical);
}

static void parse_bad(const char *text, const char *why) {
    target_addr a;
    char err[200] = "";
    if (target_parse(text, &a, err, sizeof(err)) == 0) fail_msg("'%s' accepted", text);
    if (why && !strstr(err, why)) fail_msg("'%s': error '%s' lacks '%s'", text, err, why);
}

static void test_parse_accepts(void **state) {
    (void)state;
    parse_ok("localhost:6380", 0, 0, "localhost", 6380, "localhost:6380");
    parse_ok("localhost", 0, 0, "localhost", 6379, "localhost:6379");
    parse_ok("10.0.0.1:7000", 0, 0, "10.0.0.1", 7000, "10.0.0.1:7000");
    parse_ok("redis://cache-1.example.org:6390", 0, 0, "cache-1.example.org", 6390,
             "cache-1.example.org:6390");
    parse_ok("REDIS://h:1/", 0, 0, "h", 1, "h:1");
    parse_ok("redis://h:65535/3", 0, 0, "h", 65535, "h:65535");
    parse_ok("valkey://h", 0, 0, "h", 6379, "h:6379");
    parse_ok("[::1]:6379", 0, 0, "::1", 6379, "[::1]:6379");
    parse_ok("redis://[fe80::1]", 0, 0, "fe80::1", 6379, "[fe80::1]:6379");
    parse_ok("unix:///run/redis/redis.sock", 1, 0, "/run/redis/redis.sock", 0,
             "unix:///run/redis/redis.sock");
    parse_ok("proxy://tw:22222", 0, 1, "tw", 22222, "proxy://tw:22222");
    parse_ok("twemproxy://tw", 0, 1, "tw", 22222, "proxy://tw:22222");
}

static void test_parse_refuses(void **state) {
    (void)state;
    parse_bad("rediss://h:6379", "TLS");
    parse_bad("valkeys://h:6379", "TLS");
    parse_bad("tls://h", "TLS");
    parse_bad("https://h", "TLS");
    parse_bad("redis://user:secret@h:6379", "credentials");
    parse_bad("redis://:secret@h", "credentials");
    parse_bad("user@h", "credentials");
    parse_bad("unix://user@/x.sock", "credentials");
    parse_bad("", "empty");
    parse_bad("h:0", "port");
    parse_bad("h:65536", "port");
    parse_bad("h:12x", "port");
    parse_bad("h:", "port");
    parse_bad("::1", "brackets");
    parse_bad("[::1", "unbalanced");
    parse_bad("[::1]x", "garbage");
    parse_bad("[]:1", "empty");
    parse_bad("[zz::1]:1", "IPv6");
    parse_bad("h?password=x", "query");
    parse_bad("h#x", "fragment");
    parse_bad("h/db", "path");
    parse_bad("ftp://h", "scheme");
    parse_bad("unix://relative.sock", "absolute");
    parse_bad("h st:1", "character");
    parse_bad("h\n:1", "control");
    parse_bad(":6379", "host");
    char long_path[300];
    memset(long_path, 'a', sizeof(long_path));
    memcpy(long_path, "unix:///", 8);
    long_path[200] = '\0';
    parse_bad(long_path, "too long");
    char long_host[600];
    memset(long_host, 'a', sizeof(long_host));
    long_host[599] = '\0';
    parse_bad(long_host, "too long");
    assert_int_equal(target_parse(NULL, NULL, NULL, 0), -1);
}

static int a_socket(void) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    return sv[0];
}

static void test_table_keeps_and_bounds(void **state) {
    (void)state;
    target_table *t = target_table_new(2);
    target_memory mem;
    assert_int_equal(target_conn_take(t, "a:1", NULL, &mem), -1);
    assert_int_equal(mem.kind, SERVER_UNKNOWN);
    int fa = a_socket();
    mem.kind = SERVER_REDIS;
    target_conn_put(t, "a:1", NULL, fa, &mem);
    assert_int_equal(target_table_kept(t), 1);
    /* a different auth name is a different slot */
    assert_int_equal(target_conn_take(t, "a:1", "ops", &mem), -1);
    int got = target_conn_take(t, "a:1", NULL, &mem);
    assert_int_equal(got, fa);
    assert_int_equal(mem.kind, SERVER_REDIS);
    assert_int_equal(target_table_kept(t), 0);
    /* two checked in for one slot: the second is closed */
    int fb = a_socket();
    target_conn_put(t, "a:1", NULL, got, &mem);
    target_conn_put(t, "a:1", NULL, fb, &mem);
    assert_int_equal(target_table_kept(t), 1);
    assert_int_equal(fcntl(fb, F_GETFD), -1); /* the spare was closed */
    assert_int_equal(target_table_entries(t), 1);
    /* bounded: a third target evicts the least recently used one (and closes its socket) */
    int fc = a_socket();
    target_conn_put(t, "b:1", NULL, fc, &mem);
    assert_int_equal(target_table_entries(t), 2);
    int fd_a = target_conn_take(t, "a:1", NULL, NULL); /* a is now the most recent */
    assert_true(fd_a >= 0);
    target_conn_put(t, "a:1", NULL, fd_a, NULL);
    int fd = a_socket();
    target_conn_put(t, "c:1", NULL, fd, NULL);
    assert_int_equal(target_table_entries(t), 2);
    assert_int_equal(fcntl(fc, F_GETFD), -1); /* b was evicted */
    assert_int_equal(target_conn_take(t, "b:1", NULL, NULL), -1);
    assert_int_equal(target_table_kept(t), 2);
    /* fd -1 only remembers */
    mem.kind = SERVER_VALKEY;
    target_conn_put(t, "c:1", NULL, -1, &mem);
    int fc2 = target_conn_take(t, "c:1", NULL, &mem);
    assert_int_equal(fc2, fd);
    assert_int_equal(mem.kind, SERVER_VALKEY);
    close(fc2);
    target_table_free(t); /* closes a's socket */
    target_table_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_table_keeps_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
