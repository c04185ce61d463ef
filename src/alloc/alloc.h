/* alloc — the one allocation wrapper of memkv.
 *
 * Every allocation names the subsystem it belongs to; the wrapper counts usable sizes (what the
 * allocator really hands out, not what was asked for) per subsystem. Counting is lock-free:
 * each thread owns a slot of counters that only it writes (plain relaxed stores), readers sum
 * the slots. Out of memory aborts, as in Redis: a half-applied command is worse than a crash.
 */
#ifndef MEMKV_ALLOC_H
#define MEMKV_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef enum alloc_sub {
    ALLOC_SUB_OTHER = 0,
    ALLOC_SUB_STRINGS,
    ALLOC_SUB_HASHES,
    ALLOC_SUB_LISTS,
    ALLOC_SUB_SETS,
    ALLOC_SUB_ZSETS,
    ALLOC_SUB_KEY_INDEX,
    ALLOC_SUB_EXPIRES_INDEX,
    ALLOC_SUB_QUERY_BUF,
    ALLOC_SUB_OUTPUT_BUF,
    ALLOC_SUB_CLIENTS,
    ALLOC_SUB_PROFILER,
    ALLOC_SUB_HTTP,
    ALLOC_SUB_KEYSPACE_STATS, /* src/db/kstats: per-type, per-prefix totals, top keys */
    ALLOC_SUB_SLOWLOG,        /* SLOWLOG, LATENCY samples, per-command histograms, errorstats */
    ALLOC_SUB_PUBSUB,         /* pub/sub channel and pattern tables, per-client subscriptions */
    ALLOC_SUB_SCRIPTING,      /* the Lua heap, the script cache (src/server/script*.c) */
    ALLOC_SUB_TRACKING,       /* client-side caching: tracking table, BCAST prefixes (src/server) */
    ALLOC_SUB_SNAPSHOT,       /* a running BGSAVE: serialized keys waiting for its writer thread */
    ALLOC_SUB_COUNT
} alloc_sub;

void *alloc_malloc(alloc_sub sub, size_t size);
void *alloc_calloc(alloc_sub sub, size_t size);
void *alloc_realloc(alloc_sub sub, void *ptr, size_t size);
void alloc_free(alloc_sub sub, void *ptr); /* ptr may be NULL */
/* Hot-path variants for callers that know the size they asked for: with jemalloc the usable
 * size comes from the size class (nallocx) instead of a pointer lookup, and the free is a sized
 * deallocation. `size` must be the size last requested for ptr (any size of the same size
 * class works). */
void alloc_free_sized(alloc_sub sub, void *ptr, size_t size);
void *alloc_realloc_sized(alloc_sub sub, void *ptr, size_t old_size, size_t new_size);
/* Usable size a request of `size` bytes gets (its size class). Inline: the key-space
 * statistics ask it on every write. Small sizes come from the table alloc.c fills at start-up
 * (jemalloc's classes; empty with libc malloc), the rest from alloc_size_class_call. */
size_t alloc_size_class_call(size_t size);
extern const uint16_t *const alloc_class_tab; /* [i]: the class of sizes (8(i-1), 8i] */
extern size_t alloc_class_tab_max;            /* largest size the table answers; 0: none */
static inline size_t alloc_size_class(size_t size) {
    if (size - 1 < alloc_class_tab_max) return alloc_class_tab[(size + 7) >> 3]; /* size >= 1 */
    return alloc_size_class_call(size);
}
/* 1 when a block's usable size is always the size class of the size last requested for it
 * (jemalloc), so alloc_size_class answers without the pointer; 0 with libc malloc, where only
 * alloc_usable_size(ptr) knows. */
extern const int alloc_usable_class; /* inline: every listpack's MEMORY USAGE asks */
static inline int alloc_usable_is_class(void) {
    return alloc_usable_class;
}
char *alloc_strndup(alloc_sub sub, const char *s, size_t len); /* NUL-terminated copy */

/* Frame of the alloc_* call running on this thread, NULL outside one (and in builds without
 * frame pointers): where the profiler's frame-pointer unwinder starts (profiler/unwind.c). */
void *alloc_current_frame(void);

/* Usable size of a block from this allocator. */
size_t alloc_usable_size(const void *ptr);

/* Bytes currently held by a subsystem / by all subsystems (summed over threads; a reader may
 * see a concurrent update a moment late, never a torn value). */
int64_t alloc_sub_bytes(alloc_sub sub);
int64_t alloc_total_bytes(void);
const char *alloc_sub_name(alloc_sub sub); /* e.g. "strings", "query_buffers" */

/* Arenas of their own. With them, jemalloc's per-arena statistics give the active and resident
 * bytes (so the fragmentation) of the key space, of client buffers and of the Lua heap
 * separately. Only the
 * thread that enabled them (the main thread, which alone touches those subsystems) allocates
 * from them, through an explicit tcache; other threads use the default arenas. */
typedef enum alloc_arena_group {
    ALLOC_ARENA_KEYSPACE = 0, /* strings … zsets, key index, expires index */
    ALLOC_ARENA_CLIENTS,      /* query buffers, output buffers, client structs */
    ALLOC_ARENA_SCRIPTING,    /* the Lua heap, the script cache */
    ALLOC_ARENA_GROUPS
} alloc_arena_group;

/* Call once, from the main thread, before the first allocation of those subsystems. Returns 0,
 * or -1 when the allocator has no arenas (libc) or jemalloc refused. */
int alloc_arenas_enable(void);
/* 1 and *arena set if the group has an arena of its own. */
int alloc_arena_index(alloc_arena_group g, unsigned *arena);
/* "keyspace", "clients", "scripting" */
const char *alloc_arena_group_name(alloc_arena_group g);

/* 0 when accounting was compiled out (MEMKV_ACCOUNTING=OFF, for measuring its cost): every
 * counter then reads 0. */
int alloc_accounting_enabled(void);

/* Name of the allocator in use, as INFO's mem_allocator shows it ("jemalloc-5.3.0", "libc"). */
const char *alloc_allocator_name(void);

#endif
