/* Clients blocked on keys: see blocking.h for the contract. */
#include "server/blocking.h"

#include <math.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/server.h"
#include "util/util.h"

#define BLOCKING_SUB ALLOC_SUB_CLIENTS
#define BLOCKING_IDLE_TIMER_MS (3600 * 1000) /* the timer's period while nobody has a deadline */

typedef struct bkey bkey;
typedef struct blocking_state blocking_state;

/* One (client, key) link: an element of the key's FIFO of waiters. */
typedef struct bk_waiter {
    struct bk_waiter *prev, *next;
    bkey *key;
    client *c;
    int argi; /* argv index of the key in the client's command */
} bk_waiter;

/* A (db, key) that at least one client waits on. */
struct bkey {
    bkey *hnext; /* hash chain */
    bkey *ready_next;
    uint64_t hash;
    bk_waiter *head, *tail;
    int db_index;
    unsigned ready : 1;  /* on the ready list */
    unsigned pinned : 1; /* being served: not freed even when it has no waiter left */
    size_t klen;
    char key[];
};

struct blocking_state {
    client *c;
    command_fn *fn; /* the handler that runs again when a key is ready */
    int type;
    int64_t deadline_ms; /* 0 = forever */
    size_t heap_pos;     /* index in the deadline heap, when deadline_ms != 0 */
    int nwaiters;
    bk_waiter *waiters;
    /* the command's arguments, copied (argv points into argbuf) */
    resp_arg *argv;
    int argc;
    char *argbuf;
    /* while the handler runs again */
    int serving_key; /* argv index, -1 otherwise */
    int reblocked;   /* the handler called blocking_block: stays blocked */
};

static struct {
    bkey **table;
    size_t table_size; /* power of two, 0 before the first block */
    size_t nkeys;
    size_t nblocked;
    bkey *ready_head, *ready_tail;
    int serving;
    blocking_state **heap; /* min-heap by deadline_ms */
    size_t heap_len, heap_cap;
    long long timer_id;
    int64_t timer_due_ms; /* when the timer fires next (unix ms), 0 if idle */
    client *unblocked;    /* unblocked since the last before-sleep, their input not yet run */
} B;

/* ---- the table of waited keys ---- */

static uint64_t key_hash(int db_index, const char *key, size_t klen) {
    return db_hash_bytes(key, klen) ^ ((uint64_t)(unsigned)db_index * 0x9e3779b97f4a7c15ULL);
}

static bkey *bkey_find(int db_index, const char *key, size_t klen, uint64_t h) {
    if (!B.table_size) return NULL;
    for (bkey *k = B.table[h & (B.table_size - 1)]; k; k = k->hnext)
        if (k->hash == h && k->db_index == db_index && k->klen == klen &&
            memcmp(k->key, key, klen) == 0)
            return k;
    return NULL;
}

static void table_resize(size_t size) {
    bkey **t = alloc_calloc(BLOCKING_SUB, size * sizeof(*t));
    for (size_t i = 0; i < B.table_size; i++) {
        bkey *k = B.table[i];
        while (k) {
            bkey *next = k->hnext;
            size_t b = k->hash & (size - 1);
            k->hnext = t[b];
            t[b] = k;
            k = next;
        }
    }
    alloc_free(BLOCKING_SUB, B.table);
    B.table = t;
    B.table_size = size;
}

static bkey *bkey_get(int db_index, const char *key, size_t klen) {
    uint64_t h = key_hash(db_index, key, klen);
    bkey *k = bkey_find(db_index, key, klen, h);
    if (k) return k;
    if (B.nkeys >= B.table_size) table_resize(B.table_size ? B.table_size * 2 : 16);
    k = alloc_calloc(BLOCKING_SUB, sizeof(*k) + klen);
    k->hash = h;
    k->db_index = db_index;
    k->klen = klen;
    memcpy(k->key, key, klen);
    size_t b = h & (B.table_size - 1);
    k->hnext = B.table[b];
    B.table[b] = k;
    B.nkeys++;
    return k;
}

/* Frees k if nothing needs it any more. */
static void bkey_release(bkey *k) {
    if (k->head || k->ready || k->pinned) return;
    bkey **link = &B.table[k->hash & (B.table_size - 1)];
    while (*link != k)
        link = &(*link)->hnext;
    *link = k->hnext;
    B.nkeys--;
    alloc_free(BLOCKING_SUB, k);
    if (B.nkeys == 0) { /* nobody waits: give the table back */
        alloc_free(BLOCKING_SUB, B.table);
        B.table = NULL;
        B.table_size = 0;
    }
}

/* ---- deadlines: a binary min-heap ---- */

static void heap_set(size_t i, blocking_state *s) {
    B.heap[i] = s;
    s->heap_pos = i;
}

static void heap_up(size_t i) {
    blocking_state *s = B.heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (B.heap[p]->deadline_ms <= s->deadline_ms) break;
        heap_set(i, B.heap[p]);
        i = p;
    }
    heap_set(i, s);
}

static void heap_down(size_t i) {
    blocking_state *s = B.heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = s->deadline_ms;
        if (l < B.heap_len && B.heap[l]->deadline_ms < best) {
            m = l;
            best = B.heap[l]->deadline_ms;
        }
        if (l + 1 < B.heap_len && B.heap[l + 1]->deadline_ms < best) m = l + 1;
        if (m == i) break;
        heap_set(i, B.heap[m]);
        i = m;
    }
    heap_set(i, s);
}

static void heap_push(blocking_state *s) {
    if (B.heap_len == B.heap_cap) {
        B.heap_cap = B.heap_cap ? B.heap_cap * 2 : 16;
        B.heap = alloc_realloc(BLOCKING_SUB, B.heap, B.heap_cap * sizeof(*B.heap));
    }
    heap_set(B.heap_len++, s);
    heap_up(B.heap_len - 1);
}

static void heap_remove(blocking_state *s) {
    size_t i = s->heap_pos;
    blocking_state *last = B.heap[--B.heap_len];
    if (i < B.heap_len) {
        heap_set(i, last);
        heap_down(i);
        heap_up(last->heap_pos);
    }
    if (B.heap_len == 0) {
        alloc_free(BLOCKING_SUB, B.heap);
        B.heap = NULL;
        B.heap_cap = 0;
    }
}

/* Make the timer fire no later than the earliest deadline. */
static void timer_arm(void) {
    if (!B.heap_len || !B.timer_id) return;
    int64_t due = B.heap[0]->deadline_ms;
    if (B.timer_due_ms && B.timer_due_ms <= due) return;
    int64_t delay = due - util_mstime();
    if (delay < 0) delay = 0;
    evloop_timer_reschedule(srv.el, B.timer_id, delay);
    B.timer_due_ms = due;
}

/* ---- blocking and unblocking ---- */

static void state_free(blocking_state *s) {
    alloc_free(BLOCKING_SUB, s->waiters);
    alloc_free(BLOCKING_SUB, s->argv);
    alloc_free(BLOCKING_SUB, s->argbuf);
    alloc_free(BLOCKING_SUB, s);
}

/* Takes c out of every key and the deadline heap; frees its state. No reply. */
static void detach(client *c) {
    blocking_state *s = c->bstate;
    for (int i = 0; i < s->nwaiters; i++) {
        bk_waiter *w = &s->waiters[i];
        bkey *k = w->key;
        if (w->prev)
            w->prev->next = w->next;
        else
            k->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            k->tail = w->prev;
        bkey_release(k);
    }
    if (s->deadline_ms) heap_remove(s);
    state_free(s);
    c->bstate = NULL;
    c->flags &= ~CLIENT_BLOCKED;
    B.nblocked--;
}

/* The client got its answer: detach it and let its queued input run before sleeping. */
static void unblock(client *c) {
    detach(c);
    c->flags |= CLIENT_UNBLOCKED;
    c->unblocked_next = B.unblocked;
    B.unblocked = c;
}

void blocking_block(client *c, int type, const int *key_idx, int nkeys, int64_t deadline_ms) {
    if (c->flags & CLIENT_IN_EXEC) {
        /* Inside EXEC nothing blocks: the reply is the one a timeout gives at once, as
         * Redis 7.0 answers (a null bulk for BLMOVE and BRPOPLPUSH, a null array else). */
        if (arg_eq(c, 0, "blmove") || arg_eq(c, 0, "brpoplpush"))
            reply_add_null(&c->reply);
        else
            reply_add_null_array(&c->reply);
        return;
    }
    if (c->bstate) { /* run again while being served: nothing could be served after all */
        c->bstate->reblocked = 1;
        return;
    }
    blocking_state *s = alloc_calloc(BLOCKING_SUB, sizeof(*s));
    s->c = c;
    s->fn = command_lookup(c->argv[0].ptr, c->argv[0].len)->fn;
    s->type = type;
    s->deadline_ms = deadline_ms;
    s->serving_key = -1;
    size_t total = 0;
    for (int i = 0; i < c->argc; i++)
        total += c->argv[i].len + 1;
    s->argbuf = alloc_malloc(BLOCKING_SUB, total ? total : 1);
    s->argv = alloc_malloc(BLOCKING_SUB, (size_t)c->argc * sizeof(*s->argv));
    s->argc = c->argc;
    char *p = s->argbuf;
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].ptr, c->argv[i].len);
        p[c->argv[i].len] = '\0';
        s->argv[i].ptr = p;
        s->argv[i].len = c->argv[i].len;
        p += c->argv[i].len + 1;
    }
    s->waiters = alloc_calloc(BLOCKING_SUB, (size_t)(nkeys ? nkeys : 1) * sizeof(*s->waiters));
    for (int i = 0; i < nkeys; i++) {
        const resp_arg *a = &c->argv[key_idx[i]];
        bkey *k = bkey_get(c->db_index, a->ptr, a->len);
        int dup = 0;
        for (int j = 0; j < s->nwaiters; j++)
            if (s->waiters[j].key == k) dup = 1;
        if (dup) continue;
        bk_waiter *w = &s->waiters[s->nwaiters++];
        w->key = k;
        w->c = c;
        w->argi = key_idx[i];
        w->prev = k->tail;
        if (k->tail)
            k->tail->next = w;
        else
            k->head = w;
        k->tail = w;
    }
    c->bstate = s;
    c->flags |= CLIENT_BLOCKED;
    B.nblocked++;
    if (deadline_ms) {
        heap_push(s);
        timer_arm();
    }
}

int blocking_serving_key(const client *c) {
    return c->bstate ? c->bstate->serving_key : -1;
}

void blocking_signal_key(int db_index, const char *key, size_t klen) {
    if (!B.nkeys) return;
    bkey *k = bkey_find(db_index, key, klen, key_hash(db_index, key, klen));
    if (!k || k->ready || !k->head) return;
    k->ready = 1;
    k->ready_next = NULL;
    if (B.ready_tail)
        B.ready_tail->ready_next = k;
    else
        B.ready_head = k;
    B.ready_tail = k;
}

void blocking_signal_db(int db_index) {
    if (!B.nkeys) return;
    db *d = srv.dbs[db_index];
    for (size_t i = 0; i < B.table_size; i++)
        for (bkey *k = B.table[i]; k; k = k->hnext)
            if (k->db_index == db_index && db_peek(d, k->key, k->klen))
                blocking_signal_key(db_index, k->key, k->klen);
}

/* Runs the blocked command of c again for the ready key argv[argi]. Returns 1 if it answered
 * (c is then unblocked). */
static int serve_client(client *c, int argi) {
    blocking_state *s = c->bstate;
    resp_arg *argv = c->argv;
    int argc = c->argc;
    client *current = srv.current_client;
    c->argv = s->argv;
    c->argc = s->argc;
    s->serving_key = argi;
    s->reblocked = 0;
    srv.current_client = c;
    size_t before = reply_buf_bytes(&c->reply);
    long long errors = srv.stats.error_replies;
    int64_t start = command_timing_on() ? util_monotonic_us() : 0;
    s->fn(c);
    srv.current_client = current;
    s->serving_key = -1;
    if (!s->reblocked)
        command_unblocked_reply(c, before, errors, start ? util_monotonic_us() - start : 0, 1);
    c->argv = argv;
    c->argc = argc;
    if (s->reblocked) return 0;
    unblock(c);
    client_obuf_check(c);
    return 1;
}

static void serve_key(bkey *k) {
    db *d = srv.dbs[k->db_index];
    bk_waiter *w = k->head;
    while (w) {
        uint64_t expired = 0;
        db_entry *e = db_find(d, k->key, k->klen, server_now_ms(), &expired);
        srv.stats.expired_keys += (long long)expired;
        if (!e) return;
        bk_waiter *next = w->next;
        client *c = w->c;
        /* A waiter of another type (BZPOPMIN on what is now a list) is left waiting, and so
         * is a client about to be closed (it would take an element with it). */
        if (db_entry_type(e) == c->bstate->type && !(c->flags & CLIENT_CLOSE_ASAP))
            serve_client(c, w->argi);
        w = next;
    }
}

void blocking_serve_ready_keys(void) {
    if (B.serving || !B.ready_head) return;
    B.serving = 1;
    while (B.ready_head) {
        bkey *k = B.ready_head;
        B.ready_head = k->ready_next;
        if (!B.ready_head) B.ready_tail = NULL;
        k->ready = 0;
        k->pinned = 1;
        serve_key(k);
        k->pinned = 0;
        bkey_release(k);
    }
    B.serving = 0;
}

void blocking_before_sleep(void) {
    blocking_serve_ready_keys();
    while (B.unblocked) {
        client *c = B.unblocked;
        B.unblocked = c->unblocked_next;
        c->unblocked_next = NULL;
        c->flags &= ~CLIENT_UNBLOCKED;
        client_unblock(c); /* runs its queued commands, queues its reply for writing */
        blocking_serve_ready_keys();
    }
}

/* ---- timeouts, CLIENT UNBLOCK, disconnects ---- */

/* The answer was added after `before` bytes: counted with the blocked command's arguments (for
 * SLOWLOG), as Redis counts a command once it is answered. */
static void answered(client *c, size_t before, long long errors, int served) {
    resp_arg *argv = c->argv;
    int argc = c->argc;
    c->argv = c->bstate->argv;
    c->argc = c->bstate->argc;
    command_unblocked_reply(c, before, errors, 0, served);
    c->argv = argv;
    c->argc = argc;
}

/* The timeout's null answer. `failed`: the command counts as failed all the same, as Redis
 * 7.0 counts one that CLIENT UNBLOCK ends this way (its error mark is put one error back). */
static void reply_timed_out(client *c, int failed) {
    size_t before = reply_buf_bytes(&c->reply);
    reply_add_null_array(&c->reply);
    answered(c, before, srv.stats.error_replies - failed, 0);
}

static int64_t timeout_timer(evloop *el, void *data) {
    (void)el;
    (void)data;
    server_update_time();
    int64_t now = util_mstime();
    while (B.heap_len && B.heap[0]->deadline_ms <= now) {
        client *c = B.heap[0]->c;
        reply_timed_out(c, 0);
        unblock(c);
    }
    B.timer_due_ms = 0;
    if (!B.heap_len) return BLOCKING_IDLE_TIMER_MS;
    int64_t delay = B.heap[0]->deadline_ms - now;
    B.timer_due_ms = B.heap[0]->deadline_ms;
    return delay > 0 ? delay : 0;
}

int blocking_unblock_by_id(uint64_t id, int error) {
    client *c = client_by_id(id);
    if (!c || !c->bstate) return 0;
    if (error) {
        size_t before = reply_buf_bytes(&c->reply);
        long long errors = srv.stats.error_replies;
        reply_error(c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        answered(c, before, errors, 1);
    } else {
        reply_timed_out(c, 1);
    }
    unblock(c);
    return 1;
}

void blocking_client_closed(client *c) {
    if (c->bstate) detach(c);
    if (c->flags & CLIENT_UNBLOCKED) {
        client **link = &B.unblocked;
        while (*link && *link != c)
            link = &(*link)->unblocked_next;
        if (*link) *link = c->unblocked_next;
        c->flags &= ~CLIENT_UNBLOCKED;
    }
}

size_t blocking_blocked_count(void) {
    return B.nblocked;
}

size_t blocking_timeout_count(void) {
    return B.heap_len;
}

size_t blocking_keys_count(void) {
    return B.nkeys;
}

/* ---- timeouts as Redis 7.0 parses them ---- */

int blocking_parse_timeout(client *c, int i, int64_t *deadline_ms) {
    long double v;
    if (util_parse_ld(c->argv[i].ptr, c->argv[i].len, &v) < 0) {
        reply_error(c, "ERR timeout is not a float or out of range");
        return -1;
    }
    /* Milliseconds rounded up (0.0001 waits 1 ms; -0.5 rounds to 0: forever). What does not
     * fit in 64 bits (inf, 1e400) converts to a negative number there, as on Redis's x86. */
    long double r = ceill(v * 1000.0L);
    long long ms =
        (r >= -9223372036854775808.0L && r < 9223372036854775808.0L) ? (long long)r : INT64_MIN;
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return -1;
    }
    int64_t now = util_mstime();
    /* Redis's deadline overflows into one that never comes: wait forever. */
    *deadline_ms = ms == 0 || ms > INT64_MAX - now ? 0 : now + ms;
    return 0;
}

/* ---- life cycle ---- */

void blocking_init(void) {
    B.timer_id = evloop_timer_add(srv.el, BLOCKING_IDLE_TIMER_MS, timeout_timer, NULL);
}

void blocking_shutdown(void) {
    /* every client was closed (and detached) before this */
    alloc_free(BLOCKING_SUB, B.table);
    alloc_free(BLOCKING_SUB, B.heap);
    memset(&B, 0, sizeof(B));
}
