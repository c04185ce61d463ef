/* Unit tests of proxy_stats_parse and render_proxy (exporter/proxy.c, render_proxy.c): the
 * recorded stats JSON of Debian's nutcracker 0.5.0 (two pools, three servers, figures read off
 * by hand), unknown keys of every type, strings with escapes, JSON that is not valid (each
 * refused, the struct left zeroed), depth bombs, too many pools and servers, names twice,
 * truncation at every length, and the rendered memkv_proxy_* families (promtool-clean). */
#include "parse.h"
#include "render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "promtool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter_data.h"

static int parse_str(const char *s, proxy_stats *p, char *err, size_t errcap) {
    return proxy_stats_parse(s, strlen(s), p, err, errcap);
}

static const proxy_server *server_of(const proxy_stats *p, const char *pool, const char *name) {
    for (size_t i = 0; i < p->nservers; i++)
        if (strcmp(p->servers[i].pool, pool) == 0 && strcmp(p->servers[i].name, name) == 0)
            return &p->servers[i];
    return NULL;
}

static int is_zeroed(const proxy_stats *p) {
    proxy_stats z;
    memset(&z, 0, sizeof(z));
    return memcmp(p, &z, sizeof(z)) == 0;
}

static void test_recording(void **state) {
    (void)state;
    size_t len;
    char *json = read_data("nutcracker_0.5.0.json", &len);
    proxy_stats p;
    char err[128];
    assert_int_equal(proxy_stats_parse(json, len, &p, err, sizeof(err)), 0);
    assert_string_equal(p.service, "nutcracker");
    assert_string_equal(p.version, "0.5.0");
    assert_string_equal(p.source, "vm");
    assert_true(p.uptime == 4);
    assert_true(p.timestamp == 1796586335);
    assert_true(p.total_connections == 7);
    assert_true(p.curr_connections == 6);
    assert_int_equal(p.npools, 2);
    assert_string_equal(p.pools[0].name, "beta");
    assert_string_equal(p.pools[1].name, "alpha");
    assert_true(p.pools[0].client_err == 1);
    assert_true(p.pools[0].client_connections == 0);
    assert_true(p.pools[1].client_connections == 1);
    assert_true(p.pools[1].fragments == 0);
    assert_int_equal(p.nservers, 3);
    const proxy_server *s = server_of(&p, "beta", "127.0.0.1:56099");
    assert_non_null(s);
    assert_true(s->requests == 3000);
    assert_true(s->request_bytes == 178335);
    assert_true(s->response_bytes == 106500);
    s = server_of(&p, "alpha", "memkv1");
    assert_non_null(s);
    assert_true(s->requests == 2870);
    assert_true(s->server_connections == 1);
    assert_true(s->server_ejected_at == 0);
    s = server_of(&p, "alpha", "redis1");
    assert_non_null(s);
    assert_true(s->responses == 3130);
    assert_true(s->out_queue_bytes == 0);
    proxy_stats_free(&p);
    assert_true(is_zeroed(&p));
    proxy_stats_free(&p); /* on a zeroed struct: a no-op */
    free(json);
}

static void test_unknown_keys_and_strings(void **state) {
    (void)state;
    proxy_stats p;
    char err[128];
    const char *j =
        " {\"service\":\"nut\\\"cracker\\u00e9\\ud83d\\ude00\\n\", \"extra\":[1,2,{\"a\":"
        "[true,false,null]}], \"uptime\":\"soon\", \"curr_connections\":-0.5e1,"
        "\"p\\u00f6ol\": {\"client_eof\":1.5, \"future\":{}, \"s1\":{\"requests\":1e3,"
        "\"x\":\"y\", \"deep\":{\"k\":[[]]}}, \"client_err\":null}, \"n\":null} \r\n";
    assert_int_equal(parse_str(j, &p, err, sizeof(err)), 0);
    assert_string_equal(p.service, "nut\"cracker\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_true(p.uptime == -1); /* not a number: absent */
    assert_true(p.curr_connections == -5);
    assert_true(p.timestamp == -1);
    /* one pool ("n" is not an object); every object inside a pool is a server, "future" too */
    assert_int_equal(p.npools, 1);
    assert_string_equal(p.pools[0].name, "p\xc3\xb6ol");
    assert_true(p.pools[0].client_eof == 1.5);
    assert_true(p.pools[0].client_err == -1);
    assert_int_equal(p.nservers, 2);
    assert_string_equal(p.servers[0].name, "future");
    assert_string_equal(p.servers[1].name, "s1");
    assert_true(p.servers[1].requests == 1000);
    proxy_stats_free(&p);

    /* a lone surrogate and U+0000 become U+FFFD; a name cut at a character boundary */
    char big[512];
    snprintf(big, sizeof(big), "{\"service\":\"a\\ud800b\\u0000\",\"%s\\u00e9\":{\"s\":{}}}",
             "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"); /* 63 p */
    assert_int_equal(parse_str(big, &p, err, sizeof(err)), 0);
    assert_string_equal(p.service, "a\xef\xbf\xbd"
                                   "b\xef\xbf\xbd");
    assert_int_equal(strlen(p.pools[0].name), 63);
    assert_int_equal(p.nservers, 1);
    assert_true(p.servers[0].requests == -1);
    proxy_stats_free(&p);
}

static void test_bad_json(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "[]",
        "\"nutcracker\"",
        "{}",
        "{\"a\":1}",
        "{\"service\":\"x\"",
        "{\"service\":\"x\",}",
        "{\"service\" \"x\"}",
        "{\"service\":\"x\"} {}",
        "{\"service\":\"x\"}x",
        "{service:\"x\"}",
        "{\"service\":'x'}",
        "{\"service\":\"x\\q\"}",
        "{\"service\":\"x\\u12\"}",
        "{\"service\":\"tab\there\"}",
        "{\"uptime\":01}",
        "{\"uptime\":1.}",
        "{\"uptime\":.5}",
        "{\"uptime\":+1}",
        "{\"uptime\":1e}",
        "{\"uptime\":-}",
        "{\"uptime\":NaN}",
        "{\"uptime\":tru}",
        "{\"uptime\":[1,]}",
        "{\"uptime\":[1 2]}",
        "{\"p\":{\"s\":{\"requests\":1,}}}",
        "{\"p\":{\"s\":{\"requests\":1}}",
        "\xef\xbb\xbf{\"uptime\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        proxy_stats p;
        char err[128];
        memset(&p, 0x55, sizeof(p));
        int rc = parse_str(bad[i], &p, err, sizeof(err));
        if (rc != -1) fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
        assert_true(is_zeroed(&p));
    }
    proxy_stats p;
    assert_int_equal(proxy_stats_parse(NULL, 5, &p, NULL, 0), -1);
    assert_int_equal(proxy_stats_parse("{}", 2, NULL, NULL, 0), -1);
    /* embedded NUL */
    static const char nul[] = "{\"uptime\":1}\0";
    assert_int_equal(proxy_stats_parse(nul, sizeof(nul), &p, NULL, 0), -1);
    assert_int_equal(proxy_stats_parse(nul, sizeof(nul) - 2, &p, NULL, 0), 0);
    proxy_stats_free(&p);
}

static void test_depth_bomb(void **state) {
    (void)state;
    size_t n = 1 << 20;
    char *j = malloc(6 * n + 64);
    size_t len = (size_t)sprintf(j, "{\"uptime\":1,\"x\":");
    for (size_t i = 0; i < n; i++)
        j[len++] = '[';
    for (size_t i = 0; i < n; i++)
        j[len++] = ']';
    j[len++] = '}';
    proxy_stats p;
    char err[128];
    assert_int_equal(proxy_stats_parse(j, len, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too deep"));
    /* objects as deep: pool, server, then skipped */
    len = (size_t)sprintf(j, "{\"uptime\":1,");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(j + len, "\"a\":{");
    assert_int_equal(proxy_stats_parse(j, len, &p, err, sizeof(err)), -1);
    assert_true(is_zeroed(&p));
    /* 31 levels are fine */
    len = (size_t)sprintf(j, "{\"uptime\":1,\"x\":");
    for (size_t i = 0; i < 30; i++)
        j[len++] = '[';
    for (size_t i = 0; i < 30; i++)
        j[len++] = ']';
    j[len++] = '}';
    assert_int_equal(proxy_stats_parse(j, len, &p, err, sizeof(err)), 0);
    proxy_stats_free(&p);
    free(j);
}

static void test_limits(void **state) {
    (void)state;
    size_t cap = 1 << 20;
    char *j = malloc(cap);
    proxy_stats p;
    char err[128];
    /* 4096 servers fit, 4097 do not */
    for (int extra = 0; extra <= 1; extra++) {
        size_t len = (size_t)sprintf(j, "{\"service\":\"nutcracker\"");
        for (int pool = 0; pool < 4; pool++) {
            len += (size_t)sprintf(j + len, ",\"pool%d\":{\"client_eof\":%d", pool, pool);
            int count = 1024 + (pool == 3 ? extra : 0);
            for (int s = 0; s < count; s++)
                len += (size_t)sprintf(j + len, ",\"s%d\":{\"requests\":%d}", s, s);
            j[len++] = '}';
        }
        j[len++] = '}';
        int rc = proxy_stats_parse(j, len, &p, err, sizeof(err));
        if (!extra) {
            assert_int_equal(rc, 0);
            assert_int_equal(p.nservers, 4096);
            assert_int_equal(p.npools, 4);
            assert_true(p.servers[4095].requests == 1023);
            assert_string_equal(p.servers[4095].pool, "pool3");
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "too many servers"));
        }
        proxy_stats_free(&p);
    }
    /* 257 pools */
    size_t len = (size_t)sprintf(j, "{");
    for (int pool = 0; pool < 257; pool++)
        len += (size_t)sprintf(j + len, "%s\"p%d\":{}", pool ? "," : "", pool);
    j[len++] = '}';
    assert_int_equal(proxy_stats_parse(j, len, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too many pools"));
    /* names twice: the first kept (pool with its servers), keys twice: the last value */
    const char *t =
        "{\"uptime\":1,\"uptime\":2,\"a\":{\"s\":{\"requests\":1},\"s\":{\"requests\":2}},"
        "\"a\":{\"t\":{}},\"b\":{\"s\":{}}}";
    assert_int_equal(parse_str(t, &p, err, sizeof(err)), 0);
    assert_true(p.uptime == 2);
    assert_int_equal(p.npools, 2);
    assert_int_equal(p.nservers, 2);
    assert_string_equal(p.servers[0].pool, "a");
    assert_true(p.servers[0].requests == 1);
    assert_string_equal(p.servers[1].pool, "b");
    proxy_stats_free(&p);
    /* a number too long for the buffer, and a long one that fits */
    len = (size_t)sprintf(j, "{\"uptime\":1");
    memset(j + len, '0', 600);
    len += 600;
    j[len++] = '}';
    assert_int_equal(proxy_stats_parse(j, len, &p, err, sizeof(err)), -1);
    len = (size_t)sprintf(j, "{\"uptime\":0.");
    memset(j + len, '5', 300);
    len += 300;
    j[len++] = '}';
    assert_int_equal(proxy_stats_parse(j, len, &p, err, sizeof(err)), 0);
    assert_true(p.uptime > 0.55 && p.uptime < 0.56);
    proxy_stats_free(&p);
    free(j);
}

static void test_truncated(void **state) {
    (void)state;
    size_t len;
    char *json = read_data("nutcracker_0.5.0.json", &len);
    while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == ' '))
        len--;
    for (size_t cut = 0; cut < len; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, json, cut);
        proxy_stats s;
        assert_int_equal(proxy_stats_parse(p, cut, &s, NULL, 0), -1);
        assert_true(is_zeroed(&s));
        free(p);
    }
    free(json);
}

static void test_render(void **state) {
    (void)state;
    size_t len;
    char *json = read_data("nutcracker_0.5.0.json", &len);
    proxy_stats p;
    assert_int_equal(proxy_stats_parse(json, len, &p, NULL, 0), 0);
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    assert_int_equal(render_proxy(&w, &p), 0);
    const char *b = metrics_writer_data(&w, NULL);
    assert_non_null(strstr(
        b, "\nmemkv_proxy_info{service=\"nutcracker\",version=\"0.5.0\",source=\"vm\"} 1\n"));
    assert_non_null(strstr(b, "\nmemkv_proxy_uptime_seconds 4\n"));
    assert_non_null(strstr(b, "\nmemkv_proxy_connections 6\n"));
    assert_non_null(strstr(b, "\nmemkv_proxy_connections_received_total 7\n"));
    assert_non_null(strstr(b, "\nmemkv_proxy_client_connections{pool=\"alpha\"} 1\n"));
    assert_non_null(strstr(b, "\nmemkv_proxy_client_errors_total{pool=\"beta\"} 1\n"));
    assert_non_null(
        strstr(b, "\nmemkv_proxy_server_requests_total{pool=\"alpha\",server=\"memkv1\"} 2870\n"));
    assert_non_null(strstr(b, "\nmemkv_proxy_server_request_bytes_total{pool=\"beta\",server="
                              "\"127.0.0.1:56099\"} 178335\n"));
    assert_non_null(
        strstr(b, "\nmemkv_proxy_server_out_queue_requests{pool=\"alpha\",server=\"redis1\"} 0\n"));
    assert_non_null(
        strstr(b, "\nmemkv_proxy_server_ejected_at_seconds{pool=\"alpha\",server=\"redis1\"} 0\n"));
    char out[4096];
    assert_int_equal(promtool_check_metrics(b, out, sizeof(out)), 0);
    assert_int_equal(metrics_writer_errors(&w), 0);

    metrics_writer_reset(&w, METRICS_OPENMETRICS_1);
    assert_int_equal(render_proxy(&w, &p), 0);
    metrics_writer_finish(&w);
    b = metrics_writer_data(&w, NULL);
    assert_non_null(strstr(b, "# TYPE memkv_proxy_server_requests counter\n"));
    assert_non_null(strstr(b, "# UNIT memkv_proxy_server_response_bytes bytes\n"));
    proxy_stats_free(&p);

    /* absent figures are left out; an ejection time in seconds */
    const char *t =
        "{\"service\":\"nutcracker\",\"p\":{\"s\":{\"server_ejected_at\":1796586335500000,"
        "\"requests\":5}}}";
    assert_int_equal(parse_str(t, &p, NULL, 0), 0);
    metrics_writer_reset(&w, METRICS_TEXT_004);
    assert_int_equal(render_proxy(&w, &p), 0);
    b = metrics_writer_data(&w, NULL);
    assert_null(strstr(b, "memkv_proxy_uptime_seconds"));
    assert_null(strstr(b, "memkv_proxy_client_connections"));
    assert_null(strstr(b, "memkv_proxy_server_responses"));
    assert_non_null(strstr(
        b, "\nmemkv_proxy_server_ejected_at_seconds{pool=\"p\",server=\"s\"} 1796586335.5\n"));
    assert_non_null(
        strstr(b, "memkv_proxy_info{service=\"nutcracker\",version=\"\",source=\"\"} 1"));
    proxy_stats_free(&p);
    assert_int_equal(render_proxy(NULL, &p), METRICS_ERR_ARG);
    assert_int_equal(render_proxy(&w, NULL), METRICS_ERR_ARG);
    metrics_writer_deinit(&w);
    free(json);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recording), cmocka_unit_test(test_unknown_keys_and_strings),
        cmocka_unit_test(test_bad_json),  cmocka_unit_test(test_depth_bomb),
        cmocka_unit_test(test_limits),    cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
