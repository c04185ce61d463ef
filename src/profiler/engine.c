/* engine — jemalloc's profiling switched on and off, and a worker thread for everything heavy.
 *
 * Control (prof.active, prof.reset, prof.lg_sample) runs on the caller's thread: each is one
 * mallctl. Dumps, parsing, symbolization, encoding, snapshots and reports run on one worker
 * thread fed by a queue; a finished job goes on the done list and the eventfd is written, so
 * the event loop learns of it without waiting. The worker owns the symbolizer (with its cache)
 * and the ring of snapshots; nothing else touches them while it runs.
 *
 * Locks: `eng.lock` guards the queues, the settings and the eventfd; `st_lock` guards the
 * status figures. Neither is held across anything slower than a copy or a syscall on the
 * eventfd. */
#include "profiler/profiler.h"

#include "alloc/alloc.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#define PROF_QUEUE_MAX 64        /* pending jobs before submit answers PROF_ERR_BUSY */
#define PROF_SNAPSHOTS_DEFAULT 8 /* snapshots_keep <= 0 */
#define PROF_SNAPSHOTS_MAX 1024
#define PROF_CAP_MAX_SAMPLE (1ULL << 24) /* the cap coarsens up to this, then stops */
#define PROF_CAP_STEP_MS 1000            /* the cap takes at most one step per second */

static const char not_active_msg[] =
    "profiling is not active: CONFIG SET memory-profiling-enabled yes";

/* ---- errors, formats, names, jobs ---------------------------------------------------------- */

const char *prof_strerror(int code) {
    switch (code) {
    case 0:
        return "ok";
    case PROF_ERR_UNAVAILABLE:
        return "heap profiling is unavailable";
    case PROF_ERR_PARSE:
        return "the heap dump could not be parsed";
    case PROF_ERR_MALLCTL:
        return "jemalloc refused the request (mallctl failed)";
    case PROF_ERR_IO:
        return "I/O error";
    case PROF_ERR_NOMEM:
        return "over memory-profiling-max-memory";
    case PROF_ERR_BADARG:
        return "invalid argument";
    case PROF_ERR_BUSY:
        return "the profiler is busy: too many jobs pending";
    default:
        return "unknown error";
    }
}

static const char *const fmt_names[] = {"pprof", "raw", "collapsed", "svg", "json"};
static const char *const fmt_exts[] = {"pb.gz", "heap", "folded", "svg", "json"};

const char *prof_format_name(prof_format f) {
    return (unsigned)f <= PROF_FMT_JSON ? fmt_names[f] : "unknown";
}

const char *prof_format_extension(prof_format f) {
    return (unsigned)f <= PROF_FMT_JSON ? fmt_exts[f] : "bin";
}

int prof_format_parse(const char *name, prof_format *out) {
    static const struct {
        const char *name;
        prof_format f;
    } names[] = {
        {"pprof", PROF_FMT_PPROF},         {"raw", PROF_FMT_RAW},
        {"collapsed", PROF_FMT_COLLAPSED}, {"svg", PROF_FMT_SVG},
        {"folded", PROF_FMT_COLLAPSED},    {"flamegraph", PROF_FMT_SVG},
        {"jeprof", PROF_FMT_RAW},          {"json", PROF_FMT_JSON},
    };
    if (!name) return PROF_ERR_BADARG;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            if (out) *out = names[i].f;
            return 0;
        }
    }
    return PROF_ERR_BADARG;
}

int prof_dump_name_valid(const char *name) {
    if (!name || !name[0] || name[0] == '.') return 0;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok || n >= 100) return 0;
        if (c == '.' && p[1] == '.') return 0;
    }
    return 1;
}

prof_job *prof_job_new(prof_job_kind kind) {
    prof_job *j = alloc_calloc(ALLOC_SUB_PROFILER, sizeof(*j));
    j->kind = kind;
    j->format = PROF_FMT_PPROF;
    prof_buf_init(&j->out);
    return j;
}

void prof_job_free(prof_job *j) {
    if (!j) return;
    prof_buf_free(&j->out);
    alloc_free(ALLOC_SUB_PROFILER, j->sites); /* one block with its strings */
    alloc_free(ALLOC_SUB_PROFILER, j->suspects);
    alloc_free(ALLOC_SUB_PROFILER, j->by_subsystem);
    alloc_free(ALLOC_SUB_PROFILER, j);
}

/* ---- status --------------------------------------------------------------------------------- */

static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t dumps, dump_errors, snapshots;
    size_t snapshots_held;
    int cap_state;
    char cap_note[160];
    double last_job_ms;
    int64_t cap_step_ms; /* now_ms of the cap's last step */
    double sampled_by_subsystem[24];
    int64_t sampled_at_ns;
} st;

/* jemalloc metadata (stats.metadata) when profiling was last activated, and its growth since,
 * as last measured by the cron. */
#ifdef MEMKV_HAVE_JEMALLOC
static _Atomic size_t meta_base;
static atomic_int meta_base_set;
#endif
static _Atomic int64_t meta_growth;
/* What libdw keeps for the worker's symbolizer (published by the worker after each job). */
static _Atomic size_t libdw_bytes;

static prof_log_fn log_fn;

/* ---- jemalloc control ----------------------------------------------------------------------- */

static pthread_once_t avail_once = PTHREAD_ONCE_INIT;
static int avail;
static char avail_why[192];

static void avail_init(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    bool b = false;
    size_t sz = sizeof(b);
    if (mallctl("config.prof", &b, &sz, NULL, 0) != 0 || !b) {
        snprintf(avail_why, sizeof(avail_why),
                 "jemalloc was built without profiling (config.prof is false); memkv cannot "
                 "profile with this allocator");
        return;
    }
    b = false;
    sz = sizeof(b);
    if (mallctl("opt.prof", &b, &sz, NULL, 0) != 0 || !b) {
        snprintf(avail_why, sizeof(avail_why),
                 "memkv was started without jemalloc's prof:true (MALLOC_CONF overrides the "
                 "prof:true memkv embeds): restart with MALLOC_CONF=prof:true,prof_active:false");
        return;
    }
    avail = 1;
#else
    snprintf(avail_why, sizeof(avail_why),
             "memkv was built without jemalloc (the AddressSanitizer build runs on libc malloc): "
             "use the normal or the UBSan build to profile");
#endif
}

int prof_available(char *why, size_t cap) {
    pthread_once(&avail_once, avail_init);
    if (why && cap) snprintf(why, cap, "%s", avail ? "" : avail_why);
    return avail;
}

#ifdef MEMKV_HAVE_JEMALLOC
/* stats.metadata after a refresh of jemalloc's statistics. */
static int read_metadata(size_t *out) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0) return PROF_ERR_MALLCTL;
    sz = sizeof(*out);
    return mallctl("stats.metadata", out, &sz, NULL, 0) == 0 ? 0 : PROF_ERR_MALLCTL;
}

/* A new activation: the metadata baseline is taken again, the cap starts over. */
static void on_activated(void) {
    size_t md;
    if (read_metadata(&md) == 0) {
        atomic_store(&meta_base, md);
        atomic_store(&meta_base_set, 1);
    }
    atomic_store(&meta_growth, 0);
    pthread_mutex_lock(&st_lock);
    st.cap_state = 0;
    st.cap_note[0] = '\0';
    st.cap_step_ms = 0;
    pthread_mutex_unlock(&st_lock);
}
#endif

int prof_set_active(int on) {
    if (!prof_available(NULL, 0)) return PROF_ERR_UNAVAILABLE;
#ifdef MEMKV_HAVE_JEMALLOC
    bool was = false, b = on != 0;
    size_t sz = sizeof(was);
    if (mallctl("prof.active", &was, &sz, &b, sizeof(b)) != 0) return PROF_ERR_MALLCTL;
    if (b && !was) on_activated();
    return 0;
#else
    (void)on;
    return PROF_ERR_UNAVAILABLE;
#endif
}

int prof_is_active(void) {
    if (!prof_available(NULL, 0)) return 0;
#ifdef MEMKV_HAVE_JEMALLOC
    bool b = false;
    size_t sz = sizeof(b);
    return mallctl("prof.active", &b, &sz, NULL, 0) == 0 && b;
#else
    return 0;
#endif
}

int prof_set_sample_bytes(uint64_t bytes) {
    if (bytes < 1024 || bytes > (1ULL << 30) || (bytes & (bytes - 1)) != 0) return PROF_ERR_BADARG;
    if (!prof_available(NULL, 0)) return PROF_ERR_UNAVAILABLE;
#ifdef MEMKV_HAVE_JEMALLOC
    size_t lg = (size_t)__builtin_ctzll(bytes);
    return mallctl("prof.reset", NULL, NULL, &lg, sizeof(lg)) == 0 ? 0 : PROF_ERR_MALLCTL;
#else
    return PROF_ERR_UNAVAILABLE;
#endif
}

uint64_t prof_sample_bytes(void) {
    if (!prof_available(NULL, 0)) return 0;
#ifdef MEMKV_HAVE_JEMALLOC
    size_t lg = 0, sz = sizeof(lg);
    if (mallctl("prof.lg_sample", &lg, &sz, NULL, 0) != 0 || lg >= 64) return 0;
    return 1ULL << lg;
#else
    return 0;
#endif
}

/* ---- the engine's shared state -------------------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int running, stopping;
    int efd;
    prof_job *q_head, *q_tail; /* pending */
    size_t q_len;
    prof_job *d_head, *d_tail; /* finished, for prof_engine_poll */
    prof_settings settings;
    pthread_cond_t sync_cond; /* a synchronous job finished (prof_engine_run) */
} eng = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .sync_cond = PTHREAD_COND_INITIALIZER,
    .efd = -1,
};

/* Main thread only (the cron). */
static int64_t next_snapshot_ms;
static int last_interval_s;
static atomic_int internal_pending; /* a cron snapshot is queued or running */

/* Marks the cron's own jobs (in prof_job.priv): freed by the worker, never polled. */
static char internal_tag;
/* Marks jobs a thread waits for in prof_engine_run; sync_done_tag once finished. */
static char sync_tag, sync_done_tag;

/* ---- the worker's own state (only the worker thread touches it while it runs) ------------- */

static struct {
    prof_symbolizer *sym;
    int sym_failed;
    prof_snapshot *snaps; /* oldest first */
    size_t nsnaps, snapcap;
} wk;

static unsigned dump_seq; /* names memkv chooses; worker only */

static prof_symbolizer *worker_symbolizer(void) {
    if (!wk.sym && !wk.sym_failed) {
        wk.sym = prof_symbolizer_new();
        wk.sym_failed = wk.sym == NULL;
    }
    return wk.sym;
}

static void snapshot_free(prof_snapshot *s) {
    alloc_free(ALLOC_SUB_PROFILER, s->sites);
    s->sites = NULL;
    s->nsites = 0;
}

static void snapshots_trim(size_t keep) {
    if (wk.nsnaps <= keep) return;
    size_t drop = wk.nsnaps - keep;
    for (size_t i = 0; i < drop; i++)
        snapshot_free(&wk.snaps[i]);
    memmove(wk.snaps, wk.snaps + drop, keep * sizeof(*wk.snaps));
    wk.nsnaps = keep;
}

static void worker_cleanup(void) {
    snapshots_trim(0);
    alloc_free(ALLOC_SUB_PROFILER, wk.snaps);
    prof_symbolizer_free(wk.sym);
    memset(&wk, 0, sizeof(wk));
    atomic_store(&libdw_bytes, 0);
    pthread_mutex_lock(&st_lock);
    st.snapshots_held = 0;
    pthread_mutex_unlock(&st_lock);
}

static size_t keep_of(const prof_settings *set) {
    if (set->snapshots_keep <= 0) return PROF_SNAPSHOTS_DEFAULT;
    if (set->snapshots_keep < 2) return 2; /* fewer could never make a leak report */
    if (set->snapshots_keep > PROF_SNAPSHOTS_MAX) return PROF_SNAPSHOTS_MAX;
    return (size_t)set->snapshots_keep;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

static int job_fail(prof_job *j, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int job_fail(prof_job *j, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->err, sizeof(j->err), fmt, ap);
    va_end(ap);
    j->rc = rc;
    return rc;
}

/* Profiling must be usable (and, for a new dump, active). */
static int job_check(prof_job *j, int need_active) {
    char why[192];
    if (!prof_available(why, sizeof(why))) return job_fail(j, PROF_ERR_UNAVAILABLE, "%s", why);
    if (need_active && !prof_is_active()) {
        int capped;
        pthread_mutex_lock(&st_lock);
        capped = st.cap_state == 2;
        pthread_mutex_unlock(&st_lock);
        if (capped)
            return job_fail(j, PROF_ERR_UNAVAILABLE,
                            "profiling is not active (stopped by memory-profiling-max-memory): "
                            "CONFIG SET memory-profiling-enabled yes");
        return job_fail(j, PROF_ERR_UNAVAILABLE, "%s", not_active_msg);
    }
    return 0;
}

/* A heap dump, mapped read-only; text[len] is a NUL. */
typedef struct dump_map {
    char *text;
    size_t len, maplen;
    int64_t time_ns;
} dump_map;

static void dump_unmap(dump_map *m) {
    if (m->text) munmap(m->text, m->maplen);
    m->text = NULL;
}

/* prof.dump into a memfd (nothing touches the disk), then mapped back. */
static int take_dump(prof_job *j, dump_map *m) {
    memset(m, 0, sizeof(*m));
#ifdef MEMKV_HAVE_JEMALLOC
    int fd = memfd_create("memkv-heap", MFD_CLOEXEC);
    if (fd < 0) return job_fail(j, PROF_ERR_IO, "memfd_create: %s", strerror(errno));
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    const char *p = path;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int e = mallctl("prof.dump", NULL, NULL, &p, sizeof(p));
    if (e != 0) {
        close(fd);
        return job_fail(j, PROF_ERR_MALLCTL, "prof.dump failed: %s", strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return job_fail(j, PROF_ERR_IO, "fstat of the dump: %s", strerror(err));
    }
    if (sb.st_size <= 0) {
        close(fd);
        return job_fail(j, PROF_ERR_PARSE, "jemalloc wrote an empty heap dump");
    }
    m->len = (size_t)sb.st_size;
    m->maplen = m->len + 1;
    /* One more byte, zero: the text is NUL-terminated inside the mapping. */
    if (ftruncate(fd, (off_t)m->maplen) != 0) {
        int err = errno;
        close(fd);
        return job_fail(j, PROF_ERR_IO, "ftruncate of the dump: %s", strerror(err));
    }
    void *map = mmap(NULL, m->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return job_fail(j, PROF_ERR_IO, "mmap of the dump: %s", strerror(err));
    m->text = map;
    return 0;
#else
    return job_fail(j, PROF_ERR_UNAVAILABLE, "%s", avail_why);
#endif
}

static double profile_total(const prof_profile *p) {
    double t = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        t += p->samples[i].live_bytes;
    return t;
}

/* Dump, parse, symbolize: the model of the heap now. */
static int load_profile(prof_job *j, prof_profile *p) {
    memset(p, 0, sizeof(*p));
    dump_map m;
    int rc = take_dump(j, &m);
    if (rc) return rc;
    heap_dump d;
    memset(&d, 0, sizeof(d));
    char err[192];
    err[0] = '\0';
    rc = heap_dump_parse(m.text, m.len, &d, err, sizeof(err));
    dump_unmap(&m);
    if (rc) {
        heap_dump_free(&d);
        return job_fail(j, PROF_ERR_PARSE, "cannot parse jemalloc's heap dump: %s", err);
    }
    prof_symbolizer *sym = worker_symbolizer();
    rc = prof_profile_build(&d, sym ? prof_symbolize : NULL, sym, p);
    heap_dump_free(&d);
    if (rc) {
        prof_profile_free(p);
        memset(p, 0, sizeof(*p));
        return job_fail(j, rc, "cannot build the profile: %s", prof_strerror(rc));
    }
    p->time_ns = m.time_ns;
    j->sample_period = p->sample_period;
    j->total_live_bytes = profile_total(p);
    return 0;
}

static int write_all(int fd, const char *data, size_t len) {
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The dump file, created before the dump is taken so a bad name or directory fails fast. Only
 * ever a plain name inside the dump dir: no client path is followed. */
static int create_dump_file(prof_job *j, const prof_settings *set, int *dirfd, int *fd, char *name,
                            size_t namecap) {
    *dirfd = *fd = -1;
    if (!set->dump_dir[0])
        return job_fail(j, PROF_ERR_BADARG,
                        "dumps to files are off: set memory-profiling-dump-dir first (CONFIG SET "
                        "memory-profiling-dump-dir /path/to/dir)");
    if (j->name[0] && !prof_dump_name_valid(j->name))
        return job_fail(j, PROF_ERR_BADARG,
                        "invalid dump file name: 1 to 100 characters of A-Z a-z 0-9 . _ -, not "
                        "starting with '.', no '..' (dumps go only into "
                        "memory-profiling-dump-dir)");
    *dirfd = open(set->dump_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*dirfd < 0)
        return job_fail(j, PROF_ERR_IO, "cannot open memory-profiling-dump-dir %s: %s",
                        set->dump_dir, strerror(errno));
    for (int tries = 0; tries < 1000; tries++) {
        if (j->name[0])
            snprintf(name, namecap, "%s", j->name);
        else
            snprintf(name, namecap, "memkv-heap-%d-%u.%s", (int)getpid(), ++dump_seq,
                     prof_format_extension(j->format));
        *fd = openat(*dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (*fd >= 0 || errno != EEXIST || j->name[0]) break;
    }
    if (*fd < 0) {
        int err = errno;
        close(*dirfd);
        *dirfd = -1;
        return job_fail(j, PROF_ERR_IO, "cannot create %s in memory-profiling-dump-dir: %s", name,
                        err == EEXIST ? "a file of that name exists" : strerror(err));
    }
    size_t dl = strlen(set->dump_dir);
    while (dl > 1 && set->dump_dir[dl - 1] == '/')
        dl--;
    if (snprintf(j->path, sizeof(j->path), "%.*s/%s", (int)dl, set->dump_dir, name) >=
        (int)sizeof(j->path))
        j->path[sizeof(j->path) - 1] = '\0';
    return 0;
}

/* A dump that failed once it was under way (the client gets j->err too). */
static void dump_failed(const prof_job *j) {
    if (!log_fn) return;
    char msg[sizeof(j->err) + 64];
    snprintf(msg, sizeof(msg), "%s heap profile dump failed: %s", prof_format_name(j->format),
             j->err[0] ? j->err : prof_strerror(j->rc));
    log_fn(1, msg);
}

static void job_dump(prof_job *j, const prof_settings *set) {
    if ((unsigned)j->format > PROF_FMT_JSON) {
        job_fail(j, PROF_ERR_BADARG, "unknown dump format");
        return;
    }
    if (job_check(j, 0)) return; /* what was sampled stays readable after STOP */
    int dirfd = -1, fd = -1;
    char name[128];
    if (j->to_file && create_dump_file(j, set, &dirfd, &fd, name, sizeof(name))) {
        pthread_mutex_lock(&st_lock);
        st.dump_errors++;
        pthread_mutex_unlock(&st_lock);
        dump_failed(j);
        return;
    }

    prof_buf_free(&j->out);
    prof_buf_init(&j->out);
    int rc = 0;
    if (j->format == PROF_FMT_RAW) {
        dump_map m;
        rc = take_dump(j, &m);
        if (!rc) {
            j->sample_period = 0;
            unsigned long long period;
            if (sscanf(m.text, "heap_v2/%llu", &period) == 1) j->sample_period = period;
            if (j->to_file) {
                if (write_all(fd, m.text, m.len) != 0)
                    rc = job_fail(j, PROF_ERR_IO, "writing %s: %s", j->path, strerror(errno));
            } else {
                prof_buf_append(&j->out, m.text, m.len);
            }
            dump_unmap(&m);
        }
    } else {
        prof_profile p;
        rc = load_profile(j, &p);
        if (!rc) {
            switch (j->format) {
            case PROF_FMT_PPROF:
                rc = prof_write_pprof(&p, &j->out);
                break;
            case PROF_FMT_COLLAPSED:
                rc = prof_write_collapsed(&p, &j->out);
                break;
            case PROF_FMT_JSON:
                rc = prof_write_json(&p, &j->out);
                break;
            default: {
                char title[160];
                snprintf(title, sizeof(title),
                         "memkv heap profile: live bytes (pid %d, one sample every %llu bytes)",
                         (int)getpid(), (unsigned long long)p.sample_period);
                rc = prof_write_svg(&p, title, &j->out);
                break;
            }
            }
            prof_profile_free(&p);
            if (rc)
                job_fail(j, rc, "cannot write the %s profile: %s", prof_format_name(j->format),
                         prof_strerror(rc));
            else if (j->to_file && write_all(fd, j->out.data, j->out.len) != 0)
                rc = job_fail(j, PROF_ERR_IO, "writing %s: %s", j->path, strerror(errno));
        }
        if (j->to_file) {
            prof_buf_free(&j->out);
            prof_buf_init(&j->out);
        }
    }
    if (fd >= 0) {
        if (close(fd) != 0 && !rc)
            rc = job_fail(j, PROF_ERR_IO, "writing %s: %s", j->path, strerror(errno));
        if (rc) {
            unlinkat(dirfd, name, 0);
            j->path[0] = '\0';
        }
    }
    if (dirfd >= 0) close(dirfd);
    pthread_mutex_lock(&st_lock);
    if (rc)
        st.dump_errors++;
    else
        st.dumps++;
    pthread_mutex_unlock(&st_lock);
    if (rc) dump_failed(j);
}

/* The largest `want` sites of a profile, func strings copied into the same block. */
static void job_top(prof_job *j) {
    if (job_check(j, 0)) return;
    prof_profile p;
    if (load_profile(j, &p)) return;
    size_t want = j->count ? j->count : 10;
    if (want > p.nsamples) want = p.nsamples;
    if (want) {
        prof_site *tmp = alloc_malloc(ALLOC_SUB_PROFILER, want * sizeof(*tmp));
        size_t n = prof_top_sites(&p, tmp, want);
        size_t strbytes = 0;
        for (size_t i = 0; i < n; i++)
            strbytes += strlen(tmp[i].func ? tmp[i].func : "") + 1;
        j->sites = alloc_malloc(ALLOC_SUB_PROFILER, n * sizeof(*tmp) + strbytes);
        char *s = (char *)(j->sites + n);
        for (size_t i = 0; i < n; i++) {
            const char *f = tmp[i].func ? tmp[i].func : "";
            size_t l = strlen(f) + 1;
            j->sites[i] = tmp[i];
            memcpy(s, f, l);
            j->sites[i].func = s;
            s += l;
        }
        j->nresults = n;
        alloc_free(ALLOC_SUB_PROFILER, tmp);
    }
    prof_profile_free(&p);
}

/* Keep the sampled bytes per subsystem in the status, for /metrics beside the exact counters
 * (a scrape cannot wait for a dump, the periodic snapshots provide them). */
static void record_by_subsystem(const prof_profile *p) {
    double by[ALLOC_SUB_COUNT];
    prof_bytes_by_subsystem(p, by, ALLOC_SUB_COUNT);
    pthread_mutex_lock(&st_lock);
    for (int i = 0; i < ALLOC_SUB_COUNT && i < 24; i++)
        st.sampled_by_subsystem[i] = by[i];
    st.sampled_at_ns = p->time_ns ? p->time_ns : 1;
    pthread_mutex_unlock(&st_lock);
}

static void job_subsystems(prof_job *j) {
    if (job_check(j, 0)) return;
    prof_profile p;
    if (load_profile(j, &p)) return;
    j->by_subsystem = alloc_calloc(ALLOC_SUB_PROFILER, ALLOC_SUB_COUNT * sizeof(double));
    prof_bytes_by_subsystem(&p, j->by_subsystem, ALLOC_SUB_COUNT);
    j->nresults = ALLOC_SUB_COUNT;
    record_by_subsystem(&p);
    prof_profile_free(&p);
}

static void job_snapshot(prof_job *j, const prof_settings *set) {
    if (job_check(j, 1)) return;
    prof_profile p;
    if (load_profile(j, &p)) return;
    record_by_subsystem(&p);
    prof_snapshot snap = {.time_ns = p.time_ns};
    if (p.nsamples) {
        prof_site *tmp = alloc_malloc(ALLOC_SUB_PROFILER, p.nsamples * sizeof(*tmp));
        size_t n = prof_top_sites(&p, tmp, p.nsamples);
        snap.sites = alloc_calloc(ALLOC_SUB_PROFILER, (n ? n : 1) * sizeof(*snap.sites));
        for (size_t i = 0; i < n; i++) {
            snprintf(snap.sites[i].func, sizeof(snap.sites[i].func), "%s",
                     tmp[i].func ? tmp[i].func : "");
            snap.sites[i].live_bytes = tmp[i].live_bytes;
        }
        snap.nsites = n;
        alloc_free(ALLOC_SUB_PROFILER, tmp);
    }
    prof_profile_free(&p);

    size_t keep = keep_of(set);
    snapshots_trim(keep - 1);
    if (wk.nsnaps == wk.snapcap) {
        size_t ncap = wk.snapcap ? wk.snapcap * 2 : 4;
        if (ncap > keep) ncap = keep;
        wk.snaps = alloc_realloc(ALLOC_SUB_PROFILER, wk.snaps, ncap * sizeof(*wk.snaps));
        wk.snapcap = ncap;
    }
    wk.snaps[wk.nsnaps++] = snap;
    j->nresults = snap.nsites;
    pthread_mutex_lock(&st_lock);
    st.snapshots++;
    st.snapshots_held = wk.nsnaps;
    pthread_mutex_unlock(&st_lock);
}

static void job_leaks(prof_job *j, const prof_settings *set) {
    if (job_check(j, 0)) return; /* the snapshots already taken stay readable when inactive */
    size_t keep = keep_of(set);
    size_t first = wk.nsnaps > keep ? wk.nsnaps - keep : 0;
    size_t n = wk.nsnaps - first;
    if (n < 2) {
        j->nresults = 0;
        snprintf(j->err, sizeof(j->err), "need at least 2 snapshots; %zu taken", n);
        return;
    }
    const prof_snapshot *snaps = wk.snaps + first;
    size_t bound = 0;
    for (size_t i = 0; i < n; i++)
        bound += snaps[i].nsites;
    size_t want = j->count ? j->count : 10;
    if (want > bound) want = bound;
    if (want) {
        j->suspects = alloc_calloc(ALLOC_SUB_PROFILER, want * sizeof(*j->suspects));
        j->nresults = prof_leak_suspects(snaps, n, j->suspects, want);
    }
    double total = 0;
    for (size_t i = 0; i < snaps[n - 1].nsites; i++)
        total += snaps[n - 1].sites[i].live_bytes;
    j->total_live_bytes = total;
}

static void run_job(prof_job *j, const prof_settings *set) {
    int64_t t0 = util_monotonic_us();
    j->rc = 0;
    j->err[0] = '\0';
    j->path[0] = '\0';
    switch (j->kind) {
    case PROF_JOB_DUMP:
        job_dump(j, set);
        break;
    case PROF_JOB_TOP:
        job_top(j);
        break;
    case PROF_JOB_LEAKS:
        job_leaks(j, set);
        break;
    case PROF_JOB_SUBSYSTEMS:
        job_subsystems(j);
        break;
    case PROF_JOB_SNAPSHOT:
        job_snapshot(j, set);
        break;
    default:
        job_fail(j, PROF_ERR_BADARG, "unknown profiler job");
        break;
    }
    j->duration_ms = (double)(util_monotonic_us() - t0) / 1000.0;
    pthread_mutex_lock(&st_lock);
    st.last_job_ms = j->duration_ms;
    pthread_mutex_unlock(&st_lock);
}

/* ---- the worker thread ------------------------------------------------------------------ */

/* The worker's nice value (Linux: per thread). */
#define WORKER_NICE 10

static void *worker_main(void *arg) {
    (void)arg;
#ifdef MEMKV_HAVE_JEMALLOC
    /* The worker's own allocations (parsing, encoding) are not what the operator looks for:
     * do not sample them (fewer samples, less jemalloc metadata). */
    bool off = false;
    (void)mallctl("thread.prof.active", NULL, NULL, &off, sizeof(off));
#endif
    /* Where the worker and the event loop want the same CPU, the event loop should win: a
     * dump may take a little longer, a client's request should not. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
    pthread_mutex_lock(&eng.lock);
    for (;;) {
        while (!eng.q_head && !eng.stopping)
            pthread_cond_wait(&eng.cond, &eng.lock);
        if (eng.stopping) break;
        prof_job *j = eng.q_head;
        eng.q_head = j->next;
        if (!eng.q_head) eng.q_tail = NULL;
        eng.q_len--;
        j->next = NULL;
        prof_settings set = eng.settings;
        pthread_mutex_unlock(&eng.lock);

        run_job(j, &set);
        atomic_store(&libdw_bytes, prof_symbolizer_libdw_bytes(wk.sym));
        int internal = j->priv == &internal_tag;
        if (j->priv == &sync_tag) {
            /* The waiting thread owns it again from here. */
            pthread_mutex_lock(&eng.lock);
            j->priv = &sync_done_tag;
            pthread_cond_broadcast(&eng.sync_cond);
            continue; /* the loop expects the lock held */
        }
        if (internal) {
            prof_job_free(j);
            atomic_store(&internal_pending, 0);
        }

        pthread_mutex_lock(&eng.lock);
        if (!internal) {
            if (eng.d_tail)
                eng.d_tail->next = j;
            else
                eng.d_head = j;
            eng.d_tail = j;
            uint64_t one = 1;
            ssize_t w = write(eng.efd, &one, sizeof(one)); /* EAGAIN: already readable */
            (void)w;
        }
    }
    pthread_mutex_unlock(&eng.lock);
    worker_cleanup();
    return NULL;
}

int prof_engine_start(int *notify_fd) {
    pthread_mutex_lock(&eng.lock);
    if (eng.running) {
        if (notify_fd) *notify_fd = eng.efd;
        pthread_mutex_unlock(&eng.lock);
        return 0;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        pthread_mutex_unlock(&eng.lock);
        return PROF_ERR_IO;
    }
    eng.efd = efd;
    eng.stopping = 0;
    /* The worker takes no signals: they stay with the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&eng.thread, NULL, worker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        close(efd);
        eng.efd = -1;
        pthread_mutex_unlock(&eng.lock);
        return PROF_ERR_IO;
    }
    pthread_setname_np(eng.thread, "memkv-prof");
    eng.running = 1;
    if (notify_fd) *notify_fd = efd;
    pthread_mutex_unlock(&eng.lock);
    return 0;
}

/* Called with eng.lock held. A synchronous job still queued is handed back to its waiter
 * (which frees it) with an error instead of being freed under its feet. */
static void free_list(prof_job *j) {
    while (j) {
        prof_job *next = j->next;
        if (j->priv == &sync_tag) {
            j->rc = PROF_ERR_UNAVAILABLE;
            snprintf(j->err, sizeof(j->err), "the profiler is shutting down");
            j->priv = &sync_done_tag;
            pthread_cond_broadcast(&eng.sync_cond);
        } else {
            prof_job_free(j);
        }
        j = next;
    }
}

void prof_engine_stop(void) {
    pthread_mutex_lock(&eng.lock);
    if (!eng.running) {
        pthread_mutex_unlock(&eng.lock);
        return;
    }
    eng.stopping = 1;
    pthread_cond_broadcast(&eng.cond);
    pthread_mutex_unlock(&eng.lock);
    pthread_join(eng.thread, NULL); /* waits for the job in progress, if any */

    pthread_mutex_lock(&eng.lock);
    prof_job *q = eng.q_head, *d = eng.d_head;
    eng.q_head = eng.q_tail = eng.d_head = eng.d_tail = NULL;
    eng.q_len = 0;
    close(eng.efd);
    eng.efd = -1;
    eng.running = 0;
    eng.stopping = 0;
    free_list(q);
    free_list(d);
    pthread_mutex_unlock(&eng.lock);
    atomic_store(&internal_pending, 0);
    next_snapshot_ms = 0;
}

void prof_engine_configure(const prof_settings *s) {
    if (!s) return;
    pthread_mutex_lock(&eng.lock);
    eng.settings = *s;
    eng.settings.dump_dir[sizeof(eng.settings.dump_dir) - 1] = '\0';
    pthread_mutex_unlock(&eng.lock);
}

static int submit(prof_job *j, void *tag) {
    if (!j) return PROF_ERR_BADARG;
    j->next = NULL;
    j->priv = tag;
    pthread_mutex_lock(&eng.lock);
    if (!eng.running || eng.stopping) {
        pthread_mutex_unlock(&eng.lock);
        return PROF_ERR_UNAVAILABLE;
    }
    if (eng.q_len >= PROF_QUEUE_MAX) {
        pthread_mutex_unlock(&eng.lock);
        return PROF_ERR_BUSY;
    }
    if (eng.q_tail)
        eng.q_tail->next = j;
    else
        eng.q_head = j;
    eng.q_tail = j;
    eng.q_len++;
    pthread_cond_signal(&eng.cond);
    pthread_mutex_unlock(&eng.lock);
    return 0;
}

int prof_engine_submit(prof_job *j) {
    return submit(j, NULL);
}

int prof_engine_run(prof_job *j) {
    int rc = submit(j, &sync_tag);
    if (rc < 0) return rc;
    pthread_mutex_lock(&eng.lock);
    while (j->priv != &sync_done_tag)
        pthread_cond_wait(&eng.sync_cond, &eng.lock);
    pthread_mutex_unlock(&eng.lock);
    j->priv = NULL;
    return 0;
}

prof_job *prof_engine_poll(void) {
    pthread_mutex_lock(&eng.lock);
    prof_job *j = eng.d_head;
    if (j) {
        eng.d_head = j->next;
        if (!eng.d_head) eng.d_tail = NULL;
        j->next = NULL;
    }
    if (!eng.d_head && eng.efd >= 0) {
        uint64_t v;
        ssize_t r = read(eng.efd, &v, sizeof(v)); /* EAGAIN: nothing to clear */
        (void)r;
    }
    pthread_mutex_unlock(&eng.lock);
    return j;
}

void prof_engine_set_log(prof_log_fn fn) {
    log_fn = fn;
}

static void cap_log(const char *msg) {
    if (log_fn) log_fn(1, msg);
}

/* Over the cap: coarsen the sampling (× 4 up to 2^24), then stop it; one step a second. */
static void cap_enforce(int64_t now_ms, size_t own, uint64_t max) {
    pthread_mutex_lock(&st_lock);
    int state = st.cap_state;
    int64_t last = st.cap_step_ms;
    pthread_mutex_unlock(&st_lock);
    if (own <= max || state == 2) return;
    if (state == 1 && now_ms - last < PROF_CAP_STEP_MS) return;

    char note[160];
    uint64_t sb = prof_sample_bytes();
    if (sb && sb < PROF_CAP_MAX_SAMPLE) {
        uint64_t nb = sb * 4 > PROF_CAP_MAX_SAMPLE ? PROF_CAP_MAX_SAMPLE : sb * 4;
        if (prof_set_sample_bytes(nb) != 0) return;
        snprintf(note, sizeof(note),
                 "memory-profiling-max-memory reached (%llu bytes): sampling coarsened to "
                 "every %llu bytes",
                 (unsigned long long)max, (unsigned long long)nb);
        state = 1;
    } else {
        if (prof_set_active(0) != 0) return;
        snprintf(note, sizeof(note),
                 "memory-profiling-max-memory reached (%llu bytes): sampling stopped",
                 (unsigned long long)max);
        state = 2;
    }
    pthread_mutex_lock(&st_lock);
    st.cap_state = state;
    st.cap_step_ms = now_ms;
    memcpy(st.cap_note, note, sizeof(st.cap_note));
    pthread_mutex_unlock(&st_lock);
    cap_log(note);
}

static size_t own_memory(void) {
    int64_t own = alloc_sub_bytes(ALLOC_SUB_PROFILER);
    int64_t growth = atomic_load(&meta_growth);
    if (own < 0) own = 0;
    if (growth > 0) own += growth;
    own += (int64_t)atomic_load(&libdw_bytes);
    return (size_t)own;
}

void prof_engine_cron(int64_t now_ms) {
    if (!prof_available(NULL, 0)) return;
    int active = prof_is_active();
    prof_settings set;
    pthread_mutex_lock(&eng.lock);
    set = eng.settings;
    int running = eng.running && !eng.stopping;
    pthread_mutex_unlock(&eng.lock);

#ifdef MEMKV_HAVE_JEMALLOC
    /* Active since start-up (MALLOC_CONF prof_active:true): the baseline is taken now. */
    if (active && !atomic_load(&meta_base_set)) on_activated();
    size_t md;
    /* Reading metadata refreshes jemalloc's statistics (tens of µs): only while sampling, which
     * is when the profiler's memory can grow and the cap must be watched. */
    if (active && atomic_load(&meta_base_set) && read_metadata(&md) == 0)
        atomic_store(&meta_growth, (int64_t)md - (int64_t)atomic_load(&meta_base));
#endif

    if (active && running && set.snapshot_interval_s > 0) {
        if (set.snapshot_interval_s != last_interval_s || next_snapshot_ms == 0) {
            last_interval_s = set.snapshot_interval_s;
            next_snapshot_ms = now_ms + (int64_t)set.snapshot_interval_s * 1000;
        } else if (now_ms >= next_snapshot_ms) {
            next_snapshot_ms = now_ms + (int64_t)set.snapshot_interval_s * 1000;
            if (!atomic_load(&internal_pending)) {
                prof_job *j = prof_job_new(PROF_JOB_SNAPSHOT);
                atomic_store(&internal_pending, 1);
                if (submit(j, &internal_tag) != 0) {
                    atomic_store(&internal_pending, 0);
                    prof_job_free(j);
                }
            }
        }
    } else {
        /* The first snapshot comes one interval after activation (or after the interval is set,
         * or after the engine starts). */
        next_snapshot_ms = 0;
    }

    if (active && set.max_memory > 0) cap_enforce(now_ms, own_memory(), set.max_memory);
}

void prof_status_get(prof_status *out) {
    memset(out, 0, sizeof(*out));
    out->available = prof_available(out->why_unavailable, sizeof(out->why_unavailable));
    if (out->available) {
        out->active = prof_is_active();
        out->sample_bytes = prof_sample_bytes();
    }
    pthread_mutex_lock(&st_lock);
    out->dumps = st.dumps;
    out->dump_errors = st.dump_errors;
    out->snapshots = st.snapshots;
    out->snapshots_held = st.snapshots_held;
    out->cap_state = st.cap_state;
    memcpy(out->cap_note, st.cap_note, sizeof(out->cap_note));
    out->last_job_ms = st.last_job_ms;
    memcpy(out->sampled_by_subsystem, st.sampled_by_subsystem, sizeof(out->sampled_by_subsystem));
    out->sampled_at_ns = st.sampled_at_ns;
    pthread_mutex_unlock(&st_lock);
    out->own_memory = own_memory();
}
