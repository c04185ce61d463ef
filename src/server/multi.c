/* Transactions and WATCH: see multi.h for the contract. */
#include "server/multi.h"

#include <stdint.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/log.h"
#include "server/server.h"
#include "server/tracking.h"

#define MULTI_SUB ALLOC_SUB_CLIENTS

/* ---- the queue ------------------------------------------------------------------------- */

typedef struct queued_cmd {
    const command *cmd;
    subcommand *sub; /* its subcommand (statistics), NULL if none */
    int argc;
    resp_arg *argv; /* one block: the argv array, then the argument bytes (NUL-terminated) */
    size_t block;   /* its requested size */
} queued_cmd;

struct multi_state {
    queued_cmd *cmds;
    int count, cap;
    size_t mem;  /* as Redis's argv_len_sums: argument bytes plus a pointer per argument */
    int denyoom; /* a queued command may grow memory (EXEC is refused over maxmemory) */
    int writes;  /* a queued command writes or may replicate (CLIENT PAUSE WRITE holds EXEC) */
};

static void queue_free(multi_state *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++)
        alloc_free_sized(MULTI_SUB, m->cmds[i].argv, m->cmds[i].block);
    alloc_free(MULTI_SUB, m->cmds);
    alloc_free(MULTI_SUB, m);
}

/* ---- the watch table: (db, key) -> the clients watching it ------------------------------ */

typedef struct wkey wkey;
struct watcher {
    client *c;
    wkey *key;
    watcher *kprev, *knext; /* the key's watchers */
    watcher *cnext;         /* the client's watched keys */
    int expired;            /* the key was logically expired when watched (7.0's wk->expired) */
};

struct wkey {
    wkey *next; /* bucket chain */
    uint64_t hv;
    int db;
    size_t klen;
    watcher *watchers;
    char key[];
};

static wkey **table;
static size_t nbuckets, nkeys;

static uint64_t wkey_hash(int db_index, const char *key, size_t klen) {
    return db_hash_bytes(key, klen) ^ ((uint64_t)(unsigned)db_index * UINT64_C(0x9e3779b97f4a7c15));
}

static wkey **wkey_link(int db_index, const char *key, size_t klen, uint64_t hv) {
    if (!nbuckets) return NULL;
    wkey **link = &table[hv & (nbuckets - 1)];
    for (; *link; link = &(*link)->next) {
        wkey *k = *link;
        if (k->hv == hv && k->db == db_index && k->klen == klen && memcmp(k->key, key, klen) == 0)
            return link;
    }
    return NULL;
}

static void table_grow(void) {
    size_t n = nbuckets ? nbuckets * 2 : 16;
    wkey **t = alloc_calloc(MULTI_SUB, n * sizeof(*t));
    for (size_t i = 0; i < nbuckets; i++) {
        wkey *k = table[i];
        while (k) {
            wkey *next = k->next;
            k->next = t[k->hv & (n - 1)];
            t[k->hv & (n - 1)] = k;
            k = next;
        }
    }
    alloc_free(MULTI_SUB, table);
    table = t;
    nbuckets = n;
}

static wkey *wkey_get(int db_index, const char *key, size_t klen) {
    uint64_t hv = wkey_hash(db_index, key, klen);
    wkey **link = wkey_link(db_index, key, klen, hv);
    if (link) return *link;
    if (nkeys >= nbuckets) table_grow();
    wkey *k = alloc_malloc(MULTI_SUB, sizeof(*k) + klen);
    k->hv = hv;
    k->db = db_index;
    k->klen = klen;
    k->watchers = NULL;
    memcpy(k->key, key, klen);
    k->next = table[hv & (nbuckets - 1)];
    table[hv & (nbuckets - 1)] = k;
    if (nkeys++ == 0) server_change_hook_update(); /* someone listens now */
    return k;
}

static void wkey_release(wkey *k) {
    if (k->watchers) return;
    wkey **link = wkey_link(k->db, k->key, k->klen, k->hv);
    *link = k->next;
    alloc_free_sized(MULTI_SUB, k, sizeof(*k) + k->klen);
    if (--nkeys == 0) { /* nobody watches: the table goes, and the hook if caching is off */
        alloc_free(MULTI_SUB, table);
        table = NULL;
        nbuckets = 0;
        server_change_hook_update();
    }
}

static void unwatch_all(client *c) {
    watcher *w = c->watching;
    while (w) {
        watcher *next = w->cnext;
        wkey *k = w->key;
        if (w->kprev)
            w->kprev->knext = w->knext;
        else
            k->watchers = w->knext;
        if (w->knext) w->knext->kprev = w->kprev;
        alloc_free_sized(MULTI_SUB, w, sizeof(*w));
        wkey_release(k);
        w = next;
    }
    c->watching = NULL;
}

/* A key is logically expired: it exists with an expire time already past (no lazy delete). */
static int key_is_expired(int db_index, const char *key, size_t klen) {
    int64_t when = db_get_expire(srv.dbs[db_index], key, klen);
    return when >= 0 && when <= server_now_ms();
}

/* The watched key of k changed (deleted: it is gone now). */
static void touch_key(wkey *k, int deleted) {
    for (watcher *w = k->watchers; w; w = w->knext) {
        if (w->expired) {
            /* It was already expired when watched: its deletion changes nothing logically.
             * Once deleted it is an ordinary missing key. */
            if (deleted) {
                w->expired = 0;
                continue;
            }
        }
        w->c->flags |= CLIENT_DIRTY_CAS;
    }
}

/* The keys of db `emptied` are going away, replaced by those of db `replaced_with` (SWAPDB)
 * or by nothing (-1: FLUSHDB, FLUSHALL). Called before the change. Redis 7.0's rule: a
 * watched key changes if it exists on either side; an expired key that stays expired, or a
 * missing key replaced by an expired one, does not. */
static void touch_all_in_db(int emptied, int replaced_with) {
    for (size_t b = 0; b < nbuckets; b++) {
        for (wkey *k = table[b]; k; k = k->next) {
            if (k->db != emptied) continue;
            int in_emptied = db_peek(srv.dbs[emptied], k->key, k->klen) != NULL;
            int in_replaced =
                replaced_with >= 0 && db_peek(srv.dbs[replaced_with], k->key, k->klen) != NULL;
            if (!in_emptied && !in_replaced) continue;
            for (watcher *w = k->watchers; w; w = w->knext) {
                if (w->expired) {
                    if (!in_replaced) {
                        w->expired = 0; /* an expired key deleted: no logical change */
                        continue;
                    }
                    if (key_is_expired(replaced_with, k->key, k->klen)) continue;
                } else if (!in_emptied && key_is_expired(replaced_with, k->key, k->klen)) {
                    w->expired = 1; /* a missing key replaced by an expired one */
                    continue;
                }
                w->c->flags |= CLIENT_DIRTY_CAS;
            }
        }
    }
}

/* A key changed while some key is watched. */
static void watch_key_changed(db *d, const char *key, size_t klen, int change) {
    int index = db_get_index(d);
    if (change == DB_CHANGE_FLUSH) {
        touch_all_in_db(index, -1);
        return;
    }
    wkey **link = wkey_link(index, key, klen, wkey_hash(index, key, klen));
    if (link) touch_key(*link, change != DB_CHANGE_WRITE);
}

/* The db's one change hook (db.h), shared by WATCH and client-side caching (tracking.c). A
 * flush is not a key change for tracking: FLUSHDB/FLUSHALL send their null invalidation. */
static void keys_changed(db *d, const char *key, size_t klen, int change) {
    if (nkeys) watch_key_changed(d, key, klen, change);
    if (change != DB_CHANGE_FLUSH && tracking_listening())
        tracking_key_changed(key, klen, change == DB_CHANGE_EXPIRED);
}

/* The hook only while someone listens: a write then costs no call. */
void server_change_hook_update(void) {
    db_set_change_hook(nkeys || tracking_listening() ? keys_changed : NULL);
}

void multi_dbs_swapped(int id1, int id2) {
    if (!nkeys || id1 == id2) return;
    touch_all_in_db(id1, id2);
    touch_all_in_db(id2, id1);
}

size_t multi_watched_keys_count(void) {
    return nkeys;
}

/* ---- transaction state ----------------------------------------------------------------- */

static void discard_transaction(client *c) {
    queue_free(c->mstate);
    c->mstate = NULL;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
    unwatch_all(c);
}

void multi_flag_error(client *c) {
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
}

void multi_exec_abort(client *c, const char *why) {
    discard_transaction(c);
    if (strncmp(why, "ERR ", 4) == 0) why += 4;
    reply_errorf(c, "EXECABORT Transaction discarded because of: %s", why);
}

int multi_refused_on_oom(const client *c, const command *cmd) {
    if (!(c->flags & CLIENT_MULTI)) return 0;
    if (cmd->fn == cmd_exec) return c->mstate->denyoom;
    return !(cmd->flags & CMD_NOQUEUE);
}

int multi_queue(client *c, const command *cmd, subcommand *sub) {
    if (cmd->flags & CMD_NO_MULTI) {
        reply_error(c, "ERR Command not allowed inside a transaction");
        c->flags |= CLIENT_DIRTY_EXEC;
        return -1;
    }
    multi_state *m = c->mstate;
    if (m->count == m->cap) {
        int cap = m->cap ? m->cap * 2 : 4;
        m->cmds = alloc_realloc(MULTI_SUB, m->cmds, (size_t)cap * sizeof(*m->cmds));
        m->cap = cap;
    }
    size_t bytes = 0;
    for (int i = 0; i < c->argc; i++)
        bytes += c->argv[i].len;
    queued_cmd *q = &m->cmds[m->count++];
    q->cmd = cmd;
    q->sub = sub;
    q->argc = c->argc;
    q->block = (size_t)c->argc * sizeof(resp_arg) + bytes + (size_t)c->argc;
    q->argv = alloc_malloc(MULTI_SUB, q->block);
    char *p = (char *)(q->argv + c->argc);
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].ptr, c->argv[i].len);
        p[c->argv[i].len] = '\0';
        q->argv[i].ptr = p;
        q->argv[i].len = c->argv[i].len;
        p += c->argv[i].len + 1;
    }
    m->mem += bytes + (size_t)c->argc * sizeof(void *);
    if (cmd->flags & CMD_DENYOOM) m->denyoom = 1;
    if (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) m->writes = 1;
    reply_add_status(&c->reply, "QUEUED");
    /* The queue is input the client sent and we hold: bounded with the query buffer. */
    if (m->mem + (c->qlen - c->qpos) > (size_t)srv.client_query_buffer_limit &&
        !(c->flags & CLIENT_CLOSE_ASAP)) {
        char info[512];
        client_info_line(c, info, sizeof(info));
        log_msg(LOG_WARNING,
                "Closing client that reached max query buffer length (with its MULTI queue): %s",
                info);
        srv.stats.client_qbuf_limit_disconnections++;
        client_close_async(c);
    }
    return 0;
}

int multi_queue_writes(const client *c) {
    return (c->flags & CLIENT_MULTI) && c->mstate->writes;
}

void multi_client_reset(client *c) {
    discard_transaction(c);
}

long long multi_queued_count(const client *c) {
    return c->mstate ? c->mstate->count : -1;
}

size_t multi_queued_mem(const client *c) {
    return c->mstate ? c->mstate->mem : 0;
}

size_t multi_client_alloc_bytes(const client *c) {
    size_t n = 0;
    const multi_state *m = c->mstate;
    if (m) {
        n += alloc_usable_size(m) + (m->cmds ? alloc_usable_size(m->cmds) : 0);
        for (int i = 0; i < m->count; i++)
            n += alloc_usable_size(m->cmds[i].argv);
    }
    for (const watcher *w = c->watching; w; w = w->cnext)
        n += alloc_usable_size(w);
    return n;
}

void multi_shutdown(void) {
    alloc_free(MULTI_SUB, table);
    table = NULL;
    nbuckets = nkeys = 0;
    server_change_hook_update();
}

/* ---- commands -------------------------------------------------------------------------- */

void cmd_multi(client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->mstate = alloc_calloc(MULTI_SUB, sizeof(*c->mstate));
    c->flags |= CLIENT_MULTI;
    reply_add_status(&c->reply, "OK");
}

void cmd_discard(client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    discard_transaction(c);
    reply_add_status(&c->reply, "OK");
}

/* A watched key that logically expired since WATCH fails EXEC (unless it was already expired
 * then). */
static int watched_key_expired(const client *c) {
    for (const watcher *w = c->watching; w; w = w->cnext)
        if (!w->expired && key_is_expired(w->key->db, w->key->key, w->key->klen)) return 1;
    return 0;
}

void cmd_exec(client *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        discard_transaction(c);
        return;
    }
    if ((c->flags & CLIENT_DIRTY_CAS) || watched_key_expired(c)) {
        reply_add_null_array(&c->reply);
        discard_transaction(c);
        return;
    }
    /* The client stays in MULTI while its queue runs, as in Redis (CLIENT LIST shows x and
     * the queue): none of the commands that look at CLIENT_MULTI can be queued. */
    const multi_state *m = c->mstate;
    unwatch_all(c);
    c->flags |= CLIENT_IN_EXEC;
    reply_add_array_len(&c->reply, m->count);
    resp_arg *argv = c->argv;
    int argc = c->argc;
    for (int i = 0; i < m->count; i++) {
        queued_cmd *q = &m->cmds[i];
        c->argv = q->argv;
        c->argc = q->argc;
        c->last_cmd = q->cmd->name; /* error texts name it; CLIENT LIST says exec meanwhile */
        command_exec_queued(c, q->cmd, q->sub);
        if (c->flags & CLIENT_TRACKING) tracking_remember_keys(c, q->cmd, q->argv, q->argc);
    }
    c->argv = argv;
    c->argc = argc;
    c->last_cmd = "exec";
    c->flags &= ~CLIENT_IN_EXEC;
    discard_transaction(c);
}

void cmd_watch(client *c) {
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        const resp_arg *a = &c->argv[i];
        int already = 0;
        for (watcher *w = c->watching; w && !already; w = w->cnext)
            already = w->key->db == c->db_index && w->key->klen == a->len &&
                      memcmp(w->key->key, a->ptr, a->len) == 0;
        if (already) continue;
        wkey *k = wkey_get(c->db_index, a->ptr, a->len);
        watcher *w = alloc_malloc(MULTI_SUB, sizeof(*w));
        w->c = c;
        w->key = k;
        w->kprev = NULL;
        w->knext = k->watchers;
        if (k->watchers) k->watchers->kprev = w;
        k->watchers = w;
        w->cnext = c->watching;
        c->watching = w;
        w->expired = key_is_expired(c->db_index, a->ptr, a->len);
    }
    reply_add_status(&c->reply, "OK");
}

void cmd_unwatch(client *c) {
    unwatch_all(c);
    c->flags &= ~CLIENT_DIRTY_CAS;
    reply_add_status(&c->reply, "OK");
}
