/* maxmemory: eviction by Redis 7.0's policies (evict.c there), approximated by sampling.
 *
 * Used memory is alloc_total_bytes(), what INFO memory reports as used_memory: every byte the
 * server's allocation wrapper counts, key space, indexes and client buffers alike. Redis
 * subtracts replica output buffers and the AOF buffer from it (freeMemoryGetNotCountedMemory);
 * memkv has neither, so nothing is subtracted. Client query and output buffers do count, as in
 * Redis: a big reply can push memory over the limit, and keys are evicted to make up for it.
 * (In a build with accounting compiled out, MEMKV_ACCOUNTING=OFF, used memory reads 0 and
 * nothing is ever evicted.)
 *
 * The LRU policies keep Redis's eviction pool: each round samples maxmemory-samples keys per
 * db, keeps the EVPOOL_SIZE best candidates seen so far (sorted, best last) across rounds, and
 * evicts the best one that still exists. "Best" is the longest idle for LRU, the nearest
 * expire for volatile-ttl. Pool entries hold copies of their keys: entries may move or go.
 *
 * Unlike Redis (maxmemory-eviction-tenacity, default 10), there is no time limit per call:
 * eviction goes on until memory is under the limit or nothing is left to evict, so no command
 * runs while memory is over the limit unless eviction has failed.
 */
#include <stdint.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/log.h"
#include "server/notify.h"
#include "server/server.h"
#include "server/tracking.h"
#include "util/util.h"

#define EVPOOL_SIZE 16
#define EVPOOL_CACHED_KEY 255       /* keys up to this long reuse the slot's buffer */
#define LRU_CLOCK_RESOLUTION 1000   /* ms per tick of the 24-bit LRU clock, as Redis */
#define MAXMEMORY_SAMPLES_MAX 64    /* keys sampled per round at most (the config allows more) */
#define EVICT_MAX_EMPTY_ROUNDS 1000 /* pool rounds finding nothing before giving up */

const char *const evict_policy_names[] = {"volatile-lru",
                                          "volatile-random",
                                          "volatile-ttl",
                                          "allkeys-lru",
                                          "allkeys-random",
                                          "noeviction",
                                          NULL};

typedef struct evpool_entry {
    uint64_t score; /* higher = better candidate: idle ms, or UINT64_MAX - expire time */
    char *key;      /* NULL = empty slot; == cached, or an alloc'ed copy for long keys */
    size_t klen;
    int dbid;
    char *cached; /* EVPOOL_CACHED_KEY bytes owned by the slot (moves with it) */
} evpool_entry;

/* A key taken out of the pool (or picked at random) to be deleted. */
typedef struct victim {
    char buf[EVPOOL_CACHED_KEY];
    char *key; /* buf, or alloc'ed */
    size_t klen;
    int dbid;
} victim;

static evpool_entry *pool;
static int pool_policy = -1; /* policy the pool's scores were computed for */
static int next_db;          /* random policies visit the dbs in turn, as Redis */

static int policy_is_allkeys(int policy) {
    return policy == EVICT_ALLKEYS_LRU || policy == EVICT_ALLKEYS_RANDOM;
}

const char *evict_policy_name(void) {
    int p = srv.maxmemory_policy;
    return p >= 0 && p <= EVICT_NOEVICTION ? evict_policy_names[p] : "unknown";
}

/* Redis's getLRUClock, from the cached clock (the cron refreshes both). */
static void update_lru_clock(void) {
    db_set_lru_clock((uint32_t)(server_now_ms() / LRU_CLOCK_RESOLUTION));
}

void evict_init(void) {
    update_lru_clock();
    pool = alloc_calloc(ALLOC_SUB_OTHER, sizeof(*pool) * EVPOOL_SIZE);
    for (int k = 0; k < EVPOOL_SIZE; k++)
        pool[k].cached = alloc_malloc(ALLOC_SUB_OTHER, EVPOOL_CACHED_KEY);
    if (srv.maxmemory > 0 && srv.maxmemory < 1024 * 1024)
        log_msg(LOG_WARNING,
                "WARNING: You specified a maxmemory value that is less than 1MB (current value "
                "is %lld bytes). Are you sure this is what you really want?",
                srv.maxmemory);
}

static void pool_clear_slot(evpool_entry *p) {
    if (p->key && p->key != p->cached) alloc_free(ALLOC_SUB_OTHER, p->key);
    p->key = NULL;
    p->score = 0;
}

static void pool_clear(void) {
    for (int k = 0; k < EVPOOL_SIZE; k++)
        pool_clear_slot(&pool[k]);
}

void evict_free(void) {
    if (!pool) return;
    pool_clear();
    for (int k = 0; k < EVPOOL_SIZE; k++)
        alloc_free(ALLOC_SUB_OTHER, pool[k].cached);
    alloc_free(ALLOC_SUB_OTHER, pool);
    pool = NULL;
}

void evict_cron(void) {
    update_lru_clock();
}

/* Milliseconds since the entry was last stamped, as Redis's estimateObjectIdleTime: the clock
 * wraps every 2^24 s (194 days), so a stamp "ahead" of the clock is from the previous lap. */
uint64_t evict_idle_ms(const db_entry *e) {
    uint32_t now = db_lru_clock(), lru = db_entry_lru(e);
    uint64_t ticks = now >= lru ? now - lru : (uint64_t)now + (DB_LRU_MAX - lru);
    return ticks * LRU_CLOCK_RESOLUTION;
}

/* Redis's evictionPoolPopulate insertion: the pool stays sorted by ascending score with its
 * empty slots on the right; a candidate worse than all of a full pool is dropped, otherwise
 * the worst entry makes room. */
static void pool_insert(int dbid, const char *key, size_t klen, uint64_t score) {
    int k = 0;
    while (k < EVPOOL_SIZE && pool[k].key && pool[k].score < score)
        k++;
    if (k == 0 && pool[EVPOOL_SIZE - 1].key) return;
    if (k < EVPOOL_SIZE && !pool[k].key) {
        /* an empty slot: take it */
    } else if (!pool[EVPOOL_SIZE - 1].key) {
        /* Room on the right: shift k.. one to the right; slot k gets the last slot's buffer. */
        char *cached = pool[EVPOOL_SIZE - 1].cached;
        memmove(pool + k + 1, pool + k, sizeof(pool[0]) * (size_t)(EVPOOL_SIZE - k - 1));
        pool[k].cached = cached;
        pool[k].key = NULL;
    } else {
        /* Full: drop the worst (slot 0), shift 1..k-1 left, insert at k-1. */
        k--;
        char *cached = pool[0].cached;
        pool_clear_slot(&pool[0]);
        memmove(pool, pool + 1, sizeof(pool[0]) * (size_t)k);
        pool[k].cached = cached;
        pool[k].key = NULL;
    }
    if (klen <= EVPOOL_CACHED_KEY) {
        memcpy(pool[k].cached, key, klen);
        pool[k].key = pool[k].cached;
    } else {
        pool[k].key = alloc_malloc(ALLOC_SUB_OTHER, klen);
        memcpy(pool[k].key, key, klen);
    }
    pool[k].klen = klen;
    pool[k].score = score;
    pool[k].dbid = dbid;
}

/* Samples one db (its key table, or its expires index for volatile-*) into the pool. */
static void pool_populate(int dbid, db *d, int policy) {
    db_entry *samples[MAXMEMORY_SAMPLES_MAX];
    size_t want = (size_t)srv.maxmemory_samples;
    if (want > MAXMEMORY_SAMPLES_MAX) want = MAXMEMORY_SAMPLES_MAX;
    int from_expires = !policy_is_allkeys(policy);
    size_t n = db_sample(d, from_expires, samples, want);
    for (size_t j = 0; j < n; j++) {
        size_t klen;
        const char *key = db_entry_key(samples[j], &klen);
        uint64_t score;
        if (policy == EVICT_VOLATILE_TTL) {
            /* The sooner the expire, the better the candidate. */
            score = UINT64_MAX - (uint64_t)db_expires_entry_when(samples[j]);
        } else {
            const db_entry *e = from_expires ? db_peek(d, key, klen) : samples[j];
            if (!e) continue;
            score = evict_idle_ms(e);
        }
        pool_insert(dbid, key, klen, score);
    }
}

static void victim_set(victim *v, int dbid, const char *key, size_t klen) {
    v->key = klen <= sizeof(v->buf) ? v->buf : alloc_malloc(ALLOC_SUB_OTHER, klen);
    memcpy(v->key, key, klen);
    v->klen = klen;
    v->dbid = dbid;
}

static void victim_release(victim *v) {
    if (v->key != v->buf) alloc_free(ALLOC_SUB_OTHER, v->key);
    v->key = NULL;
}

/* LRU and TTL policies: the best pool entry whose key still exists (with an expire, for
 * volatile-*). Returns 1 with *v set, 0 when there is nothing to evict. */
static int pick_from_pool(int policy, victim *v) {
    int allkeys = policy_is_allkeys(policy);
    if (pool_policy != policy) { /* scores of another policy do not compare */
        pool_clear();
        pool_policy = policy;
    }
    for (int round = 0; round < EVICT_MAX_EMPTY_ROUNDS; round++) {
        size_t total = 0;
        for (int i = 0; i < (int)srv.databases; i++) {
            db *d = srv.dbs[i];
            size_t keys = allkeys ? db_size(d) : db_expires_size(d);
            if (keys == 0) continue;
            pool_populate(i, d, policy);
            total += keys;
        }
        if (total == 0) return 0;
        /* From the best down; entries whose key has gone since are ghosts: drop them. */
        for (int k = EVPOOL_SIZE - 1; k >= 0; k--) {
            evpool_entry *p = &pool[k];
            if (!p->key) continue;
            db_entry *e = db_peek(srv.dbs[p->dbid], p->key, p->klen);
            int found = e && (allkeys || db_entry_has_expire(e));
            if (found) victim_set(v, p->dbid, p->key, p->klen);
            pool_clear_slot(p);
            if (found) return 1;
        }
    }
    return 0; /* unreachable in practice: db_sample returns an entry when there is one */
}

/* Random policies: a random key of the next db that has one, as Redis. */
static int pick_random(int policy, victim *v) {
    int from_expires = !policy_is_allkeys(policy);
    int ndb = (int)srv.databases;
    for (int i = 0; i < ndb; i++) {
        next_db = (next_db + 1) % ndb;
        db *d = srv.dbs[next_db];
        db_entry *e;
        if (db_sample(d, from_expires, &e, 1) == 1) {
            size_t klen;
            const char *key = db_entry_key(e, &klen);
            victim_set(v, next_db, key, klen);
            return 1;
        }
    }
    return 0;
}

/* What eviction compares with maxmemory (see the top of this file). */
static long long used_memory(void) {
    return (long long)alloc_total_bytes();
}

int evict_perform(void) {
    if (srv.maxmemory <= 0) return 0;
    long long used = used_memory();
    if (used <= srv.maxmemory) return 0;
    int policy = srv.maxmemory_policy;
    if (policy == EVICT_NOEVICTION) return -1;
    if (srv.pause_type && pause_in_force()) return -1; /* CLIENT PAUSE: no eviction (7.0) */

    long long start = used, evicted = 0;
    int64_t t0 = srv.latency_monitor_threshold > 0 ? util_monotonic_us() : 0;
    while (used > srv.maxmemory) {
        victim v;
        int found = policy == EVICT_ALLKEYS_RANDOM || policy == EVICT_VOLATILE_RANDOM
                        ? pick_random(policy, &v)
                        : pick_from_pool(policy, &v);
        if (!found) break;
        tracking_server_change(1); /* no client deletes it: NOLOOP spares nobody */
        db_delete(srv.dbs[v.dbid], v.key, v.klen);
        tracking_server_change(0);
        notify_event(NOTIFY_EVICTED, "evicted", v.key, v.klen, v.dbid);
        victim_release(&v);
        evicted++;
        srv.stats.evicted_keys++;
        used = used_memory();
    }
    if (evicted && t0) latency_add_sample("eviction-cycle", (util_monotonic_us() - t0) / 1000);
    if (evicted)
        log_msg(LOG_DEBUG, "Evicted %lld key(s) (%s): used memory %lld -> %lld, maxmemory %lld",
                evicted, evict_policy_name(), start, used, srv.maxmemory);
    return used <= srv.maxmemory ? 0 : -1;
}

void evict_maxmemory_changed(void) {
    if (srv.maxmemory <= 0) return;
    long long used = used_memory();
    if (srv.maxmemory < used)
        log_msg(LOG_WARNING,
                "WARNING: the new maxmemory value set via CONFIG SET (%lld) is smaller than the "
                "current memory usage (%lld). This will result in key eviction and/or the "
                "inability to accept new write commands depending on the maxmemory-policy.",
                srv.maxmemory, used);
    evict_perform();
}
