/* The script cache: sha1 -> compiled script (see script.h). Scripts EVAL brought in are kept
 * in an LRU order and evicted past lua-script-cache-max, as Redis 7.4 does (an application
 * that builds a new script text per call would otherwise grow the cache without bound);
 * SCRIPT LOAD-ed scripts are kept until SCRIPT FLUSH. */
#include "server/script.h"

#include <ctype.h>
#include <string.h>

#include "server/log.h"
#include "server/server.h"

#define CACHE_SUB ALLOC_SUB_SCRIPTING

long long script_cache_max = 500;

static script_entry **buckets;
static size_t nbuckets, nentries;
static script_entry *lru_head, *lru_tail; /* EVAL-loaded entries, most recent first */
static long long lru_count, evicted, compiled_total;
static size_t body_bytes;

static size_t sha_bucket(const char *sha, size_t n) {
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) {
        char ch = (char)tolower((unsigned char)sha[i]);
        h = h * 16 + (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return (size_t)(h & (n - 1));
}

static int sha_equal(const char *a, const char *b) {
    return strncasecmp(a, b, 40) == 0;
}

script_entry *script_cache_find(const char *sha) {
    if (!nbuckets) return NULL;
    for (script_entry *e = buckets[sha_bucket(sha, nbuckets)]; e; e = e->hnext)
        if (sha_equal(e->sha, sha)) return e;
    return NULL;
}

static void grow(void) {
    size_t n = nbuckets ? nbuckets * 2 : 64;
    script_entry **t = alloc_calloc(CACHE_SUB, n * sizeof(*t));
    for (size_t i = 0; i < nbuckets; i++) {
        script_entry *e = buckets[i];
        while (e) {
            script_entry *next = e->hnext;
            size_t b = sha_bucket(e->sha, n);
            e->hnext = t[b];
            t[b] = e;
            e = next;
        }
    }
    alloc_free(CACHE_SUB, buckets);
    buckets = t;
    nbuckets = n;
}

static void lru_unlink(script_entry *e) {
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
    lru_count--;
}

static void lru_push_front(script_entry *e) {
    e->lru_prev = NULL;
    e->lru_next = lru_head;
    if (lru_head) lru_head->lru_prev = e;
    lru_head = e;
    if (!lru_tail) lru_tail = e;
    lru_count++;
}

static void entry_free(script_entry *e) {
    body_bytes -= e->body_len;
    alloc_free_sized(CACHE_SUB, e->body, e->body_len + 1);
    alloc_free_sized(CACHE_SUB, e, sizeof(*e));
}

static void remove_entry(script_entry *e) {
    script_entry **link = &buckets[sha_bucket(e->sha, nbuckets)];
    while (*link != e)
        link = &(*link)->hnext;
    *link = e->hnext;
    nentries--;
    if (!e->loaded) lru_unlink(e);
    script_lua_unref(e->fn_ref);
    entry_free(e);
}

void script_cache_trim(void) {
    while (lru_count > script_cache_max && lru_tail) { /* the cap is at least 1: never the newest */
        remove_entry(lru_tail);
        evicted++;
    }
}

script_entry *script_cache_add(const char *sha, const char *body, size_t len, int flags, int fn_ref,
                               int loaded) {
    if (nentries >= nbuckets) grow();
    script_entry *e = alloc_calloc(CACHE_SUB, sizeof(*e));
    memcpy(e->sha, sha, 40);
    e->sha[40] = '\0';
    e->flags = flags;
    e->fn_ref = fn_ref;
    e->loaded = loaded;
    e->body = alloc_malloc(CACHE_SUB, len + 1);
    memcpy(e->body, body, len);
    e->body[len] = '\0';
    e->body_len = len;
    body_bytes += len;
    size_t b = sha_bucket(e->sha, nbuckets);
    e->hnext = buckets[b];
    buckets[b] = e;
    nentries++;
    compiled_total++;
    if (!loaded) {
        lru_push_front(e);
        script_cache_trim();
    }
    return e;
}

void script_cache_touch(script_entry *e) {
    if (e->loaded || e == lru_head) return;
    lru_unlink(e);
    lru_push_front(e);
}

void script_cache_keep(script_entry *e) {
    if (e->loaded) return;
    lru_unlink(e);
    e->loaded = 1;
}

void script_cache_flush(void) {
    for (size_t i = 0; i < nbuckets; i++) {
        script_entry *e = buckets[i];
        while (e) {
            script_entry *next = e->hnext;
            entry_free(e);
            e = next;
        }
    }
    alloc_free(CACHE_SUB, buckets);
    buckets = NULL;
    nbuckets = nentries = 0;
    lru_head = lru_tail = NULL;
    lru_count = 0;
}

void script_cache_figures(script_figures *f) {
    /* Redis's used_memory_scripts_eval: the bodies plus the cache's own structures. */
    f->cache_bytes =
        body_bytes + nentries * (sizeof(script_entry) + 16) + nbuckets * sizeof(script_entry *);
    f->scripts = (long long)nentries;
    f->eval_scripts = lru_count;
    f->evicted = evicted;
    f->loaded_total = compiled_total;
    f->cache_max = script_cache_max;
}

int script_cache_apply_max(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    script_cache_trim();
    return 0;
}

void script_cache_reset_stats(void) {
    evicted = 0;
}
