/* memory — what the allocator and the process hold, and what it means.
 *
 * Reads jemalloc's statistics (after bumping `epoch`, names resolved once with
 * mallctlnametomib), the per-size-class bins (where internal fragmentation lives), the state of
 * background threads and decay, the process RSS from /proc, and turns them into Redis's ratios.
 * The doctor turns one snapshot into plain-language findings.
 *
 * Thread-safe: every function may be called from any thread (mallctl is thread-safe); nothing
 * here touches the key space or clients. Builds without jemalloc (the sanitizer build) report
 * `available = 0` and still give RSS; functions that need jemalloc return MEM_ERR_NO_JEMALLOC.
 */
#ifndef MEMKV_MEMORY_H
#define MEMKV_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MEM_ERR_INVALID (-1)     /* a NULL or out-of-range argument */
#define MEM_ERR_NO_JEMALLOC (-2) /* built without jemalloc (sanitizer build, libc malloc) */
#define MEM_ERR_MALLCTL (-3)     /* jemalloc refused a mallctl (unknown name or index) */

/* A short English text for a MEM_ERR_* code (0 gives "ok"). Static storage. */
const char *mem_strerror(int err);

typedef struct mem_allocator_stats {
    int available;    /* 1 with jemalloc */
    char version[32]; /* "5.3.0" (jemalloc's version up to the first '-'); "" without jemalloc */
    size_t allocated, active, metadata, resident, mapped, retained;
    int background_thread; /* 1 on, 0 off, -1 unknown */
    ssize_t dirty_decay_ms, muzzy_decay_ms;
    unsigned narenas;
    size_t page_size;
} mem_allocator_stats;

/* Refresh jemalloc's snapshot (epoch) and read it. Returns 0 (also without jemalloc, with
 * available = 0, background_thread = -1 and page_size from sysconf), or MEM_ERR_MALLCTL when one
 * of the six byte figures could not be read (the others are still filled where possible). */
int mem_allocator_stats_read(mem_allocator_stats *out);

/* Several reads from one snapshot: begin refreshes jemalloc's statistics once, and the reads
 * of this thread until the matching end use that snapshot instead of refreshing each time
 * (cheaper, and the figures agree with each other). Nests. */
void mem_stats_batch_begin(void);
void mem_stats_batch_end(void);

/* One small size class, merged over all arenas. */
typedef struct mem_bin {
    size_t size;       /* region size in bytes */
    uint32_t nregs;    /* regions per slab */
    size_t curregs;    /* regions in use */
    size_t curslabs;   /* slabs in use */
    size_t free_bytes; /* (curslabs * nregs - curregs) * size: this class's fragmentation */
} mem_bin;

/* Fill up to cap bins (jemalloc 5.3 has 36 small classes with 4 KiB pages; MEM_BINS_MAX is
 * always enough); *n = how many exist (0 on error). out may be NULL when cap is 0. Bumps epoch.
 * Returns 0 or an error code. */
#define MEM_BINS_MAX 64
int mem_bins_read(mem_bin *out, size_t cap, size_t *n);

/* Active and resident bytes of one arena (pactive/president... from stats.arenas.<i>.*), for
 * subsystems that have an arena of their own. */
typedef struct mem_arena_stats {
    size_t active;    /* pactive * page */
    size_t dirty;     /* pdirty * page */
    size_t muzzy;     /* pmuzzy * page */
    size_t resident;  /* stats.arenas.<i>.resident */
    size_t allocated; /* small.allocated + large.allocated */
} mem_arena_stats;
/* arena may be MALLCTL_ARENAS_ALL (4096) for the merged figures. Bumps epoch. Returns 0,
 * MEM_ERR_MALLCTL for an arena that does not exist (yet), or MEM_ERR_NO_JEMALLOC. */
int mem_arena_stats_read(unsigned arena, mem_arena_stats *out);

/* Process resident set size in bytes (/proc/self/statm), 0 if unknown. */
size_t mem_process_rss(void);
/* 1 in an AddressSanitizer build: its allocator's quarantine, redzones and shadow memory are in
 * the RSS, which then says nothing about memkv's own use (the doctor does not judge it). */
int mem_rss_inflated(void);
/* Highest RSS the process has had (VmHWM in /proc/self/status), 0 if unknown. */
size_t mem_process_rss_peak(void);

/* Return dirty and muzzy pages of every arena to the OS (arena.<ALL>.purge). */
int mem_purge(void);

/* Run-time tuning of jemalloc (CONFIG SET jemalloc-*): the dirty and muzzy decay times, in ms
 * (-1: never decay; 0: return at once), of every arena and of arenas created later; the
 * background thread that returns decayed pages while the server is idle. 0, or
 * MEM_ERR_NO_JEMALLOC / MEM_ERR_MALLCTL. */
int mem_set_decay(ssize_t dirty_ms, ssize_t muzzy_ms);
int mem_set_background_thread(int on);

/* jemalloc's own report (malloc_stats_print) into a new NUL-terminated buffer (allocated as
 * ALLOC_SUB_OTHER) the caller frees with mem_text_free; *len excludes the NUL. opts as
 * malloc_stats_print's (NULL = default). On error *out = NULL, *len = 0. */
int mem_malloc_stats(const char *opts, char **out, size_t *len);
void mem_text_free(char *text);

/* Redis's ratios and their byte differences (numerator - denominator, may be negative), from one
 * snapshot. A ratio whose denominator is 0 (e.g. no jemalloc: allocator figures are 0) is
 * reported as 1.0 with 0 bytes: "nothing known" reads as neutral, never as inf/NaN, so
 * dashboards and alert rules stay quiet. a may be NULL (treated as all zeros). */
typedef struct mem_ratios {
    double allocator_frag_ratio; /* active / allocated */
    long long allocator_frag_bytes;
    double allocator_rss_ratio; /* resident / active */
    long long allocator_rss_bytes;
    double rss_overhead_ratio; /* process rss / resident */
    long long rss_overhead_bytes;
    double mem_fragmentation_ratio; /* process rss / used_memory */
    long long mem_fragmentation_bytes;
} mem_ratios;
void mem_ratios_compute(const mem_allocator_stats *a, size_t rss, size_t used_memory,
                        mem_ratios *out);

/* ---- the doctor ---- */

#define MEM_SUBSYSTEMS_MAX 24

/* A client the doctor may name: the one holding the largest buffer of one kind (all zero
 * when no client holds any). */
typedef struct mem_client_top {
    uint64_t id;
    char addr[64];
    char name[64];
    size_t bytes;
} mem_client_top;

/* The pub/sub subscriber with the largest output buffer (all zero when no client is
 * subscribed), with what the doctor needs to judge it: the pubsub class's limits
 * (client-output-buffer-limit pubsub; 0 = no such limit), how long the buffer has been over the
 * soft limit, and what the client listens to. */
typedef struct mem_subscriber_top {
    uint64_t id;
    char addr[64];
    char name[64];
    size_t bytes;                  /* its pending output, what the limits are checked on */
    size_t hard_limit, soft_limit; /* bytes, 0 = none */
    uint64_t soft_seconds;         /* how long above soft_limit closes it */
    uint64_t over_soft_ms;         /* how long it has been above soft_limit, 0 = not above */
    size_t channels, patterns, shard_channels;
    size_t subscribers;       /* subscribed clients in all */
    size_t subscribers_bytes; /* their output buffers together */
} mem_subscriber_top;

/* Something in the key space whose bytes grow: a key prefix ("user:#:cart") or a type. */
#define MEM_GROWTH_MAX 3
typedef struct mem_growth {
    char name[80]; /* the prefix or the type, NUL-terminated (cut if longer) */
    int is_type;
    double bytes_per_hour; /* slope of the least-squares line through the window */
    double steadiness;     /* r^2 of that line, 0..1: 1 is a straight climb */
    double window_seconds;
    size_t bytes, keys, keys_without_ttl; /* now */
} mem_growth;

/* The key space as the doctor sees it (src/db/kstats and the in-process history). Fixed size,
 * no pointers, so it can travel in a published snapshot. known == 0: statistics are off and
 * the key-space rules stay silent. */
typedef struct mem_keyspace {
    int known;
    size_t data_bytes; /* sum of every key's MEMORY USAGE */
    size_t keys, volatile_keys, volatile_bytes;
    /* the largest key */
    char big_key[96]; /* printable form, NUL-terminated, cut with "..." */
    int big_key_db;
    char big_key_type[8];
    size_t big_key_bytes, big_key_length;
    /* the fastest steady growers, fastest first (prefixes; types when no prefix explains it) */
    size_t ngrowth;
    mem_growth growth[MEM_GROWTH_MAX];
    /* used memory over the same window */
    double used_bytes_per_hour, used_steadiness, window_seconds;
    size_t machine_memory; /* physical memory, 0 = unknown */
} mem_keyspace;

/* The script cache and the Lua heap (the scripting subsystem) as the doctor sees them; all zero
 * when no script was ever run. Fixed size, no pointers (it travels in a published snapshot). */
typedef struct mem_scripts {
    size_t cached;      /* scripts in the cache */
    size_t eval_cached; /* of which EVAL brought in (the evictable ones) */
    size_t compiled;    /* distinct scripts compiled since start-up */
    size_t evicted;     /* EVAL scripts evicted past cache_max (since CONFIG RESETSTAT) */
    size_t cache_max;   /* lua-script-cache-max */
    size_t cache_bytes; /* bodies and the cache's structures (used_memory_scripts_eval) */
    size_t heap_bytes;  /* the Lua heap (used_memory_lua) */
} mem_scripts;

/* Everything the doctor looks at, gathered by the caller at one moment. */
typedef struct mem_snapshot {
    mem_allocator_stats alloc;
    size_t rss;
    size_t rss_baseline; /* process RSS right after start-up (an empty server's own cost) */
    int rss_inflated;    /* mem_rss_inflated(): RSS is not compared with used memory */
    size_t used_memory;  /* what the server accounts for */
    size_t used_memory_peak;
    size_t maxmemory; /* 0 = none */
    size_t nsub;
    struct {
        const char *name;
        size_t bytes;
    } sub[MEM_SUBSYSTEMS_MAX];
    const mem_bin *bins;
    size_t nbins;
    /* the client with the largest output buffer, and the one with the largest query buffer */
    mem_client_top top_obuf, top_qbuf;
    /* the subscriber with the largest output buffer, against the pubsub limits */
    mem_subscriber_top top_sub;
    size_t clients;
    size_t keys;
    const char *maxmemory_policy; /* e.g. "noeviction", "allkeys-lru"; NULL = unknown */
    mem_keyspace keyspace;
    mem_scripts scripts;
} mem_snapshot;

/* Fill the allocator half of a snapshot: alloc, rss, and the bins (into the caller's array of
 * cap entries, which s->bins then points to). The server's own figures (used memory, baseline,
 * subsystems, clients, maxmemory) are left as they are. Returns 0 or an error code from
 * mem_allocator_stats_read (bins are simply absent without jemalloc). */
int mem_snapshot_read_allocator(mem_snapshot *s, mem_bin *bins, size_t cap);

typedef enum mem_severity { MEM_INFO = 0, MEM_WARNING = 1, MEM_CRITICAL = 2 } mem_severity;
const char *mem_severity_name(mem_severity s); /* "info", "warning", "critical" */

typedef struct mem_finding {
    mem_severity severity;
    char code[32];   /* stable identifier, e.g. "allocator-fragmentation" */
    char text[1024]; /* one paragraph (no newlines): what, with numbers, and a next step */
    size_t bytes;    /* memory at stake; orders findings of equal severity */
} mem_finding;

/* Thresholds, so tests and operators can reason about them. A finding needs BOTH a ratio (or
 * share) above its threshold AND an absolute number of bytes above min_waste_bytes, so a small
 * instance never cries wolf. */
typedef struct mem_doctor_limits {
    size_t min_waste_bytes;    /* default 32 MiB */
    double frag_ratio;         /* allocator fragmentation, default 1.3 */
    double rss_ratio;          /* allocator rss (dirty pages), default 1.3 */
    double rss_overhead_ratio; /* non-allocator memory, default 1.5 */
    double subsystem_share;    /* a non-data subsystem above this share, default 0.5 */
    double client_share;       /* one client's buffer above this share of used, 0.2 */
    double peak_ratio;         /* peak vs now, default 2.0 */
    double maxmemory_share;    /* used memory above this share of maxmemory, 0.9 */
    double retained_ratio;     /* retained vs mapped for the (info) note, default 4.0 */
    double big_key_share;      /* one key above this share of the data set, default 0.25 */
    double growth_steadiness;  /* r^2 a growth needs to count as steady, default 0.8 */
    double volatile_share;     /* volatile-* with less than this share of bytes under a TTL, 0.1 */
    /* A subscriber is behind when its output buffer is above the pubsub soft limit, or above
     * this share of the hard limit (default 0.5), AND at least subscriber_min_bytes (1 MiB);
     * without any pubsub limit it needs min_waste_bytes. Judged at any instance size: the
     * limit disconnects it however small the server is. */
    double subscriber_limit_share;
    size_t subscriber_min_bytes;
    /* An application generates scripts (a new script text per call) when at least
     * script_evicted_min (1000) EVAL scripts were evicted AND they are at least
     * script_churn_share (0.5) of the distinct scripts ever compiled (judged at any size: the
     * churn costs a compile per call however small the server is); or, on an instance that is
     * not small, when at least script_count_min (1000) scripts are cached AND the cache and
     * the Lua heap hold >= min_waste_bytes AND > script_share (0.25) of used memory. */
    size_t script_evicted_min;
    double script_churn_share;
    size_t script_count_min;
    double script_share;
} mem_doctor_limits;
mem_doctor_limits mem_doctor_limits_default(void);

/* Findings, worst first (severity, then bytes at stake); returns how many were written (<= cap).
 * Zero findings means all is well; mem_doctor_report then says so with the key numbers. Pure: it
 * reads only s (no mallctl, no globals). lim NULL = mem_doctor_limits_default(). The rules and
 * their thresholds are described at the top of doctor.c. */
size_t mem_doctor(const mem_snapshot *s, const mem_doctor_limits *lim, mem_finding *out,
                  size_t cap);

/* The whole plain-text report MEMORY DOCTOR returns (caller frees with mem_text_free): a one-line
 * verdict ("No memory problems found." or "N finding(s):"), the findings, then "Key figures".
 * Lines end in "\n" and stay under 100 columns. lim NULL = defaults. Never NULL. */
char *mem_doctor_report(const mem_snapshot *s, const mem_doctor_limits *lim);

#endif
