#include "alloc/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* Threads past ALLOC_MAX_SLOTS share the last slot through atomic adds. */
#define ALLOC_MAX_SLOTS 64

typedef struct alloc_slot {
    _Atomic int64_t bytes[ALLOC_SUB_COUNT];
} __attribute__((aligned(64))) alloc_slot;

static alloc_slot slots[ALLOC_MAX_SLOTS];
static atomic_int slots_taken;
#ifndef MEMKV_NO_ACCOUNTING
static _Thread_local alloc_slot *my_slot;
static _Thread_local int my_slot_shared;
/* my_slot when this thread has a slot of its own, NULL before its first count and when it
 * shares the last slot: the one thread-local the common case reads. */
static _Thread_local alloc_slot *my_own_slot;
#endif

static const char *const sub_names[ALLOC_SUB_COUNT] = {
    [ALLOC_SUB_OTHER] = "other",
    [ALLOC_SUB_STRINGS] = "strings",
    [ALLOC_SUB_HASHES] = "hashes",
    [ALLOC_SUB_LISTS] = "lists",
    [ALLOC_SUB_SETS] = "sets",
    [ALLOC_SUB_ZSETS] = "zsets",
    [ALLOC_SUB_KEY_INDEX] = "key_index",
    [ALLOC_SUB_EXPIRES_INDEX] = "expires_index",
    [ALLOC_SUB_QUERY_BUF] = "query_buffers",
    [ALLOC_SUB_OUTPUT_BUF] = "output_buffers",
    [ALLOC_SUB_CLIENTS] = "clients",
    [ALLOC_SUB_PROFILER] = "profiler",
    [ALLOC_SUB_HTTP] = "http",
    [ALLOC_SUB_KEYSPACE_STATS] = "keyspace_stats",
    [ALLOC_SUB_SLOWLOG] = "slowlog",
    [ALLOC_SUB_PUBSUB] = "pubsub",
    [ALLOC_SUB_SCRIPTING] = "scripting",
    [ALLOC_SUB_TRACKING] = "tracking",
    [ALLOC_SUB_SNAPSHOT] = "snapshot",
};

#ifdef MEMKV_HAVE_JEMALLOC
/* Per-subsystem mallocx flags (arena + explicit tcache), 0 = the default arenas; and the
 * tcache flag alone, for frees. Set once by alloc_arenas_enable, read by its thread only. */
static int sub_flags[ALLOC_SUB_COUNT];
static int sub_free_flags[ALLOC_SUB_COUNT];
static _Thread_local int arena_owner;
static unsigned group_arena[ALLOC_ARENA_GROUPS];
static int group_enabled[ALLOC_ARENA_GROUPS];

static const alloc_arena_group sub_group[ALLOC_SUB_COUNT] = {
    [ALLOC_SUB_OTHER] = ALLOC_ARENA_GROUPS,        [ALLOC_SUB_STRINGS] = ALLOC_ARENA_KEYSPACE,
    [ALLOC_SUB_HASHES] = ALLOC_ARENA_KEYSPACE,     [ALLOC_SUB_LISTS] = ALLOC_ARENA_KEYSPACE,
    [ALLOC_SUB_SETS] = ALLOC_ARENA_KEYSPACE,       [ALLOC_SUB_ZSETS] = ALLOC_ARENA_KEYSPACE,
    [ALLOC_SUB_KEY_INDEX] = ALLOC_ARENA_KEYSPACE,  [ALLOC_SUB_EXPIRES_INDEX] = ALLOC_ARENA_KEYSPACE,
    [ALLOC_SUB_QUERY_BUF] = ALLOC_ARENA_CLIENTS,   [ALLOC_SUB_OUTPUT_BUF] = ALLOC_ARENA_CLIENTS,
    [ALLOC_SUB_CLIENTS] = ALLOC_ARENA_CLIENTS,     [ALLOC_SUB_PROFILER] = ALLOC_ARENA_GROUPS,
    [ALLOC_SUB_HTTP] = ALLOC_ARENA_GROUPS,         [ALLOC_SUB_KEYSPACE_STATS] = ALLOC_ARENA_GROUPS,
    [ALLOC_SUB_SLOWLOG] = ALLOC_ARENA_GROUPS,      [ALLOC_SUB_PUBSUB] = ALLOC_ARENA_GROUPS,
    [ALLOC_SUB_SCRIPTING] = ALLOC_ARENA_SCRIPTING, [ALLOC_SUB_TRACKING] = ALLOC_ARENA_GROUPS,
    [ALLOC_SUB_SNAPSHOT] = ALLOC_ARENA_GROUPS,
};

#define ARENA_FLAGS(sub) (arena_owner ? sub_flags[sub] : 0)
#define ARENA_FREE_FLAGS(sub) (arena_owner ? sub_free_flags[sub] : 0)
#else
static unsigned group_arena[ALLOC_ARENA_GROUPS];
static int group_enabled[ALLOC_ARENA_GROUPS];
#endif

int alloc_arenas_enable(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    /* The key space is allocated per request, so it must keep jemalloc's fast path: the calling
     * thread is bound to the key-space arena (thread.arena) and its subsystems use plain
     * malloc/free. Explicit arena + tcache flags (a slower path) are kept for the others:
     * client buffers (per connection, reused) and the Lua heap in arenas of their own, and the
     * rest of the main thread's allocations back in arena 0, so the key-space arena holds only
     * key space. The Lua heap is allocated per script run, but it took the explicit path to arena
     * 0 anyway: an arena of its own costs it nothing more. */
    unsigned arena[ALLOC_ARENA_GROUPS], tc_clients, tc_scripting, tc_other, zero = 0;
    size_t sz;
    for (int g = 0; g < ALLOC_ARENA_GROUPS; g++) {
        sz = sizeof(unsigned);
        if (mallctl("arenas.create", &arena[g], &sz, NULL, 0) != 0) return -1;
    }
    sz = sizeof(unsigned);
    if (mallctl("tcache.create", &tc_clients, &sz, NULL, 0) != 0) return -1;
    sz = sizeof(unsigned);
    if (mallctl("tcache.create", &tc_scripting, &sz, NULL, 0) != 0) return -1;
    sz = sizeof(unsigned);
    if (mallctl("tcache.create", &tc_other, &sz, NULL, 0) != 0) return -1;
    if (mallctl("thread.arena", NULL, NULL, &arena[ALLOC_ARENA_KEYSPACE], sizeof(unsigned)) != 0)
        return -1;
    for (int s = 0; s < ALLOC_SUB_COUNT; s++) {
        switch (sub_group[s]) {
        case ALLOC_ARENA_KEYSPACE:
            sub_flags[s] = sub_free_flags[s] = 0; /* the thread's own arena: fast path */
            break;
        case ALLOC_ARENA_CLIENTS:
            sub_flags[s] =
                (int)(MALLOCX_ARENA(arena[ALLOC_ARENA_CLIENTS]) | MALLOCX_TCACHE(tc_clients));
            sub_free_flags[s] = (int)MALLOCX_TCACHE(tc_clients);
            break;
        case ALLOC_ARENA_SCRIPTING:
            sub_flags[s] =
                (int)(MALLOCX_ARENA(arena[ALLOC_ARENA_SCRIPTING]) | MALLOCX_TCACHE(tc_scripting));
            sub_free_flags[s] = (int)MALLOCX_TCACHE(tc_scripting);
            break;
        default:
            sub_flags[s] = (int)(MALLOCX_ARENA(zero) | MALLOCX_TCACHE(tc_other));
            sub_free_flags[s] = (int)MALLOCX_TCACHE(tc_other);
            break;
        }
    }
    for (int g = 0; g < ALLOC_ARENA_GROUPS; g++) {
        group_arena[g] = arena[g];
        group_enabled[g] = 1;
    }
    arena_owner = 1;
    return 0;
#else
    return -1;
#endif
}

int alloc_arena_index(alloc_arena_group g, unsigned *arena) {
    if ((unsigned)g >= ALLOC_ARENA_GROUPS || !group_enabled[g]) return 0;
    *arena = group_arena[g];
    return 1;
}

const char *alloc_arena_group_name(alloc_arena_group g) {
    switch (g) {
    case ALLOC_ARENA_KEYSPACE:
        return "keyspace";
    case ALLOC_ARENA_CLIENTS:
        return "clients";
    case ALLOC_ARENA_SCRIPTING:
        return "scripting";
    default:
        return "unknown";
    }
}

#ifdef MEMKV_NO_ACCOUNTING
/* Compiled out: the size expression is not even evaluated. */
#define count(sub, delta) ((void)(sub))
#else
static alloc_slot *slot_get(void) {
    if (my_slot) return my_slot;
    int i = atomic_fetch_add_explicit(&slots_taken, 1, memory_order_relaxed);
    if (i >= ALLOC_MAX_SLOTS - 1) {
        i = ALLOC_MAX_SLOTS - 1;
        my_slot_shared = 1;
    }
    my_slot = &slots[i];
    if (!my_slot_shared) my_own_slot = my_slot;
    return my_slot;
}

/* First count of a thread, and every count of a thread sharing the last slot. */
__attribute__((noinline)) static void count_slow(alloc_sub sub, int64_t delta) {
    alloc_slot *s = slot_get();
    atomic_fetch_add_explicit(&s->bytes[sub], delta, memory_order_relaxed);
}

static inline void count(alloc_sub sub, int64_t delta) {
    alloc_slot *s = my_own_slot;
    if (__builtin_expect(s != NULL, 1)) {
        /* Only this thread writes its slot: no read-modify-write lock needed. */
        int64_t v = atomic_load_explicit(&s->bytes[sub], memory_order_relaxed);
        atomic_store_explicit(&s->bytes[sub], v + delta, memory_order_relaxed);
    } else {
        count_slow(sub, delta);
    }
}
#endif

static void oom(size_t size) {
    fprintf(stderr, "memkv: out of memory allocating %zu bytes\n", size);
    abort();
}

int alloc_accounting_enabled(void) {
#ifdef MEMKV_NO_ACCOUNTING
    return 0;
#else
    return 1;
#endif
}

size_t alloc_usable_size(const void *ptr) {
    return ptr ? malloc_usable_size((void *)ptr) : 0;
}

#ifdef MEMKV_HAVE_JEMALLOC
/* Size classes of small requests from a table rather than from nallocx, which costs some 35
 * instructions (a call through jemalloc's thread state) on every counted allocation and sized
 * free. jemalloc's size classes are multiples of 8, so all requests in (8(i-1), 8i] get the
 * class of 8i: class_tab[i] = nallocx(8i). Filled before main from nallocx itself and checked
 * at both ends of every bucket; if a check fails the table stays unused and nallocx answers. */
#define CLASS_TAB_MAX 4096
static uint16_t class_tab[CLASS_TAB_MAX / 8 + 1];
static size_t class_tab_max; /* largest size the table answers: 0 until it is filled */
const uint16_t *const alloc_class_tab = class_tab;

__attribute__((constructor)) static void class_tab_init(void) {
    for (size_t i = 1; i <= CLASS_TAB_MAX / 8; i++) {
        size_t c = nallocx(8 * i, 0);
        if (c == 0 || c > UINT16_MAX || nallocx(8 * i - 7, 0) != c) return;
        class_tab[i] = (uint16_t)c;
    }
    class_tab[0] = class_tab[1]; /* size 0 is never asked for; malloc(0) gets the first class */
    class_tab_max = CLASS_TAB_MAX;
    alloc_class_tab_max = CLASS_TAB_MAX;
}

__attribute__((noinline)) static size_t size_class_slow(size_t size) {
    return nallocx(size, 0);
}

/* nallocx(size, 0) for size >= 1 */
static inline size_t size_class(size_t size) {
    if (__builtin_expect(size <= class_tab_max, 1)) return class_tab[(size + 7) >> 3];
    return size_class_slow(size);
}
#endif

#ifdef MEMKV_HAVE_JEMALLOC
const int alloc_usable_class = 1;
#else
const int alloc_usable_class = 0;
#endif

/* alloc.h's alloc_size_class: the table (filled with jemalloc only) answers small sizes. */
size_t alloc_class_tab_max;
#ifndef MEMKV_HAVE_JEMALLOC
const uint16_t *const alloc_class_tab = NULL;
#endif

size_t alloc_size_class_call(size_t size) {
#ifdef MEMKV_HAVE_JEMALLOC
    return size_class(size ? size : 1);
#else
    return size ? size : 1;
#endif
}

/* Usable size of a block just returned for a request of `size` bytes. jemalloc hands out
 * exactly the size class, which size_class computes without looking the pointer up. */
static inline size_t usable_of_new(void *p, size_t size) {
#ifdef MEMKV_HAVE_JEMALLOC
    (void)p;
    return size_class(size);
#else
    (void)size;
    return malloc_usable_size(p);
#endif
}

#ifdef MEMKV_HAVE_JEMALLOC
#define RAW_MALLOC(sub, size) (ARENA_FLAGS(sub) ? mallocx(size, ARENA_FLAGS(sub)) : malloc(size))
#define RAW_CALLOC(sub, size)                                                                      \
    (ARENA_FLAGS(sub) ? mallocx(size, ARENA_FLAGS(sub) | MALLOCX_ZERO) : calloc(1, size))
#define RAW_REALLOC(sub, p, size)                                                                  \
    (ARENA_FLAGS(sub) ? rallocx(p, size, ARENA_FLAGS(sub)) : realloc(p, size))
#define RAW_FREE(sub, p) (ARENA_FREE_FLAGS(sub) ? dallocx(p, ARENA_FREE_FLAGS(sub)) : free(p))
#else
#define RAW_MALLOC(sub, size) ((void)(sub), malloc(size))
#define RAW_CALLOC(sub, size) ((void)(sub), calloc(1, size))
#define RAW_REALLOC(sub, p, size) ((void)(sub), realloc(p, size))
#define RAW_FREE(sub, p) ((void)(sub), free(p))
#endif

#if defined(MEMKV_HAVE_JEMALLOC) && defined(MEMKV_FRAME_POINTERS)
/* Two stores per allocation: the profiler's unwinder then needs no unwinding through jemalloc
 * (built without frame pointers) to find memkv's frames. */
static _Thread_local void *current_frame;
#define FRAME_ENTER() (current_frame = __builtin_frame_address(0))
#define FRAME_LEAVE() (current_frame = NULL)
void *alloc_current_frame(void) {
    return current_frame;
}
#else
#define FRAME_ENTER() ((void)0)
#define FRAME_LEAVE() ((void)0)
void *alloc_current_frame(void) {
    return NULL;
}
#endif

void *alloc_malloc(alloc_sub sub, size_t size) {
    if (!size) size = 1;
    FRAME_ENTER();
    void *p = RAW_MALLOC(sub, size);
    FRAME_LEAVE();
    if (!p) oom(size);
    count(sub, (int64_t)usable_of_new(p, size));
    return p;
}

void *alloc_calloc(alloc_sub sub, size_t size) {
    if (!size) size = 1;
    FRAME_ENTER();
    void *p = RAW_CALLOC(sub, size);
    FRAME_LEAVE();
    if (!p) oom(size);
    count(sub, (int64_t)usable_of_new(p, size));
    return p;
}

void alloc_free_sized(alloc_sub sub, void *ptr, size_t size) {
    if (!ptr) return;
    if (!size) size = 1;
#ifdef MEMKV_HAVE_JEMALLOC
    count(sub, -(int64_t)size_class(size));
    sdallocx(ptr, size, ARENA_FREE_FLAGS(sub));
#else
    alloc_free(sub, ptr);
#endif
}

void *alloc_realloc_sized(alloc_sub sub, void *ptr, size_t old_size, size_t new_size) {
    if (!ptr) return alloc_malloc(sub, new_size);
    if (!new_size) new_size = 1;
#ifdef MEMKV_HAVE_JEMALLOC
    (void)old_size; /* only read by the accounting */
    FRAME_ENTER();
    void *p = RAW_REALLOC(sub, ptr, new_size);
    FRAME_LEAVE();
    if (!p) oom(new_size);
    count(sub, (int64_t)size_class(new_size) - (int64_t)size_class(old_size ? old_size : 1));
    return p;
#else
    (void)old_size;
    return alloc_realloc(sub, ptr, new_size);
#endif
}

void *alloc_realloc(alloc_sub sub, void *ptr, size_t size) {
    if (!ptr) return alloc_malloc(sub, size);
    if (!size) size = 1;
#ifndef MEMKV_NO_ACCOUNTING
    int64_t old = (int64_t)alloc_usable_size(ptr);
#endif
    FRAME_ENTER();
    void *p = RAW_REALLOC(sub, ptr, size);
    FRAME_LEAVE();
    if (!p) oom(size);
    count(sub, (int64_t)usable_of_new(p, size) - old);
    return p;
}

void alloc_free(alloc_sub sub, void *ptr) {
    if (!ptr) return;
    count(sub, -(int64_t)alloc_usable_size(ptr));
    RAW_FREE(sub, ptr);
}

char *alloc_strndup(alloc_sub sub, const char *s, size_t len) {
    char *p = alloc_malloc(sub, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int64_t alloc_sub_bytes(alloc_sub sub) {
    int n = atomic_load_explicit(&slots_taken, memory_order_relaxed);
    if (n > ALLOC_MAX_SLOTS) n = ALLOC_MAX_SLOTS;
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += atomic_load_explicit(&slots[i].bytes[sub], memory_order_relaxed);
    return sum;
}

int64_t alloc_total_bytes(void) {
    int64_t sum = 0;
    for (int s = 0; s < ALLOC_SUB_COUNT; s++)
        sum += alloc_sub_bytes((alloc_sub)s);
    return sum;
}

const char *alloc_sub_name(alloc_sub sub) {
    return (unsigned)sub < ALLOC_SUB_COUNT ? sub_names[sub] : "unknown";
}

const char *alloc_allocator_name(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    static char name[64];
    if (!name[0]) {
        const char *v = NULL;
        size_t sz = sizeof(v);
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v) {
            /* "5.3.0-0-g54eaed1d…" -> "jemalloc-5.3.0" */
            size_t n = strcspn(v, "-");
            snprintf(name, sizeof(name), "jemalloc-%.*s", (int)n, v);
        } else {
            snprintf(name, sizeof(name), "jemalloc");
        }
    }
    return name;
#else
    return "libc";
#endif
}
