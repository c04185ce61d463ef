/* profiler — the heap profiler: jemalloc's sampling switched on and off at run time, dumps
 * parsed and symbolized in-process, written as pprof / collapsed stacks / SVG flame graph / raw,
 * and turned into reports (top allocation sites, leak suspects, bytes per subsystem).
 *
 * Two layers:
 *  - pure pieces (no globals, no threads, unit-tested alone): the heap-dump parser, the
 *    profile model, the writers, the reports, the subsystem attribution of a stack;
 *  - the engine: jemalloc control (prof.active, prof.reset, prof.dump to a memfd), the
 *    symbolizer (elfutils libdw, on this process), periodic snapshots, and a worker thread that
 *    runs every heavy job so the event loop never waits on it.
 *
 * The engine's completion of a job is announced by writing to an eventfd the caller watches
 * (prof_engine_notify_fd); the caller then collects finished jobs with prof_engine_poll. Only
 * src/alloc, src/memory and this module call mallctl.
 */
#ifndef MEMKV_PROFILER_H
#define MEMKV_PROFILER_H

#include <stddef.h>
#include <stdint.h>

/* Error codes (negative), text from prof_strerror. */
#define PROF_ERR_UNAVAILABLE (-2) /* jemalloc without profiling, or not started with prof:true */
#define PROF_ERR_PARSE (-3)
#define PROF_ERR_MALLCTL (-4)
#define PROF_ERR_IO (-5)
#define PROF_ERR_NOMEM (-6) /* over memory-profiling-max-memory */
#define PROF_ERR_BADARG (-7)
#define PROF_ERR_BUSY (-8)
const char *prof_strerror(int code);

/* ---- growable byte buffer (writers' output) ----
 * data is NULL until the first append; from then on data[len] is always '\0', so a text output
 * can be used as a C string. Writers append to what is already there. Out of memory aborts. */
typedef struct prof_buf {
    char *data;
    size_t len, cap;
} prof_buf;
void prof_buf_init(prof_buf *b);
void prof_buf_free(prof_buf *b);
void prof_buf_append(prof_buf *b, const void *p, size_t n);
void prof_buf_printf(prof_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- raw jemalloc heap dump (heap_v2) ---- */
typedef struct heap_stack {
    uint64_t *addrs; /* return addresses, innermost first, as in the dump */
    size_t naddrs;
    uint64_t live_objs, live_bytes;   /* t*: raw sampled counts */
    uint64_t accum_objs, accum_bytes; /* [accum] (0 unless prof_accum) */
} heap_stack;

typedef struct heap_dump {
    uint64_t sample_period; /* 2^lg_sample, from the "heap_v2/N" header */
    uint64_t total_live_objs, total_live_bytes;
    heap_stack *stacks;
    size_t nstacks;
    char *maps; /* the MAPPED_LIBRARIES section (copy of /proc/self/maps), NUL-terminated */
} heap_dump;

/* Parse a whole dump. Pure: does not touch the process. Returns 0, or PROF_ERR_PARSE with a
 * reason ("line N: …") in err (>= 128 bytes). */
int heap_dump_parse(const char *text, size_t len, heap_dump *out, char *err, size_t errcap);
void heap_dump_free(heap_dump *d);

/* jeprof's unbiasing: scale factor 1 / (1 − exp(−avg/period)), avg = bytes/objs. */
double heap_scale(uint64_t objs, uint64_t bytes, uint64_t period);

/* ---- symbolized profile: the model every writer and report works from ---- */
typedef struct prof_location {
    uint64_t addr;    /* return address as dumped */
    const char *func; /* symbol name, or "0x…" when unknown (owned by the profile) */
    const char *file; /* mapping (binary or library path) or NULL */
} prof_location;

typedef struct prof_sample {
    uint32_t *locs; /* indexes into prof_profile.locs, innermost first, allocator frames gone */
    size_t nlocs;
    double live_objs, live_bytes;   /* scaled estimates */
    double alloc_objs, alloc_bytes; /* scaled; equal to live when the dump has no accum */
    int subsystem;                  /* alloc_sub value from prof_attribute_stack */
} prof_sample;

typedef struct prof_profile {
    uint64_t sample_period;
    int64_t time_ns; /* when the dump was taken (CLOCK_REALTIME) */
    prof_location *locs;
    size_t nlocs;
    prof_sample *samples;
    size_t nsamples;
    void *arena; /* private: owns strings */
} prof_profile;
void prof_profile_free(prof_profile *p);

/* A symbolizer turns an address into a function name (and the file it lives in). */
typedef int (*prof_symbolize_fn)(void *ctx, uint64_t addr, char *func, size_t fcap, char *file,
                                 size_t filecap);

/* Build the model from a dump: symbolize every address (addr − 1 for the calling line), drop
 * jemalloc's own frames and the allocation wrappers (innermost frames named "je_…",
 * "prof_backtrace…", "prof_alloc…", "imalloc…", "arena_…", "tcache_…", malloc, calloc, realloc,
 * mallocx, rallocx, alloc_malloc…, see prof_is_allocator_frame — not memkv's own prof_…
 * functions), scale the counts, attribute each stack to a subsystem. sym may be NULL
 * (addresses shown as 0x…).
 * Precisely: each distinct address is symbolized once, and sym receives addr − 1 (0 stays 0);
 * a nonzero return or an empty name means unknown ("0x<addr>", file NULL). Only the leading run
 * of allocator frames goes (unknown frames inside that run go with it); a stack that is nothing
 * but allocator frames keeps its outermost one. Stacks whose four counts are all 0 are dropped;
 * stacks identical after stripping become one sample (values summed, each scaled on its own);
 * locs holds only referenced locations. time_ns is set to now (CLOCK_REALTIME): the caller
 * overwrites it with the dump's time. Returns 0 or PROF_ERR_BADARG; out is zeroed on error and
 * prof_profile_free on it is harmless either way. */
int prof_profile_build(const heap_dump *d, prof_symbolize_fn sym, void *symctx, prof_profile *out);
int prof_is_allocator_frame(const char *func);

/* The subsystem (an alloc_sub value) a stack's memory belongs to, from the function names of
 * its frames, innermost first (e.g. db_set_string → strings, reply_… → output_buffers,
 * resp_…/read_handler → query_buffers, client_new → clients, prof_… → profiler, MHD_…/http_ →
 * http, otherwise other). */
int prof_attribute_stack(const char *const *funcs, size_t n);

/* ---- writers ---- */
/* gzipped profile.proto (go tool pprof): sample types alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes; period_type space/bytes; default inuse_space. */
int prof_write_pprof(const prof_profile *p, prof_buf *out);
/* "frame;frame;frame bytes\n", outermost first, one line per distinct stack (live bytes). Stacks
 * are compared by text (one function at two addresses is one frame), lines sorted bytewise,
 * stacks whose live bytes round to 0 left out; ';' and blanks inside a name become '_'. */
int prof_write_collapsed(const prof_profile *p, prof_buf *out);
/* Self-contained SVG flame graph (no scripts needed to read it; <title> tooltips). title NULL or
 * "" = "memkv heap profile". Names are XML-escaped; bytes outside printable ASCII become '?'. */
int prof_write_svg(const prof_profile *p, const char *title, prof_buf *out);

/* The stacks merged into a tree by live bytes, as JSON, for the console's flame graph:
 * {"sample_period":N,"total_bytes":B,"nodes":K,"root":NODE}, NODE = [name, bytes, [NODE…]]
 * (the root is "all"; children largest first, outermost frame first; a child under
 * PROF_JSON_MIN_SHARE of the total is left out, with its own children). */
#define PROF_JSON_MIN_SHARE 1e-4
int prof_write_json(const prof_profile *p, prof_buf *out);

/* ---- reports ---- */
typedef struct prof_site {
    const char *func; /* the innermost non-allocator frame: the allocation site */
    double live_bytes, live_objs;
    double share; /* of the profile's total live bytes, 0..1 */
    int subsystem;
} prof_site;
/* Sites by live bytes, largest first; returns how many were written. */
size_t prof_top_sites(const prof_profile *p, prof_site *out, size_t cap);

/* Sampled live bytes per subsystem (index = alloc_sub value), for comparison with the exact
 * counters. */
void prof_bytes_by_subsystem(const prof_profile *p, double *out, size_t nsub);

/* Leak suspects from a series of snapshots (oldest first): sites whose live bytes grew in most
 * of the last K intervals. */
typedef struct prof_snapshot_site {
    char func[128];
    double live_bytes;
} prof_snapshot_site;
typedef struct prof_snapshot {
    int64_t time_ns;
    prof_snapshot_site *sites;
    size_t nsites;
} prof_snapshot;
typedef struct prof_suspect {
    char func[128];
    double live_bytes;    /* in the newest snapshot */
    double growth_bytes;  /* newest − oldest */
    double bytes_per_sec; /* growth rate over the series */
    int grew_intervals;   /* intervals in which it grew */
    int intervals;        /* intervals considered */
} prof_suspect;
size_t prof_leak_suspects(const prof_snapshot *snaps, size_t nsnaps, prof_suspect *out, size_t cap);

/* ---- the in-process symbolizer (elfutils libdwfl on this process) ---- */

/* Not thread-safe: one symbolizer per thread (the engine's worker owns one). Results are cached
 * per address for the symbolizer's life; an address in no known module makes it re-read the
 * process's mappings (at most once a second), for libraries loaded later. Its own memory is
 * counted to the profiler subsystem; libdw's is measured apart (prof_symbolizer_libdw_bytes). */
typedef struct prof_symbolizer prof_symbolizer;
prof_symbolizer *prof_symbolizer_new(void); /* NULL if libdw cannot read this process */
void prof_symbolizer_free(prof_symbolizer *s);
/* A prof_symbolize_fn; ctx is a prof_symbolizer. Looks `addr` up as given (the caller subtracts
 * 1 from a return address). Returns 0 when the address is in a module (binary or library) of
 * the process, with its path in file and in func the symbol's name, or "<module>+0x<offset>"
 * when no symbol covers it (a static function of a stripped library; inside libjemalloc
 * "je_internal@<module>+0x<offset>", so that jemalloc's frames are recognised and cut off).
 * Otherwise -1, "0x…" in func and "" in file. */
int prof_symbolize(void *ctx, uint64_t addr, char *func, size_t fcap, char *file, size_t filecap);
size_t prof_symbolizer_cached(const prof_symbolizer *s); /* addresses in the cache */
/* Heap bytes libdw keeps for it (symbol tables, module data), measured with jemalloc's
 * per-thread counters around libdw's calls; 0 without jemalloc. Part of the engine's own
 * memory (prof_status.own_memory) though not of the profiler subsystem's exact counter. */
size_t prof_symbolizer_libdw_bytes(const prof_symbolizer *s);

/* ---- the sampler's unwinder (unwind.c) ---- */

/* 1: replace jemalloc's backtrace (libgcc's unwinder) by a frame-pointer walk from memkv's
 * allocation wrappers; 0: give jemalloc's back. Any time, any thread. 0, or -1 when this build
 * has no frame pointers or jemalloc lacks the hook (libgcc's then stays). */
int prof_unwind_select(int frame_pointer);
/* The calling thread's stack ends at `end` (exclusive; main passes the end of its own frame
 * record): the walk runs only on threads that said so, and never reads past it. */
void prof_unwind_register_stack(void *end);
const char *prof_unwinder_name(void); /* "frame-pointer" or "libgcc" */
/* Samples unwound by frame pointers, and those handed to jemalloc's unwinder. */
void prof_unwind_counts(uint64_t *walks, uint64_t *fallbacks);

/* ---- the engine (control, symbolizer, worker thread, snapshots) ---- */

/* 1 if heap profiling can be used; otherwise 0 and why (what to do) in `why`, e.g. "jemalloc
 * was built without profiling (config.prof is false)" or "the process was started without
 * prof:true: start memkv with MALLOC_CONF=prof:true (memkv embeds it unless overridden)". */
int prof_available(char *why, size_t cap);

/* prof.active. Returns 0 or an error code. */
int prof_set_active(int on);
int prof_is_active(void);
/* Mean bytes between samples; must be a power of two in [2^10, 2^30]; applied with prof.reset
 * (which also clears what was sampled so far). */
int prof_set_sample_bytes(uint64_t bytes);
uint64_t prof_sample_bytes(void);

typedef enum prof_format {
    PROF_FMT_PPROF = 0,
    PROF_FMT_RAW,
    PROF_FMT_COLLAPSED,
    PROF_FMT_SVG,
    PROF_FMT_JSON
} prof_format;
const char *prof_format_name(prof_format f);      /* "pprof", "raw", "collapsed", "svg", "json" */
const char *prof_format_extension(prof_format f); /* "pb.gz", "heap", "folded", "svg", "json" */
int prof_format_parse(const char *name, prof_format *out); /* case-insensitive */

/* A file name a client may choose for a dump: 1..100 chars of [A-Za-z0-9._-], not starting
 * with '.', no "..". Anything else (a '/', an absolute path) is refused. */
int prof_dump_name_valid(const char *name);

typedef enum prof_job_kind {
    PROF_JOB_DUMP = 0,   /* a profile in `format`, into `out` or into a file in the dump dir */
    PROF_JOB_TOP,        /* top `count` sites by live bytes */
    PROF_JOB_LEAKS,      /* leak suspects from the kept snapshots */
    PROF_JOB_SUBSYSTEMS, /* sampled live bytes per subsystem */
    PROF_JOB_SNAPSHOT,   /* take a snapshot now (the cron's periodic ones too) */
} prof_job_kind;

typedef struct prof_job {
    /* request, set by the caller */
    prof_job_kind kind;
    prof_format format;
    size_t count;   /* TOP / LEAKS: how many entries */
    int to_file;    /* DUMP: write into the dump dir instead of `out` */
    char name[128]; /* DUMP to file: client-chosen name, "" = memkv chooses */
    uint64_t owner; /* caller's tag (the client id); the engine does not read it */
    /* result, set by the engine */
    int rc; /* 0 or an error code */
    char err[256];
    prof_buf out;           /* DUMP: the bytes (unless to_file) */
    char path[512];         /* DUMP to file: where it went */
    prof_site *sites;       /* TOP (func strings owned by the job) */
    prof_suspect *suspects; /* LEAKS */
    size_t nresults;
    double *by_subsystem;    /* SUBSYSTEMS: ALLOC_SUB_COUNT entries */
    double total_live_bytes; /* of the profile the job looked at */
    uint64_t sample_period;
    double duration_ms; /* time the job took on the worker */
    /* private */
    struct prof_job *next;
    void *priv;
} prof_job;

prof_job *prof_job_new(prof_job_kind kind);
void prof_job_free(prof_job *j);

typedef struct prof_settings {
    char dump_dir[512];      /* "" = dumps to files refused */
    int snapshot_interval_s; /* 0 = no periodic snapshots */
    int snapshots_keep;      /* how many snapshots the leak report looks back over */
    uint64_t max_memory;     /* cap on the profiler's own memory (0 = no cap) */
} prof_settings;

/* Start the worker thread. notify_fd receives an eventfd that becomes readable when jobs
 * finish. Returns 0 or an error code. */
int prof_engine_start(int *notify_fd);
void prof_engine_stop(void); /* joins the worker; frees pending and finished jobs */
void prof_engine_configure(const prof_settings *s); /* any time; copied */

/* Hand a job to the worker (the engine owns it until prof_engine_poll returns it). On an error
 * return (PROF_ERR_UNAVAILABLE: engine not started; PROF_ERR_BUSY: 64 jobs pending) the caller
 * keeps it. */
int prof_engine_submit(prof_job *j);
/* Run a job and wait for it, from a thread that may block (the HTTP thread; never the event
 * loop). Returns 0 with the job's own result in j->rc, or an error code if it could not be
 * queued. The caller keeps ownership of j throughout. */
int prof_engine_run(prof_job *j);
/* One finished job, or NULL. Drains the eventfd when none is left. Main thread. */
prof_job *prof_engine_poll(void);

/* From the cron, on the main thread: periodic snapshots when due and active, and the memory
 * cap: over max_memory the sampling is coarsened (sample bytes × 4, up to 2^24), then stopped;
 * each step is logged through the log hook and shows in the status. */
void prof_engine_cron(int64_t now_ms);
typedef void (*prof_log_fn)(int warning, const char *msg);
void prof_engine_set_log(prof_log_fn fn);

typedef struct prof_status {
    int available;
    int active;
    uint64_t sample_bytes;
    size_t own_memory;    /* profiler subsystem bytes + jemalloc metadata grown since start */
    uint64_t dumps;       /* dumps produced */
    uint64_t dump_errors; /* dumps that failed (dump dir unwritable or full, …): each logged */
    uint64_t snapshots;   /* snapshots taken */
    size_t snapshots_held;
    int cap_state;      /* 0 under the cap, 1 coarsened, 2 stopped by the cap */
    char cap_note[160]; /* what the cap did, for INFO and STATUS */
    double last_job_ms; /* duration of the last job */
    char why_unavailable[192];
    /* Sampled live bytes per subsystem (index = alloc_sub) from the latest snapshot or
     * SUBSYSTEMS job; sampled_at_ns 0 = none yet. */
    double sampled_by_subsystem[24];
    int64_t sampled_at_ns;
} prof_status;
void prof_status_get(prof_status *out); /* any thread */

#endif
