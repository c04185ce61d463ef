/* Unit tests of the exporter's INFO and MEMORY STATS side (exporter/info.c, memstats.c,
 * render.c): kind detection on six kinds (recorded Redis 7.0.15 and memkv INFO ALL, synthetic
 * Valkey, KeyDB, Kvrocks and Dragonfly texts, see data/exporter/README.md), every mapped family
 * equal to its INFO field and absent when the field is, the cf and type labels, the generic
 * family carrying what is not mapped and never what is, garbage and empty INFO, the field cap,
 * MEMORY STATS in its RESP2 and RESP3 shapes, and Debian's promtool on every rendered body.
 *
 * The data files come from tests/unit/data/exporter/ (exporter_data.h). */
#include "render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* The promtool helper of the metrics tests, compiled in here (the CMake line of a unit test
 * names one source). */
#include "promtool.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- data ---- */

#include "exporter_data.h"

/* One reply from a file of RESP bytes, through hiredis' reader. */
static redisReply *read_resp(const char *name) {
    size_t len;
    char *buf = read_data(name, &len);
    redisReader *rd = redisReaderCreate();
    assert_int_equal(redisReaderFeed(rd, buf, len), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(rd);
    free(buf);
    return reply;
}

typedef struct sample_doc {
    info_doc info;
    server_kind kind;
    const char *version;
    char *body;
} sample_doc;

/* Parse an INFO file, render it (with ms, may be NULL) as text 0.0.4 with no writer error. */
static void render_text(sample_doc *s, const char *text, size_t len, const memstats *ms) {
    memset(s, 0, sizeof(*s));
    assert_int_equal(info_parse(&s->info, text, len), 0);
    s->kind = info_detect_kind(&s->info, &s->version);
    scrape_result r;
    memset(&r, 0, sizeof(r));
    r.up = 1;
    r.kind = s->kind;
    r.version = s->version;
    r.info = &s->info;
    r.memstats = ms;
    metrics_writer w;
    metrics_writer_init(&w, METRICS_TEXT_004);
    int rc = render_info(&w, &r);
    if (rc != 0) fail_msg("render_info: %d %s", rc, metrics_writer_error(&w));
    assert_int_equal(metrics_writer_errors(&w), 0);
    metrics_writer_finish(&w);
    size_t n;
    s->body = metrics_writer_take(&w, &n);
    metrics_writer_deinit(&w);
}

static void load(sample_doc *s, const char *file, const memstats *ms) {
    size_t len;
    char *text = read_data(file, &len);
    render_text(s, text, len, ms);
    free(text);
}

static void unload(sample_doc *s) {
    info_free(&s->info);
    metrics_buffer_free(s->body);
    memset(s, 0, sizeof(*s));
}

/* The value of the sample line "<series> <value>" (series with its labels as written). */
static int find_value(const char *body, const char *series, double *out) {
    size_t n = strlen(series);
    for (const char *p = body; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            *out = strtod(p + n + 1, NULL);
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

static double value_of(const char *body, const char *series) {
    double v = 0; /* fail_msg does not return; gcc -O3 cannot tell */
    if (find_value(body, series, &v) != 0) fail_msg("no sample %s in:\n%s", series, body);
    return v;
}

/* ---- the mapping, checked against the INFO values ---- */

static const struct {
    const char *key, *series;
} mapping[] = {
    {"used_memory", "memkv_memory_used_bytes"},
    {"used_memory_rss", "memkv_memory_rss_bytes"},
    {"used_memory_peak", "memkv_memory_peak_bytes"},
    {"used_memory_peak_rss", "memkv_memory_rss_peak_bytes"},
    {"used_memory_startup", "memkv_memory_startup_bytes"},
    {"used_memory_dataset", "memkv_memory_dataset_bytes"},
    {"used_memory_overhead", "memkv_memory_overhead_bytes"},
    {"used_memory_lua", "memkv_memory_lua_bytes"},
    {"used_memory_scripts_eval", "memkv_memory_scripts_eval_bytes"},
    {"number_of_cached_scripts", "memkv_scripts_cached"},
    {"evicted_scripts", "memkv_scripts_evicted_total"},
    {"maxmemory", "memkv_memory_max_bytes"},
    {"memkv_rss_baseline", "memkv_memory_rss_baseline_bytes"},
    {"allocator_allocated", "memkv_allocator_allocated_bytes"},
    {"allocator_active", "memkv_allocator_active_bytes"},
    {"allocator_resident", "memkv_allocator_resident_bytes"},
    {"allocator_muzzy", "memkv_allocator_muzzy_bytes"},
    {"memkv_allocator_retained", "memkv_allocator_retained_bytes"},
    {"memkv_allocator_mapped", "memkv_allocator_mapped_bytes"},
    {"memkv_allocator_metadata", "memkv_allocator_metadata_bytes"},
    {"allocator_frag_ratio", "memkv_allocator_fragmentation_ratio"},
    {"allocator_frag_bytes", "memkv_allocator_fragmentation_bytes"},
    {"allocator_rss_ratio", "memkv_allocator_rss_ratio"},
    {"allocator_rss_bytes", "memkv_allocator_rss_bytes"},
    {"rss_overhead_ratio", "memkv_rss_overhead_ratio"},
    {"rss_overhead_bytes", "memkv_rss_overhead_bytes"},
    {"mem_fragmentation_ratio", "memkv_memory_fragmentation_ratio"},
    {"mem_fragmentation_bytes", "memkv_memory_fragmentation_bytes"},
    {"mem_not_counted_for_evict", "memkv_memory_not_counted_for_eviction_bytes"},
    {"mem_replication_backlog", "memkv_memory_replication_backlog_bytes"},
    {"mem_total_replication_buffers", "memkv_memory_replication_buffers_bytes"},
    {"mem_clients_slaves", "memkv_memory_clients_replicas_bytes"},
    {"mem_clients_normal", "memkv_memory_clients_normal_bytes"},
    {"mem_cluster_links", "memkv_memory_cluster_links_bytes"},
    {"mem_aof_buffer", "memkv_memory_aof_buffer_bytes"},
    {"connected_clients", "memkv_connected_clients"},
    {"maxclients", "memkv_max_clients"},
    {"blocked_clients", "memkv_blocked_clients"},
    {"total_commands_processed", "memkv_commands_processed_total"},
    {"total_connections_received", "memkv_connections_received_total"},
    {"rejected_connections", "memkv_rejected_connections_total"},
    {"expired_keys", "memkv_expired_keys_total"},
    {"evicted_keys", "memkv_evicted_keys_total"},
    {"keyspace_hits", "memkv_keyspace_hits_total"},
    {"keyspace_misses", "memkv_keyspace_misses_total"},
    {"total_error_replies", "memkv_error_replies_total"},
    {"total_net_input_bytes", "memkv_net_input_bytes_total"},
    {"total_net_output_bytes", "memkv_net_output_bytes_total"},
    {"client_query_buffer_limit_disconnections",
     "memkv_client_buffer_limit_disconnections_total{buffer=\"query\"}"},
    {"client_output_buffer_limit_disconnections",
     "memkv_client_buffer_limit_disconnections_total{buffer=\"output\"}"},
};

/* Every mapped family equals its field, exists only when the field does, and the field is not
 * repeated in memkv_info_value. Returns how many were mapped. */
static size_t check_mapping(const sample_doc *s) {
    size_t mapped = 0;
    for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++) {
        double want, got;
        int have = info_get_number(&s->info, mapping[i].key, &want) == 0;
        int found = find_value(s->body, mapping[i].series, &got) == 0;
        if (have != found)
            fail_msg("%s: INFO %s %s but %s %s", server_kind_name(s->kind), mapping[i].key,
                     have ? "present" : "absent", mapping[i].series, found ? "present" : "absent");
        if (have) {
            if (got != want)
                fail_msg("%s: %s %g != %g", mapping[i].key, mapping[i].series, got, want);
            mapped++;
        }
        char gen[128];
        snprintf(gen, sizeof(gen), "field=\"%s\"", mapping[i].key);
        if (strstr(s->body, gen)) fail_msg("%s also in memkv_info_value", mapping[i].key);
    }
    return mapped;
}

static void check_promtool(const char *body) {
    char out[8192];
    int rc = promtool_check_metrics(body, out, sizeof(out));
    if (rc != 0 || out[0]) fail_msg("promtool exit %d:\n%s\non:\n%s", rc, out, body);
}

/* ---- tests ---- */

static void test_detect_kinds(void **state) {
    (void)state;
    static const struct {
        const char *file;
        server_kind kind;
        const char *version;
    } cases[] = {
        {"redis-7.0.15-info.txt", SERVER_REDIS, "7.0.15"},
        {"memkv-info.txt", SERVER_MEMKV, "0.1.0"},
        {"valkey-8.0.0-info.synthetic.txt", SERVER_VALKEY, "8.0.0"},
        {"keydb-6.3.4-info.synthetic.txt", SERVER_KEYDB, "6.3.4"},
        {"kvrocks-2.10.1-info.synthetic.txt", SERVER_KVROCKS, "2.10.1"},
        {"dragonfly-1.25.0-info.synthetic.txt", SERVER_DRAGONFLY, "df-v1.25.0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sample_doc s;
        load(&s, cases[i].file, NULL);
        if (s.kind != cases[i].kind)
            fail_msg("%s: kind %s", cases[i].file, server_kind_name(s.kind));
        assert_string_equal(s.version, cases[i].version);
        char series[256];
        snprintf(series, sizeof(series), "memkv_server_info{kind=\"%s\",version=\"%s\"",
                 server_kind_name(cases[i].kind), cases[i].version);
        if (!strstr(s.body, series)) fail_msg("%s: no %s", cases[i].file, series);
        unload(&s);
    }

    /* server_name alone says Valkey (version from redis_version); a KeyDB section alone, KeyDB;
     * nothing known, unknown */
    static const struct {
        const char *text;
        server_kind kind;
        const char *version;
    } small[] = {
        {"# Server\nredis_version:7.2.4\nserver_name: Valkey \n", SERVER_VALKEY, "7.2.4"},
        {"redis_version:6.3.4\n# KeyDB\nx:1\n", SERVER_KEYDB, "6.3.4"},
        {"redis_version:6.3.4\nstorage_provider:none\n", SERVER_KEYDB, "6.3.4"},
        {"redis_version:7.4.0\nmemkv_version:1\ndragonfly_version:x\n", SERVER_MEMKV, "1"},
        {"redis_version:7.4.0\nkvrocks_version:2\ndragonfly_version:x\n", SERVER_DRAGONFLY, "x"},
        {"redis_version:4.0.0\nvalkey_version:8\nkvrocks_version:2\n", SERVER_KVROCKS, "2"},
        {"foo:bar\n", SERVER_UNKNOWN, ""},
    };
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        info_doc d;
        assert_int_equal(info_parse(&d, small[i].text, strlen(small[i].text)), 0);
        const char *v = NULL;
        assert_int_equal(info_detect_kind(&d, &v), small[i].kind);
        assert_string_equal(v, small[i].version);
        info_free(&d);
    }
    assert_string_equal(server_kind_name(SERVER_PROXY), "twemproxy");
    assert_string_equal(server_kind_name((server_kind)99), "unknown");
}

static void test_parse_shape(void **state) {
    (void)state;
    const char text[] = "lead:1\r\n# Memory Stuff \r\nused_memory:12  \r\nno colon here\r\n"
                        ":empty key\r\nk:v:w\r\n\r\n#Keyspace\ndb0:keys=1,expires=0\n";
    info_doc d;
    assert_int_equal(info_parse(&d, text, sizeof(text) - 1), 0);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.fields[0].section, "");
    assert_string_equal(d.fields[1].section, "memory stuff");
    assert_string_equal(d.fields[1].value, "12");
    assert_string_equal(info_get(&d, "k"), "v:w");
    assert_string_equal(d.fields[3].section, "keyspace");
    double v;
    assert_int_equal(info_get_number(&d, "used_memory", &v), 0);
    assert_true(v == 12);
    assert_int_equal(info_get_number(&d, "k", &v), -1);
    assert_int_equal(info_get_number(&d, "absent", &v), -1);
    assert_null(info_get(&d, "absent"));
    assert_int_equal(info_dropped(&d), 0);
    info_free(&d);
    assert_null(d.text);
    info_free(&d); /* zeroed: a no-op */
}

static void test_garbage(void **state) {
    (void)state;
    info_doc d;
    assert_int_equal(info_parse(&d, "", 0), -1);
    assert_int_equal(info_parse(&d, NULL, 0), -1);
    assert_int_equal(info_parse(&d, "# Server\n\n", 10), -1);
    assert_int_equal(info_parse(&d, "ERR unknown command\r\n", 21), -1);
    assert_null(d.fields);
    const char bin[] = "\x00\x01:\xff\xfe\n\x80x:1\n# \xc3\x28\n\x01:2\n";
    assert_int_equal(info_parse(&d, bin, sizeof(bin) - 1), 0);
    info_free(&d);

    /* garbage that parses renders with no writer error, only "unknown" and what is numeric */
    const char junk[] = "weird key:1\nx\x01y:2\n\xff:3\nok_field:inf\nneg:-5\ndb0:keys=zz\n"
                        "db1:keys=3,expires=-1,avg_ttl=abc,\nexpired_keys:-1\nevicted_keys:nan\n";
    sample_doc s;
    render_text(&s, junk, sizeof(junk) - 1, NULL);
    assert_int_equal(s.kind, SERVER_UNKNOWN);
    assert_non_null(strstr(s.body, "memkv_server_info{kind=\"unknown\"} 1"));
    assert_true(value_of(s.body, "memkv_info_value{field=\"weird key\"}") == 1);
    assert_true(isinf(value_of(s.body, "memkv_info_value{field=\"ok_field\"}")));
    assert_null(strstr(s.body, "memkv_expired_keys")); /* a negative counter is left out */
    assert_null(strstr(s.body, "memkv_evicted_keys"));
    assert_true(value_of(s.body, "memkv_db_keys{db=\"1\"}") == 3);
    assert_true(value_of(s.body, "memkv_db_keys{db=\"0\"}") == 0); /* keys=zz: db0 as empty */
    assert_null(strstr(s.body, "memkv_db_avg_ttl_seconds"));
    check_promtool(s.body);
    unload(&s);
}

static void test_field_cap(void **state) {
    (void)state;
    size_t nf = INFO_MAX_FIELDS + 5000, cap = nf * 24 + 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "# Stats\n");
    for (size_t i = 0; i < nf; i++)
        len += (size_t)snprintf(text + len, cap - len, "f%zu:%zu\n", i, i);
    sample_doc s;
    render_text(&s, text, len, NULL);
    assert_int_equal(s.info.n, INFO_MAX_FIELDS);
    assert_int_equal(info_dropped(&s.info), 5000);
    assert_true(value_of(s.body, "memkv_info_value{section=\"stats\",field=\"f19999\"}") == 19999);
    double v;
    assert_int_equal(find_value(s.body, "memkv_info_value{section=\"stats\",field=\"f20000\"}", &v),
                     -1);
    unload(&s);
    free(text);
}

static void test_redis(void **state) {
    (void)state;
    redisReply *rep = read_resp("redis-7.0.15-memstats-resp2.resp");
    memstats ms;
    assert_int_equal(memstats_parse(rep, &ms), 0);
    sample_doc s;
    load(&s, "redis-7.0.15-info.txt", &ms);
    assert_true(check_mapping(&s) >= 35);
    assert_non_null(strstr(s.body, "memkv_server_info{kind=\"redis\",version=\"7.0.15\","
                                   "redis_version=\"7.0.15\",allocator=\"jemalloc-5.3.0\"} 1"));
    assert_non_null(strstr(s.body, "memkv_allocator_info{allocator=\"jemalloc-5.3.0\"} 1"));
    assert_non_null(strstr(s.body, "memkv_maxmemory_policy_info{policy=\"noeviction\"} 1"));
    assert_true(value_of(s.body, "memkv_db_keys{db=\"0\"}") == 4);
    assert_true(value_of(s.body, "memkv_db_keys{db=\"3\"}") == 3);
    assert_true(value_of(s.body, "memkv_db_expiring_keys{db=\"3\"}") == 1);
    assert_true(value_of(s.body, "memkv_db_avg_ttl_seconds{db=\"0\"}") > 3000);
    /* unmapped numeric fields: the generic family, by section; text values nowhere */
    double v;
    assert_int_equal(info_get_number(&s.info, "used_memory_vm_eval", &v), 0);
    assert_true(
        value_of(s.body, "memkv_info_value{section=\"memory\",field=\"used_memory_vm_eval\"}") ==
        v);
    assert_true(
        value_of(s.body, "memkv_info_value{section=\"memory\",field=\"used_memory_peak_perc\"}") >
        0);
    assert_null(strstr(s.body, "used_memory_human"));
    assert_null(strstr(s.body, "field=\"db0\""));
    assert_null(strstr(s.body, "field=\"cmdstat_"));
    /* MEMORY STATS */
    assert_true(value_of(s.body, "memkv_memory_stats{stat=\"peak.allocated\"}") == 1063584);
    assert_true(value_of(s.body, "memkv_memory_stats{stat=\"keys.count\"}") == 7);
    assert_true(value_of(s.body, "memkv_db_hashtable_overhead_bytes{db=\"3\",table=\"main\"}") > 0);
    assert_null(strstr(s.body, "stat=\"db.0."));
    check_promtool(s.body);
    unload(&s);
    memstats_free(&ms);
    freeReplyObject(rep);
}

static void test_memkv(void **state) {
    (void)state;
    redisReply *rep = read_resp("memkv-memstats-resp2.resp");
    memstats ms;
    assert_int_equal(memstats_parse(rep, &ms), 0);
    sample_doc s;
    load(&s, "memkv-info.txt", &ms);
    assert_true(check_mapping(&s) >= 40);
    double v;
    assert_int_equal(info_get_number(&s.info, "memkv_subsystem_key_index", &v), 0);
    assert_true(value_of(s.body, "memkv_memory_subsystem_bytes{subsystem=\"key_index\"}") == v);
    assert_int_equal(info_get_number(&s.info, "memkv_arena_keyspace_resident", &v), 0);
    assert_true(
        value_of(s.body, "memkv_memory_arena_bytes{arena=\"keyspace\",state=\"resident\"}") == v);
    /* the ratio of an arena has no family of its own: generic */
    assert_non_null(strstr(s.body, "field=\"memkv_arena_keyspace_frag_ratio\""));
    assert_true(
        value_of(s.body, "memkv_keyspace_keys{db=\"0\",type=\"hash\",encoding=\"listpack\"}") == 1);
    assert_true(value_of(s.body, "memkv_keyspace_keys{db=\"3\",type=\"string\"}") == 2);
    assert_true(value_of(s.body, "memkv_db_keys{db=\"3\"}") == 3);
    assert_int_equal(memstats_get(&ms, "clients.normal", &v), 0);
    assert_true(value_of(s.body, "memkv_memory_stats{stat=\"clients.normal\"}") == v);
    check_promtool(s.body);
    unload(&s);
    memstats_free(&ms);
    freeReplyObject(rep);
}

static void test_valkey_keydb(void **state) {
    (void)state;
    sample_doc s;
    load(&s, "valkey-8.0.0-info.synthetic.txt", NULL);
    assert_true(check_mapping(&s) >= 35);
    assert_non_null(strstr(s.body, "kind=\"valkey\",version=\"8.0.0\",redis_version=\"7.2.4\""));
    assert_true(value_of(s.body, "memkv_allocator_muzzy_bytes") == 0);
    assert_true(value_of(s.body, "memkv_info_value{section=\"memory\",field="
                                 "\"mem_overhead_db_hashtable_rehashing\"}") == 0);
    assert_true(value_of(s.body, "memkv_db_keys{db=\"1\"}") == 1);
    check_promtool(s.body);
    unload(&s);

    load(&s, "keydb-6.3.4-info.synthetic.txt", NULL);
    assert_true(check_mapping(&s) >= 30);
    assert_true(value_of(s.body, "memkv_info_value{section=\"keydb\",field=\"mvcc_depth\"}") == 0);
    assert_true(value_of(s.body, "memkv_info_value{section=\"keyspace\",field=\"cached_keys\","
                                 "db=\"0\"}") == 5);
    assert_true(value_of(s.body, "memkv_info_value{section=\"memory\",field="
                                 "\"available_system_memory\"}") == 20000000000.0);
    check_promtool(s.body);
    unload(&s);
}

static void test_kvrocks(void **state) {
    (void)state;
    sample_doc s;
    load(&s, "kvrocks-2.10.1-info.synthetic.txt", NULL);
    check_mapping(&s);
    double v;
    assert_int_equal(find_value(s.body, "memkv_memory_used_bytes", &v), -1);
    assert_true(value_of(s.body, "memkv_memory_rss_bytes") == 52428800);
    assert_true(value_of(s.body, "memkv_rocksdb_block_cache_usage_bytes") == 8388608);
    assert_true(value_of(s.body, "memkv_rocksdb_block_cache_pinned_usage_bytes{cf=\"default\"}") ==
                1024);
    assert_true(value_of(s.body, "memkv_rocksdb_block_cache_pinned_usage_bytes{cf=\"metadata\"}") ==
                2048);
    assert_true(value_of(s.body, "memkv_rocksdb_table_readers_bytes{cf=\"default\"}") == 4096);
    assert_true(
        value_of(s.body, "memkv_rocksdb_index_and_filter_cache_usage_bytes{cf=\"metadata\"}") ==
        8192);
    assert_true(value_of(s.body, "memkv_rocksdb_estimated_keys{cf=\"metadata\"}") == 100);
    assert_true(value_of(s.body, "memkv_rocksdb_memtables_all_bytes") == 3145728);
    assert_true(value_of(s.body, "memkv_rocksdb_memtables_current_bytes") == 2097152);
    /* an unmapped cf field keeps its cf label in the generic family */
    assert_true(value_of(s.body, "memkv_info_value{section=\"rocksdb\",field="
                                 "\"memtable_count_limit_slowdown\",cf=\"default\"}") == 1);
    /* "used_disk_percent: 12.3%" */
    assert_true(value_of(s.body, "memkv_info_value{section=\"persistence\",field="
                                 "\"used_disk_percent\"}") == 12.3);
    assert_true(value_of(s.body, "memkv_info_value{section=\"keyspace\",field=\"expired\","
                                 "db=\"0\"}") == 3);
    assert_null(strstr(s.body, "field=\"estimate_keys\""));
    assert_null(strstr(s.body, "is_bgsaving"));
    check_promtool(s.body);
    unload(&s);
}

static void test_dragonfly(void **state) {
    (void)state;
    sample_doc s;
    load(&s, "dragonfly-1.25.0-info.synthetic.txt", NULL);
    check_mapping(&s);
    assert_true(value_of(s.body, "memkv_memory_type_bytes{type=\"string\"}") == 300000);
    assert_true(value_of(s.body, "memkv_memory_type_bytes{type=\"zset\"}") == 50000);
    assert_true(value_of(s.body, "memkv_memory_rss_peak_bytes") == 21000000);
    assert_null(strstr(s.body, "memkv_allocator_"));
    assert_null(strstr(s.body, "fragmentation"));
    assert_null(strstr(s.body, "memkv_db_avg_ttl_seconds")); /* avg_ttl=-1 */
    assert_null(strstr(s.body, "field=\"type_used_memory"));
    assert_true(value_of(s.body, "memkv_info_value{section=\"memory\",field="
                                 "\"object_used_memory\"}") == 500000);
    check_promtool(s.body);
    unload(&s);
}

/* ---- MEMORY STATS shapes ---- */

#ifndef REDIS_REPLY_DOUBLE
#define REDIS_REPLY_DOUBLE 7
#endif
#ifndef REDIS_REPLY_MAP
#define REDIS_REPLY_MAP 9
#endif

/* A RESP3-shaped copy of a RESP2 MEMORY STATS reply: maps instead of arrays, doubles instead of
 * bulk strings that hold numbers (what hiredis 1.x gives after HELLO 3; Debian's 0.14 has no
 * RESP3 reader, so the shape is built by hand). Free with free_copy. */
static redisReply *resp3_copy(const redisReply *r) {
    redisReply *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->type = r->type;
    c->integer = r->integer;
    if (r->str) {
        c->str = malloc(r->len + 1);
        assert_non_null(c->str);
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
    }
    if (r->type == REDIS_REPLY_ARRAY) {
        c->type = REDIS_REPLY_MAP;
        c->elements = r->elements;
        c->element = calloc(r->elements ? r->elements : 1, sizeof(*c->element));
        for (size_t i = 0; i < r->elements; i++) {
            c->element[i] = resp3_copy(r->element[i]);
            double d;
            if (i % 2 == 1 && c->element[i]->type == REDIS_REPLY_STRING &&
                exp_parse_number(c->element[i]->str, c->element[i]->len, &d) == 0)
                c->element[i]->type = REDIS_REPLY_DOUBLE;
        }
    }
    return c;
}

static void free_copy(redisReply *c) {
    for (size_t i = 0; i < c->elements; i++)
        free_copy(c->element[i]);
    free(c->element);
    free(c->str);
    free(c);
}

static void check_same(const memstats *a, const memstats *b) {
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->e[i].name, b->e[i].name);
        assert_true(a->e[i].value == b->e[i].value);
    }
}

static void test_memstats_shapes(void **state) {
    (void)state;
    redisReply *rep = read_resp("redis-7.0.15-memstats-resp2.resp");
    memstats two, three;
    assert_int_equal(memstats_parse(rep, &two), 0);
    double v;
    assert_int_equal(memstats_get(&two, "peak.allocated", &v), 0);
    assert_true(v == 1063584);
    assert_int_equal(memstats_get(&two, "db.3.overhead.hashtable.expires", &v), 0);
    assert_true(v == 56);
    assert_int_equal(memstats_get(&two, "dataset.percentage", &v), 0); /* a bulk-string double */
    assert_true(v > 0 && v < 100);
    assert_int_equal(memstats_get(&two, "absent", &v), -1);

    redisReply *r3 = resp3_copy(rep);
    assert_int_equal(memstats_parse(r3, &three), 0);
    check_same(&two, &three);
    memstats_free(&three);
    free_copy(r3);
    memstats_free(&two);
    assert_null(two.e);
    memstats_free(&two);
    freeReplyObject(rep);

#ifdef REDIS_REPLY_VERB /* hiredis 1.x reads RESP3: the recorded RESP3 reply itself */
    rep = read_resp("redis-7.0.15-memstats-resp3.resp");
    assert_int_equal(memstats_parse(rep, &three), 0);
    assert_int_equal(memstats_get(&three, "db.0.overhead.hashtable.main", &v), 0);
    memstats_free(&three);
    freeReplyObject(rep);
#endif

    /* not the shape: error, integer, odd array, NULL */
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "ERR no", .len = 6};
    redisReply one = {.type = REDIS_REPLY_INTEGER, .integer = 1};
    redisReply *elems[3] = {&one, &one, &one};
    redisReply odd = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = elems};
    assert_int_equal(memstats_parse(&err, &two), -1);
    assert_int_equal(memstats_parse(&one, &two), -1);
    assert_int_equal(memstats_parse(&odd, &two), -1);
    assert_int_equal(memstats_parse(NULL, &two), -1);

    /* names: non-text and too long skipped, non-numeric values skipped, deep nesting bounded */
    char longname[200];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    redisReply k_long = {.type = REDIS_REPLY_STRING, .str = longname, .len = strlen(longname)};
    redisReply k_a = {.type = REDIS_REPLY_STRING, .str = "a", .len = 1};
    redisReply k_b = {.type = REDIS_REPLY_STATUS, .str = "b", .len = 1};
    redisReply v_txt = {.type = REDIS_REPLY_STRING, .str = "abc", .len = 3};
    redisReply v_nil = {.type = REDIS_REPLY_NIL};
    redisReply *inner_el[2] = {&k_b, &one};
    redisReply inner = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = inner_el};
    redisReply *top_el[10] = {&k_long, &one, &one, &one, &k_a, &v_txt, &k_b, &v_nil, &k_a, &inner};
    redisReply top = {.type = REDIS_REPLY_ARRAY, .elements = 10, .element = top_el};
    assert_int_equal(memstats_parse(&top, &two), 0);
    assert_int_equal(two.n, 1);
    assert_string_equal(two.e[0].name, "a.b");
    memstats_free(&two);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_kinds), cmocka_unit_test(test_parse_shape),
        cmocka_unit_test(test_garbage),      cmocka_unit_test(test_field_cap),
        cmocka_unit_test(test_redis),        cmocka_unit_test(test_memkv),
        cmocka_unit_test(test_valkey_keydb), cmocka_unit_test(test_kvrocks),
        cmocka_unit_test(test_dragonfly),    cmocka_unit_test(test_memstats_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
