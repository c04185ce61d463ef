/* Unit tests of the profiler's engine: jemalloc control, the in-process symbolizer, the worker
 * thread and its jobs (dumps in every format, to memory and to files, top sites, subsystems,
 * snapshots, leak suspects), the cron's snapshots and memory cap, and the eventfd.
 *
 * With jemalloc the test binary embeds prof:true (prof_active:false) and samples every 4 KiB,
 * plants 4 MiB from a distinctively named function and expects to find it by name (also in the
 * UBSan build, which keeps jemalloc). In the ASan build (libc malloc) only the "unavailable"
 * answers and the pure helpers run. */
#include "profiler/profiler.h"

#include "alloc/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef MEMKV_HAVE_JEMALLOC
/* Read by jemalloc at start-up. */
const char *malloc_conf = "prof:true,prof_active:false,lg_prof_sample:12";
#endif

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)
#define PLANT_BLOCK (4 * KIB)
#define PLANT_MAX 8192
#define SITE "memkv_test_planted_leak_site"

static void *planted[PLANT_MAX];
static size_t nplanted;
static volatile unsigned char sink;
static int efd = -1;

/* The allocation site the reports must find: kept, never inlined or cloned. */
__attribute__((noipa)) static void memkv_test_planted_leak_site(size_t bytes) {
    for (size_t done = 0; done < bytes && nplanted < PLANT_MAX; done += PLANT_BLOCK) {
        unsigned char *p = malloc(PLANT_BLOCK);
        assert_non_null(p);
        p[0] = 1;
        sink = p[0];
        planted[nplanted++] = p;
    }
}

static void plant_free(void) {
    for (size_t i = 0; i < nplanted; i++)
        free(planted[i]);
    nplanted = 0;
}

static void configure(const char *dir, int interval, int keep, uint64_t max) {
    prof_settings s;
    memset(&s, 0, sizeof(s));
    if (snprintf(s.dump_dir, sizeof(s.dump_dir), "%s", dir) >= (int)sizeof(s.dump_dir))
        fail_msg("dump dir too long");
    s.snapshot_interval_s = interval;
    s.snapshots_keep = keep;
    s.max_memory = max;
    prof_engine_configure(&s);
}

static int readable(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Submit and wait for the job through the eventfd, as the event loop does. */
static prof_job *run(prof_job *j) {
    assert_int_equal(prof_engine_submit(j), 0);
    for (int i = 0; i < 600; i++) {
        prof_job *d = prof_engine_poll();
        if (d) {
            assert_ptr_equal(d, j);
            return d;
        }
        readable(efd, 100);
    }
    fail_msg("the job did not finish");
    return NULL;
}

static prof_job *run_kind(prof_job_kind kind, prof_format f) {
    prof_job *j = prof_job_new(kind);
    j->format = f;
    return run(j);
}

static int group_setup(void **state) {
    (void)state;
    configure("", 0, 4, 0);
    return prof_engine_start(&efd) == 0 && efd >= 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    prof_engine_stop();
    plant_free();
    return 0;
}

/* ---- both builds ----------------------------------------------------------------------- */

static void test_formats_and_names(void **state) {
    (void)state;
    prof_format f;
    static const char *const names[] = {"pprof", "raw", "collapsed", "svg"};
    static const char *const exts[] = {"pb.gz", "heap", "folded", "svg"};
    for (int i = 0; i <= PROF_FMT_SVG; i++) {
        assert_string_equal(prof_format_name((prof_format)i), names[i]);
        assert_string_equal(prof_format_extension((prof_format)i), exts[i]);
        assert_int_equal(prof_format_parse(names[i], &f), 0);
        assert_int_equal(f, i);
    }
    assert_int_equal(prof_format_parse("SVG", &f), 0);
    assert_int_equal(f, PROF_FMT_SVG);
    assert_int_equal(prof_format_parse("PProf", &f), 0);
    assert_int_equal(f, PROF_FMT_PPROF);
    assert_int_equal(prof_format_parse("gif", &f), PROF_ERR_BADARG);
    assert_int_equal(prof_format_parse("", &f), PROF_ERR_BADARG);

    assert_true(prof_dump_name_valid("heap.pb.gz"));
    assert_true(prof_dump_name_valid("a"));
    assert_true(prof_dump_name_valid("My_dump-1.svg"));
    char longname[102];
    memset(longname, 'a', 100);
    longname[100] = '\0';
    assert_true(prof_dump_name_valid(longname));
    longname[100] = 'a';
    longname[101] = '\0';
    assert_false(prof_dump_name_valid(longname));
    static const char *const bad[] = {"",     ".",       "..",          "../x",     "a/b",
                                      "/tmp", ".hidden", "a..b",        "x y",      "a\\b",
                                      "a\nb", "heap;rm", "/etc/passwd", "dir/../x", "é"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(prof_dump_name_valid(bad[i]));
    assert_false(prof_dump_name_valid(NULL));

    assert_string_equal(prof_strerror(0), "ok");
    for (int c = PROF_ERR_BUSY; c <= PROF_ERR_UNAVAILABLE; c++)
        assert_string_not_equal(prof_strerror(c), "unknown error");
    assert_string_equal(prof_strerror(-100), "unknown error");
}

static void test_job_new_free(void **state) {
    (void)state;
    prof_job *j = prof_job_new(PROF_JOB_TOP);
    assert_int_equal(j->kind, PROF_JOB_TOP);
    assert_int_equal(j->rc, 0);
    assert_null(j->sites);
    assert_int_equal(j->out.len, 0);
    prof_job_free(j);
    prof_job_free(NULL);
}

static void test_symbolize_self(void **state) {
    (void)state;
    prof_symbolizer *s = prof_symbolizer_new();
    assert_non_null(s);
    char func[256], file[512];
    /* An address inside the planted function (as a return address minus 1 would be). */
    uint64_t a = (uint64_t)(uintptr_t)&memkv_test_planted_leak_site + 8;
    assert_int_equal(prof_symbolize(s, a, func, sizeof(func), file, sizeof(file)), 0);
    assert_non_null(strstr(func, SITE));
    assert_non_null(strstr(file, "test_prof_engine"));
    /* Cached: the same answer again. */
    assert_int_equal(prof_symbolize(s, a, func, sizeof(func), file, sizeof(file)), 0);
    assert_non_null(strstr(func, SITE));
    /* A libc function. */
    uint64_t g = (uint64_t)(uintptr_t)&getpid;
    assert_int_equal(prof_symbolize(s, g, func, sizeof(func), file, sizeof(file)), 0);
    assert_non_null(strstr(func, "getpid"));
    assert_non_null(strstr(file, "libc"));
    /* Nothing is mapped there. */
    assert_int_equal(prof_symbolize(s, 0x10, func, sizeof(func), file, sizeof(file)), -1);
    assert_string_equal(func, "0x10");
    assert_string_equal(file, "");
    /* Small buffers truncate, never overflow. */
    char tiny[5];
    assert_int_equal(prof_symbolize(s, a, tiny, sizeof(tiny), NULL, 0), 0);
    assert_string_equal(tiny, "memk");
    assert_int_equal(prof_symbolizer_cached(s), 3);
#ifdef MEMKV_HAVE_JEMALLOC
    assert_true(prof_symbolizer_libdw_bytes(s) > 0); /* symbol tables read */
#else
    assert_int_equal(prof_symbolizer_libdw_bytes(s), 0);
#endif
    prof_symbolizer_free(s);
    /* Without a symbolizer: addresses only. */
    assert_int_equal(prof_symbolize(NULL, 0xabc, func, sizeof(func), file, sizeof(file)), -1);
    assert_string_equal(func, "0xabc");
}

static void test_bad_sample_bytes(void **state) {
    (void)state;
    static const uint64_t bad[] = {0, 512, 1000, 3000, 4097, (1ULL << 31), (1ULL << 30) + 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(prof_set_sample_bytes(bad[i]), PROF_ERR_BADARG);
}

static void test_submit_errors(void **state) {
    (void)state;
    assert_int_equal(prof_engine_submit(NULL), PROF_ERR_BADARG);
    assert_null(prof_engine_poll());
}

/* A thread that may block (the HTTP thread) runs a job and waits: no eventfd, no poll. */
typedef struct sync_arg {
    int rc, job_rc;
    char head[16];
} sync_arg;

static void *run_sync_on_thread(void *p) {
    sync_arg *a = p;
    prof_job *j = prof_job_new(PROF_JOB_DUMP);
    j->format = PROF_FMT_RAW;
    a->rc = prof_engine_run(j);
    a->job_rc = j->rc;
    if (j->out.data) snprintf(a->head, sizeof(a->head), "%.8s", j->out.data);
    prof_job_free(j);
    return NULL;
}

static void test_run_sync(void **state) {
    (void)state;
    sync_arg a = {-1, -1, ""};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_sync_on_thread, &a), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
#ifdef MEMKV_HAVE_JEMALLOC
    assert_int_equal(a.job_rc, 0);
    assert_string_equal(a.head, "heap_v2/");
#else
    assert_int_equal(a.job_rc, PROF_ERR_UNAVAILABLE);
#endif
    assert_null(prof_engine_poll()); /* a synchronous job never shows up there */
}

/* Stopping with jobs queued frees them all: the profiler's counter goes back to zero. */
static void test_stop_with_pending(void **state) {
    (void)state;
    prof_engine_stop();
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_PROFILER), 0);
    assert_int_equal(prof_engine_start(&efd), 0);
    for (int i = 0; i < 12; i++) {
        prof_job *j = prof_job_new(i % 3 == 0 ? PROF_JOB_SNAPSHOT : PROF_JOB_DUMP);
        j->format = (prof_format)(i % 4);
        assert_int_equal(prof_engine_submit(j), 0);
    }
    prof_engine_stop();
    assert_int_equal(alloc_sub_bytes(ALLOC_SUB_PROFILER), 0);
    /* Stopped: submit refuses (the caller keeps the job). */
    prof_job *j = prof_job_new(PROF_JOB_DUMP);
    assert_int_equal(prof_engine_submit(j), PROF_ERR_UNAVAILABLE);
    prof_job_free(j);
    prof_engine_stop(); /* twice is harmless */
    assert_int_equal(prof_engine_start(&efd), 0);
}

#ifndef MEMKV_HAVE_JEMALLOC
/* ---- ASan build (libc malloc): every path answers "unavailable" ------------------------ */

static const char no_jemalloc[] =
    "memkv was built without jemalloc (the AddressSanitizer build runs on libc malloc): "
    "use the normal or the UBSan build to profile";

static void test_unavailable(void **state) {
    (void)state;
    char why[256];
    assert_int_equal(prof_available(why, sizeof(why)), 0);
    assert_string_equal(why, no_jemalloc);
    assert_int_equal(prof_set_active(1), PROF_ERR_UNAVAILABLE);
    assert_int_equal(prof_is_active(), 0);
    assert_int_equal(prof_set_sample_bytes(4096), PROF_ERR_UNAVAILABLE);
    assert_int_equal(prof_sample_bytes(), 0);
    prof_status s;
    prof_status_get(&s);
    assert_int_equal(s.available, 0);
    assert_int_equal(s.active, 0);
    assert_string_equal(s.why_unavailable, no_jemalloc);
    prof_engine_cron(1000);
    prof_engine_cron(100000);
}

static void test_unavailable_jobs(void **state) {
    (void)state;
    static const prof_job_kind kinds[] = {PROF_JOB_DUMP, PROF_JOB_TOP, PROF_JOB_LEAKS,
                                          PROF_JOB_SUBSYSTEMS, PROF_JOB_SNAPSHOT};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        prof_job *j = run_kind(kinds[i], PROF_FMT_PPROF);
        assert_int_equal(j->rc, PROF_ERR_UNAVAILABLE);
        assert_string_equal(j->err, no_jemalloc);
        assert_int_equal(j->out.len, 0);
        prof_job_free(j);
    }
    assert_false(readable(efd, 0));
}
#else
/* ---- jemalloc build ---------------------------------------------------------------------- */

static void test_available(void **state) {
    (void)state;
    char why[256] = "x";
    assert_int_equal(prof_available(why, sizeof(why)), 1);
    assert_string_equal(why, "");
    prof_status s;
    prof_status_get(&s);
    assert_int_equal(s.available, 1);
    assert_int_equal(s.active, 0);
    assert_int_equal(s.sample_bytes, 4096);
}

static void test_not_active(void **state) {
    (void)state;
    assert_int_equal(prof_set_active(0), 0);
    assert_int_equal(prof_is_active(), 0);
    /* What was sampled stays readable after sampling stops: dumps and reports still work. */
    prof_job *j = run_kind(PROF_JOB_DUMP, PROF_FMT_RAW);
    assert_int_equal(j->rc, 0);
    assert_memory_equal(j->out.data, "heap_v2/", 8);
    prof_job_free(j);
    j = run_kind(PROF_JOB_TOP, PROF_FMT_RAW);
    assert_int_equal(j->rc, 0);
    prof_job_free(j);
    assert_int_equal(prof_set_active(1), 0);
    assert_int_equal(prof_is_active(), 1);
    prof_status s;
    prof_status_get(&s);
    assert_int_equal(s.active, 1);
}

/* Fresh sampling at 4 KiB and 4 MiB planted. */
static void plant_fresh(size_t bytes) {
    plant_free();
    assert_int_equal(prof_set_active(1), 0);
    assert_int_equal(prof_set_sample_bytes(4096), 0);
    memkv_test_planted_leak_site(bytes);
}

static void test_raw_dump_and_sample_rate(void **state) {
    (void)state;
    plant_fresh(4 * MIB);
    assert_int_equal(prof_sample_bytes(), 4096);
    prof_job *j = run_kind(PROF_JOB_DUMP, PROF_FMT_RAW);
    assert_int_equal(j->rc, 0);
    assert_true(j->out.len > 100);
    assert_memory_equal(j->out.data, "heap_v2/4096\n", 13);
    assert_int_equal(j->sample_period, 4096);
    assert_non_null(memmem(j->out.data, j->out.len, "MAPPED_LIBRARIES:", 17));
    assert_true(j->duration_ms >= 0);
    prof_job_free(j);

    assert_int_equal(prof_set_sample_bytes(65536), 0);
    assert_int_equal(prof_sample_bytes(), 65536);
    j = run_kind(PROF_JOB_DUMP, PROF_FMT_RAW);
    assert_int_equal(j->rc, 0);
    assert_memory_equal(j->out.data, "heap_v2/65536\n", 14);
    prof_job_free(j);
    assert_int_equal(prof_set_sample_bytes(4096), 0);
    prof_status s;
    prof_status_get(&s);
    assert_true(s.dumps >= 2);
    assert_int_equal(s.sample_bytes, 4096);
}

static void test_collapsed_names_site(void **state) {
    (void)state;
    plant_fresh(4 * MIB);
    prof_job *j = run_kind(PROF_JOB_DUMP, PROF_FMT_COLLAPSED);
    assert_int_equal(j->rc, 0);
    prof_buf_append(&j->out, "", 1); /* NUL-terminate for the string functions */
    const char *text = j->out.data;
    const char *hit = strstr(text, SITE " ");
    if (!hit) fail_msg("collapsed stacks without " SITE ":\n%.2000s", text);
    /* The site is the innermost frame (jemalloc's and malloc's frames are gone). */
    assert_true(hit[strlen(SITE) + 1] >= '0' && hit[strlen(SITE) + 1] <= '9');
    assert_null(strstr(text, "prof_backtrace"));
    assert_null(strstr(text, ";je_"));
    prof_job_free(j);
}

static void test_other_formats(void **state) {
    (void)state;
    plant_fresh(4 * MIB);
    prof_job *j = run_kind(PROF_JOB_DUMP, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    assert_true(j->out.len > 20);
    assert_int_equal((unsigned char)j->out.data[0], 0x1f); /* gzip */
    assert_int_equal((unsigned char)j->out.data[1], 0x8b);
    prof_job_free(j);
    j = run_kind(PROF_JOB_DUMP, PROF_FMT_SVG);
    assert_int_equal(j->rc, 0);
    assert_non_null(memmem(j->out.data, j->out.len, "<svg", 4));
    assert_non_null(memmem(j->out.data, j->out.len, SITE, strlen(SITE)));
    prof_job_free(j);
}

static void test_top_ranks_site(void **state) {
    (void)state;
    plant_fresh(4 * MIB);
    prof_job *j = prof_job_new(PROF_JOB_TOP);
    j->count = 5;
    run(j);
    assert_int_equal(j->rc, 0);
    assert_true(j->nresults >= 1 && j->nresults <= 5);
    if (!strstr(j->sites[0].func, SITE)) fail_msg("top site is %s", j->sites[0].func);
    assert_true(j->sites[0].live_bytes >= 2.0 * MIB && j->sites[0].live_bytes <= 8.0 * MIB);
    assert_true(j->sites[0].share > 0 && j->sites[0].share <= 1);
    assert_true(j->total_live_bytes >= j->sites[0].live_bytes);
    for (size_t i = 1; i < j->nresults; i++)
        assert_true(j->sites[i].live_bytes <= j->sites[i - 1].live_bytes);
    assert_int_equal(j->sample_period, 4096);
    prof_job_free(j);

    /* A silly count is clamped, not allocated. */
    j = prof_job_new(PROF_JOB_TOP);
    j->count = (size_t)1 << 40;
    run(j);
    assert_int_equal(j->rc, 0);
    assert_true(j->nresults >= 1);
    prof_job_free(j);
}

static void test_subsystems(void **state) {
    (void)state;
    plant_fresh(4 * MIB);
    prof_job *j = run_kind(PROF_JOB_SUBSYSTEMS, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    assert_non_null(j->by_subsystem);
    assert_int_equal(j->nresults, ALLOC_SUB_COUNT);
    double sum = 0;
    for (int i = 0; i < ALLOC_SUB_COUNT; i++) {
        assert_true(j->by_subsystem[i] >= 0);
        sum += j->by_subsystem[i];
    }
    /* The planted memory is the test's own: "other". */
    assert_true(j->by_subsystem[ALLOC_SUB_OTHER] >= 2.0 * MIB);
    assert_true(sum <= j->total_live_bytes * 1.001 + 1);
    prof_job_free(j);
}

static void test_leaks_names_site(void **state) {
    (void)state;
    /* A fresh engine: no snapshots from earlier tests. */
    prof_engine_stop();
    assert_int_equal(prof_engine_start(&efd), 0);
    configure("", 0, 4, 0);
    plant_fresh(1 * MIB);

    prof_job *j = run_kind(PROF_JOB_LEAKS, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    assert_int_equal(j->nresults, 0);
    assert_string_equal(j->err, "need at least 2 snapshots; 0 taken");
    prof_job_free(j);

    j = run_kind(PROF_JOB_SNAPSHOT, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    assert_true(j->nresults >= 1);
    prof_job_free(j);
    j = run_kind(PROF_JOB_LEAKS, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    assert_int_equal(j->nresults, 0);
    assert_string_equal(j->err, "need at least 2 snapshots; 1 taken");
    prof_job_free(j);

    memkv_test_planted_leak_site(4 * MIB); /* growth */
    j = run_kind(PROF_JOB_SNAPSHOT, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    prof_job_free(j);

    j = prof_job_new(PROF_JOB_LEAKS);
    j->count = 5;
    run(j);
    assert_int_equal(j->rc, 0);
    assert_true(j->nresults >= 1);
    if (!strstr(j->suspects[0].func, SITE)) fail_msg("first suspect is %s", j->suspects[0].func);
    assert_true(j->suspects[0].growth_bytes >= 2.0 * MIB);
    assert_true(j->suspects[0].live_bytes >= j->suspects[0].growth_bytes);
    prof_job_free(j);

    prof_status s;
    prof_status_get(&s);
    assert_int_equal(s.snapshots_held, 2);

    /* The ring keeps `snapshots_keep`. */
    for (int i = 0; i < 4; i++) {
        j = run_kind(PROF_JOB_SNAPSHOT, PROF_FMT_PPROF);
        assert_int_equal(j->rc, 0);
        prof_job_free(j);
    }
    prof_status_get(&s);
    assert_int_equal(s.snapshots_held, 4);
    assert_true(s.snapshots >= 6);

    /* Snapshots already taken stay readable when sampling is off. */
    assert_int_equal(prof_set_active(0), 0);
    j = run_kind(PROF_JOB_LEAKS, PROF_FMT_PPROF);
    assert_int_equal(j->rc, 0);
    prof_job_free(j);
    assert_int_equal(prof_set_active(1), 0);
}

static char tmpdir[256];
static char dumpdir[300];

static size_t count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static prof_job *dump_to_file(prof_format f, const char *name) {
    prof_job *j = prof_job_new(PROF_JOB_DUMP);
    j->format = f;
    j->to_file = 1;
    snprintf(j->name, sizeof(j->name), "%s", name);
    return run(j);
}

static void read_head(const char *path, unsigned char *buf, size_t n) {
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, n), (ssize_t)n);
    close(fd);
}

static void test_dump_to_file(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/memkv-prof-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(dumpdir, sizeof(dumpdir), "%s/dumps", tmpdir);
    assert_int_equal(mkdir(dumpdir, 0700), 0);
    plant_fresh(1 * MIB);

    /* No dump dir: refused, with what to set. */
    configure("", 0, 4, 0);
    prof_job *j = dump_to_file(PROF_FMT_RAW, "x.heap");
    assert_int_equal(j->rc, PROF_ERR_BADARG);
    assert_non_null(strstr(j->err, "memory-profiling-dump-dir"));
    assert_string_equal(j->path, "");
    prof_job_free(j);

    configure(dumpdir, 0, 4, 0);
    j = dump_to_file(PROF_FMT_RAW, "ok-name.heap");
    assert_int_equal(j->rc, 0);
    char want[600];
    snprintf(want, sizeof(want), "%s/ok-name.heap", dumpdir);
    assert_string_equal(j->path, want);
    assert_int_equal(j->out.len, 0);
    unsigned char head[16];
    read_head(want, head, 8);
    assert_memory_equal(head, "heap_v2/", 8);
    struct stat sb;
    assert_int_equal(stat(want, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    prof_job_free(j);

    /* The same name again: never overwritten. */
    j = dump_to_file(PROF_FMT_RAW, "ok-name.heap");
    assert_int_equal(j->rc, PROF_ERR_IO);
    assert_non_null(strstr(j->err, "exists"));
    prof_job_free(j);

    /* memkv's own name. */
    j = dump_to_file(PROF_FMT_PPROF, "");
    assert_int_equal(j->rc, 0);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s/memkv-heap-%d-", dumpdir, (int)getpid());
    assert_memory_equal(j->path, prefix, strlen(prefix));
    assert_non_null(strstr(j->path, ".pb.gz"));
    read_head(j->path, head, 2);
    assert_int_equal(head[0], 0x1f);
    assert_int_equal(head[1], 0x8b);
    prof_job_free(j);

    /* Path tricks. */
    char outside[600], abs_name[600];
    snprintf(outside, sizeof(outside), "%s/evil.heap", tmpdir);
    snprintf(abs_name, sizeof(abs_name), "%s/evil.heap", tmpdir);
    const char *const bad[] = {"../evil.heap", abs_name, "sub/evil.heap",
                               ".evil",        "..",     "a/../../evil.heap"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = dump_to_file(PROF_FMT_RAW, bad[i]);
        assert_int_equal(j->rc, PROF_ERR_BADARG);
        assert_string_equal(j->path, "");
        prof_job_free(j);
    }
    /* A symlink planted in the dir is not followed. */
    char link[600];
    snprintf(link, sizeof(link), "%s/link.heap", dumpdir);
    assert_int_equal(symlink(outside, link), 0);
    j = dump_to_file(PROF_FMT_RAW, "link.heap");
    assert_int_equal(j->rc, PROF_ERR_IO);
    prof_job_free(j);
    assert_int_equal(access(outside, F_OK), -1);
    assert_int_equal(count_entries(tmpdir), 1); /* only dumps/ */
    assert_int_equal(count_entries(dumpdir), 3);

    /* A dump dir that is a symlink is refused too. */
    char dirlink[600];
    snprintf(dirlink, sizeof(dirlink), "%s/dirlink", tmpdir);
    assert_int_equal(symlink(dumpdir, dirlink), 0);
    configure(dirlink, 0, 4, 0);
    j = dump_to_file(PROF_FMT_RAW, "via-link.heap");
    assert_int_equal(j->rc, PROF_ERR_IO);
    prof_job_free(j);
    assert_int_equal(count_entries(dumpdir), 3);
    unlink(dirlink);

    /* Clean up. */
    DIR *d = opendir(dumpdir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dumpdir);
    rmdir(tmpdir);
    configure("", 0, 4, 0);
}

static void test_eventfd(void **state) {
    (void)state;
    plant_fresh(64 * KIB);
    assert_false(readable(efd, 0));
    prof_job *j = prof_job_new(PROF_JOB_DUMP);
    j->format = PROF_FMT_RAW;
    assert_int_equal(prof_engine_submit(j), 0);
    assert_true(readable(efd, 60000));
    prof_job *d = prof_engine_poll();
    assert_ptr_equal(d, j);
    assert_int_equal(d->rc, 0);
    prof_job_free(d);
    /* Collected: the eventfd is drained. */
    assert_false(readable(efd, 0));
    assert_null(prof_engine_poll());

    /* Two jobs: readable until both are collected. */
    prof_job *a = prof_job_new(PROF_JOB_DUMP), *b = prof_job_new(PROF_JOB_DUMP);
    a->format = b->format = PROF_FMT_RAW;
    assert_int_equal(prof_engine_submit(a), 0);
    assert_int_equal(prof_engine_submit(b), 0);
    int got = 0;
    for (int i = 0; i < 600 && got < 2; i++) {
        if (!readable(efd, 100)) continue;
        prof_job *x;
        while ((x = prof_engine_poll())) {
            assert_true(x == (got == 0 ? a : b)); /* in order */
            prof_job_free(x);
            got++;
        }
    }
    assert_int_equal(got, 2);
    assert_false(readable(efd, 0));
}

static void test_cron_snapshots(void **state) {
    (void)state;
    plant_fresh(64 * KIB);
    prof_status s;
    prof_status_get(&s);
    uint64_t before = s.snapshots;
    configure("", 1, 4, 0);
    prof_engine_cron(1000000); /* arms the timer */
    prof_engine_cron(1000500); /* not due */
    prof_engine_cron(1001500); /* due: an internal snapshot */
    for (int i = 0; i < 600; i++) {
        prof_status_get(&s);
        if (s.snapshots > before) break;
        usleep(50000);
    }
    assert_int_equal(s.snapshots, before + 1);
    /* Internal jobs are never handed to the caller. */
    assert_null(prof_engine_poll());
    assert_false(readable(efd, 0));
    /* Inactive: no snapshots. */
    assert_int_equal(prof_set_active(0), 0);
    prof_engine_cron(1010000);
    prof_engine_cron(1020000);
    usleep(100000);
    prof_status_get(&s);
    assert_int_equal(s.snapshots, before + 1);
    assert_int_equal(prof_set_active(1), 0);
    configure("", 0, 4, 0);
}

static char logged[8][200];
static int nlogged;

static void log_hook(int warning, const char *msg) {
    assert_int_equal(warning, 1);
    if (nlogged < 8) snprintf(logged[nlogged], sizeof(logged[0]), "%s", msg);
    nlogged++;
}

static void test_memory_cap(void **state) {
    (void)state;
    prof_engine_set_log(log_hook);
    nlogged = 0;
    assert_int_equal(prof_set_active(0), 0);
    plant_fresh(64 * KIB);                        /* a new activation */
    prof_job *held = prof_job_new(PROF_JOB_DUMP); /* the profiler holds some memory */
    prof_status s;
    prof_status_get(&s);
    assert_int_equal(s.cap_state, 0);
    assert_true(s.own_memory > 0);

    configure("", 0, 4, 1);
    int64_t now = 5000000;
    prof_engine_cron(now);
    prof_status_get(&s);
    assert_int_equal(s.cap_state, 1);
    assert_int_equal(s.sample_bytes, 16384);
    assert_int_equal(s.active, 1);
    assert_string_equal(s.cap_note, "memory-profiling-max-memory reached (1 bytes): sampling "
                                    "coarsened to every 16384 bytes");
    assert_int_equal(nlogged, 1);
    assert_string_equal(logged[0], s.cap_note);
    prof_engine_cron(now + 100); /* one step a second at most */
    prof_status_get(&s);
    assert_int_equal(s.sample_bytes, 16384);

    int saw_state2 = 0;
    for (int i = 0; i < 20 && !saw_state2; i++) {
        now += 1500;
        prof_engine_cron(now);
        prof_status_get(&s);
        saw_state2 = s.cap_state == 2;
        if (!saw_state2) {
            assert_int_equal(s.cap_state, 1);
            assert_true(s.sample_bytes <= (1u << 24));
        }
    }
    assert_true(saw_state2);
    assert_int_equal(s.active, 0);
    assert_int_equal(s.sample_bytes, 1u << 24);
    assert_string_equal(s.cap_note,
                        "memory-profiling-max-memory reached (1 bytes): sampling stopped");
    /* 16K, 64K, 256K, 1M, 4M, 16M, stopped: each step logged once. */
    assert_int_equal(nlogged, 7);
    assert_string_equal(logged[6], s.cap_note);
    prof_engine_cron(now + 5000);
    assert_int_equal(nlogged, 7);

    /* What was sampled before the cap stopped it can still be dumped. */
    prof_job *j = run_kind(PROF_JOB_DUMP, PROF_FMT_RAW);
    assert_int_equal(j->rc, 0);
    prof_job_free(j);

    /* A new activation starts over. */
    configure("", 0, 4, 0);
    assert_int_equal(prof_set_active(1), 0);
    prof_status_get(&s);
    assert_int_equal(s.cap_state, 0);
    assert_string_equal(s.cap_note, "");
    assert_int_equal(prof_set_sample_bytes(4096), 0);
    prof_job_free(held);
    prof_engine_set_log(NULL);
}

#if defined(MEMKV_FRAME_POINTERS) && defined(__x86_64__)
/* Calls alloc_malloc(sub, size) with rbp = bad, as code built without frame pointers may leave
 * it: alloc_malloc's frame record then links to bad. */
void *memkv_test_call_with_rbp(alloc_sub sub, size_t size, uintptr_t bad);
__asm__(".text\n"
        ".globl memkv_test_call_with_rbp\n"
        ".type memkv_test_call_with_rbp, @function\n"
        "memkv_test_call_with_rbp:\n"
        ".cfi_startproc\n"
        "  push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  mov %rdx, %rbp\n"
        "  call alloc_malloc@PLT\n"
        "  pop %rbp\n"
        ".cfi_def_cfa_offset 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size memkv_test_call_with_rbp, .-memkv_test_call_with_rbp\n");

/* The frame-pointer walk follows the chain up to the registered stack end and stops at a bad
 * link instead of reading through it: a link near UINTPTR_MAX (whose fp + 16 wraps past 0) once
 * passed the bound and was loaded from. */
static void test_fp_walk_stops_at_bad_link(void **state) {
    (void)state;
    static const uintptr_t bad[] = {UINTPTR_MAX - 15, UINTPTR_MAX - 7, 8};
    int was_active = prof_is_active();
    assert_int_equal(prof_set_active(1), 0);
    assert_int_equal(prof_unwind_select(1), 0);
    assert_string_equal(prof_unwinder_name(), "frame-pointer");
    prof_unwind_register_stack((char *)__builtin_frame_address(0) + 2 * sizeof(void *));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t walks, fallbacks, walks2 = 0;
        prof_unwind_counts(&walks, &fallbacks);
        /* 1 MiB at one sample per 4 KiB on average (the rate of start-up, which this test
         * runs under) is sampled, and so walked, all but surely: a few tries make it sure. */
        for (int tries = 0; tries < 8 && walks2 <= walks; tries++) {
            void *p = memkv_test_call_with_rbp(ALLOC_SUB_OTHER, MIB, bad[i]);
            prof_unwind_counts(&walks2, &fallbacks);
            alloc_free(ALLOC_SUB_OTHER, p);
        }
        assert_true(walks2 > walks);
    }
    prof_unwind_register_stack(NULL);
    assert_int_equal(prof_unwind_select(0), 0);
    assert_int_equal(prof_set_active(was_active), 0);
}
#endif
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_and_names),
        cmocka_unit_test(test_job_new_free),
        cmocka_unit_test(test_symbolize_self),
        cmocka_unit_test(test_bad_sample_bytes),
        cmocka_unit_test(test_submit_errors),
        cmocka_unit_test(test_run_sync),
#ifndef MEMKV_HAVE_JEMALLOC
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_unavailable_jobs),
#else
        cmocka_unit_test(test_available),
#if defined(MEMKV_FRAME_POINTERS) && defined(__x86_64__)
        cmocka_unit_test(test_fp_walk_stops_at_bad_link), /* at start-up's sample rate */
#endif
        cmocka_unit_test(test_not_active),
        cmocka_unit_test(test_raw_dump_and_sample_rate),
        cmocka_unit_test(test_collapsed_names_site),
        cmocka_unit_test(test_other_formats),
        cmocka_unit_test(test_top_ranks_site),
        cmocka_unit_test(test_subsystems),
        cmocka_unit_test(test_leaks_names_site),
        cmocka_unit_test(test_dump_to_file),
        cmocka_unit_test(test_eventfd),
        cmocka_unit_test(test_cron_snapshots),
        cmocka_unit_test(test_memory_cap),
#endif
        cmocka_unit_test(test_stop_with_pending),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
