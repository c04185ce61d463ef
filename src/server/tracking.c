/* Client-side caching: the tracking table, BCAST prefixes and invalidation messages. See
 * tracking.h for the contract. */
#include "server/tracking.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "db/dict.h"
#include "server/pubsub.h"

#define SUB ALLOC_SUB_TRACKING
#define CLIENT_SUB ALLOC_SUB_CLIENTS

#define TRACKING_MODE_FLAGS                                                                        \
    (CLIENT_TRACKING_BCAST | CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT |                      \
     CLIENT_TRACKING_NOLOOP)

/* ---- state ------------------------------------------------------------------------------ */

/* The ids of the clients that may cache one key, ascending. */
typedef struct idset {
    uint32_t n, cap;
    uint64_t ids[];
} idset;

static dict *table; /* key -> idset * */
static size_t total_items;
static dict *registry; /* client id (8 bytes) -> client *: tracking clients, redirect targets */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);
static int server_change;     /* eviction running: no client is the writer */
static unsigned limit_misses; /* calls in a row that could not get under the limit */

/* A BCAST prefix: its clients (in registration order) and the keys under it changed in this
 * event-loop iteration (key -> id of the client that changed it last, 0 for none). */
typedef struct bprefix {
    char *p;
    size_t len;
    client **clients;
    size_t nclients, ccap;
    dict *changed;
} bprefix;
static bprefix **prefixes; /* sorted by bytes (Redis's radix-tree order) */
static size_t nprefixes, prefixes_cap;
static int bcast_pending; /* some prefix has changed keys */

/* An invalidation for the client being served, sent once its reply is out. */
typedef struct held {
    uint64_t target;
    int null;
    size_t len;
    char key[];
} held;
static held **holds;
static size_t nholds, holds_cap;

typedef struct client_prefix {
    char *p;
    size_t len;
} client_prefix;

struct tracking_client {
    uint64_t redirect;
    client_prefix *prefixes; /* sorted */
    size_t nprefixes, cap;
};

/* Byte order, a prefix before what it starts: the order of Redis's radix trees. */
static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r) return r;
    return alen < blen ? -1 : alen > blen;
}

/* ---- the registry: id -> client ---------------------------------------------------------- */

static void registry_add(client *c) {
    if (!registry) registry = dict_new(SUB, DICT_PTR);
    int added;
    dict_set_ptr(dict_add(registry, &c->id, sizeof(c->id), &added), c);
}

static client *registry_get(uint64_t id) {
    dict_entry *e = registry ? dict_find(registry, &id, sizeof(id)) : NULL;
    return e ? dict_ptr(e) : NULL;
}

static void registry_del(uint64_t id) {
    if (registry) dict_delete(registry, &id, sizeof(id));
}

/* ---- delivery ----------------------------------------------------------------------------- */

/* What an invalidation carries: one key, a null (everything), or BCAST's sorted keys less
 * those whose last writer was `skip`. */
typedef struct bcast_key {
    const char *key;
    size_t len;
    uint64_t writer;
} bcast_key;
typedef struct payload {
    const char *key;
    size_t len;
    int null;
    const bcast_key *keys;
    size_t nkeys;
    uint64_t skip;   /* 0: none */
    long long count; /* keys sent (BCAST) */
} payload;

static void write_payload(reply_buf *rb, const payload *p) {
    if (p->null) {
        reply_add_null(rb);
    } else if (p->keys) {
        reply_add_array_len(rb, p->count);
        for (size_t i = 0; i < p->nkeys; i++)
            if (!p->skip || p->keys[i].writer != p->skip)
                reply_add_bulk(rb, p->keys[i].key, p->keys[i].len);
    } else {
        reply_add_array_len(rb, 1);
        reply_add_bulk(rb, p->key, p->len);
    }
}

static client *redirect_target(const client *t) {
    return t->tracking && t->tracking->redirect ? registry_get(t->tracking->redirect) : NULL;
}

static void queue_output(client *c) {
    client_queue_write(c);
    client_obuf_check(c);
}

/* Sends an invalidation meant for tracking client t (to its redirect target, if any). */
static void send_invalidation(client *t, const payload *p) {
    client *dest = t;
    int redirected = 0;
    if (t->tracking && t->tracking->redirect) {
        dest = registry_get(t->tracking->redirect);
        if (!dest) {
            t->flags |= CLIENT_TRACKING_BROKEN_REDIR;
            if (t->reply.resp == 3 && !(t->flags & CLIENT_CLOSE_ASAP)) {
                reply_add_push_len(&t->reply, 2);
                reply_add_bulk(&t->reply, "tracking-redir-broken", 21);
                reply_add_int(&t->reply, (long long)t->tracking->redirect);
                queue_output(t);
            }
            return;
        }
        redirected = 1;
    }
    if (dest->flags & CLIENT_CLOSE_ASAP) return;
    if (dest->reply.resp == 3) {
        reply_add_push_len(&dest->reply, 2);
        reply_add_bulk(&dest->reply, "invalidate", 10);
    } else if (redirected && pubsub_client_subscribed(dest)) {
        /* RESP2 has no push: a subscribed target gets a pub/sub message. */
        reply_add_push_len(&dest->reply, 3);
        reply_add_bulk(&dest->reply, "message", 7);
        reply_add_bulk(&dest->reply, "__redis__:invalidate", 20);
    } else {
        return; /* RESP2 without a subscribed target: nowhere to send it */
    }
    write_payload(&dest->reply, p);
    queue_output(dest);
}

static void hold(uint64_t target, const char *key, size_t len, int null) {
    if (nholds == holds_cap) {
        holds_cap = holds_cap ? holds_cap * 2 : 8;
        holds = alloc_realloc(SUB, holds, holds_cap * sizeof(*holds));
    }
    held *h = alloc_malloc(SUB, sizeof(*h) + len);
    h->target = target;
    h->null = null;
    h->len = len;
    if (len) memcpy(h->key, key, len);
    holds[nholds++] = h;
}

/* One key (or the null) for t: held while t or its target is the client being served, whose
 * reply is not complete yet. */
static void deliver(client *t, const char *key, size_t len, int null) {
    client *cur = srv.current_client;
    if (cur && (t == cur || redirect_target(t) == cur)) {
        hold(t->id, key, len, null);
        return;
    }
    payload p = {.key = key, .len = len, .null = null};
    send_invalidation(t, &p);
}

/* Sends what was held; `served` is the client whose command ended (NULL: none). */
static void flush_holds(client *served) {
    for (size_t i = 0; i < nholds; i++) {
        held *h = holds[i];
        client *t = served && served->id == h->target ? served : registry_get(h->target);
        if (t) {
            payload p = {.key = h->key, .len = h->len, .null = h->null};
            send_invalidation(t, &p);
        }
        alloc_free(SUB, h);
    }
    nholds = 0;
    if (holds_cap > 64) {
        alloc_free(SUB, holds);
        holds = NULL;
        holds_cap = 0;
    }
}

/* ---- the tracking table ---------------------------------------------------------------- */

static void idset_free(idset *s) {
    alloc_free(SUB, s);
}

static void table_emptied(void) {
    /* Nobody tracks and nothing is remembered: the db's change hook can go. */
    if (srv.tracking_clients == 0) server_change_hook_update();
}

static void remember(const char *key, size_t len, uint64_t id) {
    if (!table) table = dict_new(SUB, DICT_PTR);
    int added;
    dict_entry *e = dict_add(table, key, len, &added);
    idset *s = dict_ptr(e);
    if (!s) {
        s = alloc_malloc(SUB, sizeof(*s) + 2 * sizeof(uint64_t));
        s->n = 0;
        s->cap = 2;
        dict_set_ptr(e, s);
    }
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->ids[lo] == id) return;
    if (s->n == s->cap) {
        uint32_t cap = s->cap * 2;
        s = alloc_realloc(SUB, s, sizeof(*s) + cap * sizeof(uint64_t));
        s->cap = cap;
        dict_set_ptr(e, s);
    }
    memmove(&s->ids[lo + 1], &s->ids[lo], (s->n - lo) * sizeof(uint64_t));
    s->ids[lo] = id;
    s->n++;
    total_items++;
}

static void bcast_note(const char *key, size_t len, const client *writer);

/* The key changed (or is dropped from the table): every client that may cache it is told
 * once and forgotten. bcast: the change goes to the BCAST prefixes too. */
static void invalidate_key(const char *key, size_t len, const client *writer, int bcast) {
    if (bcast && nprefixes) bcast_note(key, len, writer);
    if (!table) return;
    dict_entry *e = dict_find(table, key, len);
    if (!e) return;
    idset *s = dict_ptr(e);
    dict_delete(table, key, len); /* first: sending cannot reach the table, but be plain */
    total_items -= s->n;
    for (uint32_t i = 0; i < s->n; i++) {
        client *t = registry_get(s->ids[i]);
        /* Gone, no longer tracking, or switched to BCAST: what it read before is not news. */
        if (!t || !(t->flags & CLIENT_TRACKING) || (t->flags & CLIENT_TRACKING_BCAST)) continue;
        if ((t->flags & CLIENT_TRACKING_NOLOOP) && t == writer) continue;
        deliver(t, key, len, 0);
    }
    idset_free(s);
    if (dict_size(table) == 0) table_emptied();
}

/* tracking-table-max-keys: random keys are invalidated until the table is under it, with an
 * effort that grows each time it could not get there (Redis's trackingLimitUsedSlots). */
static void enforce_limit(void) {
    if (!table || srv.tracking_table_max_keys <= 0) return;
    size_t max = (size_t)srv.tracking_table_max_keys;
    if (dict_size(table) <= max) {
        limit_misses = 0;
        return;
    }
    long effort = 100L * (long)(limit_misses + 1);
    char buf[256];
    while (effort-- > 0 && dict_size(table) > max) {
        dict_entry *e = dict_random(table, &rng_state);
        size_t len;
        const char *k = (const char *)dict_key(e, &len);
        char *copy = len <= sizeof(buf) ? buf : alloc_malloc(SUB, len);
        memcpy(copy, k, len);
        invalidate_key(copy, len, NULL, 0);
        if (copy != buf) alloc_free(SUB, copy);
    }
    if (table && dict_size(table) > max)
        limit_misses++;
    else
        limit_misses = 0;
}

int tracking_apply_max_keys(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    enforce_limit();
    return 0;
}

/* Whether c's reads are remembered now (tracking on, not BCAST, CLIENT CACHING's say). */
static int remembers(const client *c) {
    int f = c->flags;
    if (!(f & CLIENT_TRACKING) || (f & CLIENT_TRACKING_BCAST)) return 0;
    /* OPTIN: only after CLIENT CACHING YES; OPTOUT: not after CLIENT CACHING NO. */
    int caching = (f & CLIENT_TRACKING_CACHING) != 0;
    return !(((f & CLIENT_TRACKING_OPTIN) && !caching) ||
             ((f & CLIENT_TRACKING_OPTOUT) && caching));
}

static void remember_keys(client *c, const command *cmd, const resp_arg *argv, int argc, int all) {
    int stackpos[16];
    int *pos = argc + 1 <= 16 ? stackpos : alloc_malloc(SUB, sizeof(int) * (size_t)(argc + 1));
    int n = all ? command_keys(cmd, argv, argc, pos) : command_read_keys(cmd, argv, argc, pos);
    for (int i = 0; i < n; i++)
        remember(argv[pos[i]].ptr, argv[pos[i]].len, c->id);
    if (pos != stackpos) alloc_free(SUB, pos);
    if (n) enforce_limit();
}

void tracking_remember_keys(client *c, const command *cmd, const resp_arg *argv, int argc) {
    if (!(cmd->flags & (CMD_READONLY | CMD_CONTAINER))) return; /* reads no key */
    if (cmd->flags & CMD_SCRIPT) return; /* its reads remember (tracking_script_read) */
    if (remembers(c)) remember_keys(c, cmd, argv, argc, 0);
}

void tracking_script_read(client *caller) {
    if (!remembers(caller) || caller->argc < 1) return;
    const command *cmd = command_lookup(caller->argv[0].ptr, caller->argv[0].len);
    if (cmd) remember_keys(caller, cmd, caller->argv, caller->argc, 1);
}

void tracking_command_done(client *c, const command *cmd, const resp_arg *argv, int argc) {
    if (cmd) tracking_remember_keys(c, cmd, argv, argc);
    /* CLIENT CACHING covers the next command, or the next transaction (Redis's resetClient
     * keeps it inside MULTI and after CLIENT commands). */
    int client_cmd = argc > 0 && argv[0].len == 6 && strncasecmp(argv[0].ptr, "client", 6) == 0;
    int waiting = c->flags & (CLIENT_PAUSED | CLIENT_BLOCKED); /* its command has not ended */
    if (!(c->flags & CLIENT_MULTI) && !client_cmd && !waiting) c->flags &= ~CLIENT_TRACKING_CACHING;
    if (nholds) flush_holds(c);
}

void tracking_server_change(int on) {
    server_change = on;
}

void tracking_key_changed(const char *key, size_t klen, int expired) {
    const client *writer = expired || server_change ? NULL : srv.current_client;
    invalidate_key(key, klen, writer, 1);
}

int tracking_listening(void) {
    return srv.tracking_clients > 0 || (table && dict_size(table) > 0);
}

static void table_clear(void) {
    if (!table) return;
    dict_iter it;
    dict_iter_init(table, &it);
    for (dict_entry *e; (e = dict_iter_next(&it));)
        idset_free(dict_ptr(e));
    dict_free(table);
    table = NULL;
    total_items = 0;
}

void tracking_invalidate_all(void) {
    if (srv.tracking_clients)
        for (client *c = srv.clients; c; c = c->next)
            if (c->flags & CLIENT_TRACKING) deliver(c, NULL, 0, 1);
    table_clear();
    table_emptied();
}

/* ---- BCAST prefixes ------------------------------------------------------------------------ */

/* Index of the prefix, or where it would go (*found 0). */
static size_t prefix_find(const char *p, size_t len, int *found) {
    size_t lo = 0, hi = nprefixes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = bytes_cmp(prefixes[mid]->p, prefixes[mid]->len, p, len);
        if (r == 0) {
            *found = 1;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void bprefix_free(bprefix *bp) {
    alloc_free(SUB, bp->p);
    alloc_free(SUB, bp->clients);
    dict_free(bp->changed);
    alloc_free(SUB, bp);
}

static void prefix_add(client *c, const char *p, size_t len) {
    int found;
    size_t i = prefix_find(p, len, &found);
    if (!found) {
        if (nprefixes == prefixes_cap) {
            prefixes_cap = prefixes_cap ? prefixes_cap * 2 : 4;
            prefixes = alloc_realloc(SUB, prefixes, prefixes_cap * sizeof(*prefixes));
        }
        bprefix *bp = alloc_calloc(SUB, sizeof(*bp));
        bp->p = alloc_malloc(SUB, len ? len : 1);
        if (len) memcpy(bp->p, p, len);
        bp->len = len;
        memmove(&prefixes[i + 1], &prefixes[i], (nprefixes - i) * sizeof(*prefixes));
        prefixes[i] = bp;
        nprefixes++;
    }
    bprefix *bp = prefixes[i];
    for (size_t k = 0; k < bp->nclients; k++)
        if (bp->clients[k] == c) return; /* already registered */
    if (bp->nclients == bp->ccap) {
        bp->ccap = bp->ccap ? bp->ccap * 2 : 4;
        bp->clients = alloc_realloc(SUB, bp->clients, bp->ccap * sizeof(*bp->clients));
    }
    bp->clients[bp->nclients++] = c;
    /* The client's own list, sorted too (TRACKINGINFO lists it in that order). */
    struct tracking_client *ts = c->tracking;
    size_t at = 0;
    while (at < ts->nprefixes && bytes_cmp(ts->prefixes[at].p, ts->prefixes[at].len, p, len) < 0)
        at++;
    if (ts->nprefixes == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 4;
        ts->prefixes = alloc_realloc(CLIENT_SUB, ts->prefixes, ts->cap * sizeof(*ts->prefixes));
    }
    memmove(&ts->prefixes[at + 1], &ts->prefixes[at], (ts->nprefixes - at) * sizeof(*ts->prefixes));
    ts->prefixes[at].p = alloc_malloc(CLIENT_SUB, len ? len : 1);
    if (len) memcpy(ts->prefixes[at].p, p, len);
    ts->prefixes[at].len = len;
    ts->nprefixes++;
}

static void prefix_remove_client(const char *p, size_t len, client *c) {
    int found;
    size_t i = prefix_find(p, len, &found);
    if (!found) return;
    bprefix *bp = prefixes[i];
    for (size_t k = 0; k < bp->nclients; k++) {
        if (bp->clients[k] != c) continue;
        memmove(&bp->clients[k], &bp->clients[k + 1], (bp->nclients - k - 1) * sizeof(client *));
        bp->nclients--;
        break;
    }
    if (bp->nclients) return;
    bprefix_free(bp);
    memmove(&prefixes[i], &prefixes[i + 1], (nprefixes - i - 1) * sizeof(*prefixes));
    nprefixes--;
}

static void bcast_note(const char *key, size_t len, const client *writer) {
    for (size_t i = 0; i < nprefixes; i++) {
        bprefix *bp = prefixes[i];
        if (bp->len > len || (bp->len && memcmp(bp->p, key, bp->len) != 0)) continue;
        if (!bp->changed) bp->changed = dict_new(SUB, DICT_PTR);
        int added;
        dict_entry *e = dict_add(bp->changed, key, len, &added);
        /* The last writer, for NOLOOP (a pointer-sized slot holds the id). */
        dict_set_ptr(e, (void *)(uintptr_t)(writer ? writer->id : 0));
        bcast_pending = 1;
    }
}

static int bcast_key_cmp(const void *a, const void *b) {
    const bcast_key *x = a, *y = b;
    return bytes_cmp(x->key, x->len, y->key, y->len);
}

/* Each prefix's changed keys to its clients, one message per prefix (Redis sends them from
 * beforeSleep, so a pipeline's writes arrive together). */
static void bcast_flush(void) {
    bcast_pending = 0;
    for (size_t i = 0; i < nprefixes; i++) {
        bprefix *bp = prefixes[i];
        if (!bp->changed) continue;
        dict *changed = bp->changed;
        bp->changed = NULL;
        size_t n = dict_size(changed);
        bcast_key *keys = alloc_malloc(SUB, (n ? n : 1) * sizeof(*keys));
        dict_iter it;
        dict_iter_init(changed, &it);
        size_t k = 0;
        for (dict_entry *e; (e = dict_iter_next(&it));) {
            keys[k].key = (const char *)dict_key(e, &keys[k].len);
            keys[k].writer = (uint64_t)(uintptr_t)dict_ptr(e);
            k++;
        }
        qsort(keys, n, sizeof(*keys), bcast_key_cmp);
        for (size_t j = 0; j < bp->nclients; j++) {
            client *c = bp->clients[j];
            payload p = {.keys = keys, .nkeys = n, .count = (long long)n};
            if (c->flags & CLIENT_TRACKING_NOLOOP) {
                p.skip = c->id;
                p.count = 0;
                for (size_t m = 0; m < n; m++)
                    p.count += keys[m].writer != c->id;
                if (p.count == 0) continue;
            }
            send_invalidation(c, &p);
        }
        alloc_free(SUB, keys);
        dict_free(changed);
    }
}

void tracking_before_sleep(void) {
    if (bcast_pending) bcast_flush();
    if (nholds) flush_holds(NULL);
    if (table && srv.tracking_table_max_keys > 0 &&
        dict_size(table) > (size_t)srv.tracking_table_max_keys)
        enforce_limit();
}

/* ---- clients ------------------------------------------------------------------------------ */

int tracking_check_prefixes(client *c, const resp_arg *p, int n) {
    const struct tracking_client *ts = c->tracking;
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; ts && k < ts->nprefixes; k++) {
            size_t m = ts->prefixes[k].len < p[i].len ? ts->prefixes[k].len : p[i].len;
            if (memcmp(ts->prefixes[k].p, p[i].ptr, m) == 0) {
                reply_errorf(c,
                             "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                             "Prefixes for a single client must not overlap.",
                             (int)p[i].len, p[i].ptr, (int)ts->prefixes[k].len, ts->prefixes[k].p);
                return -1;
            }
        }
        for (int j = i + 1; j < n; j++) {
            size_t m = p[i].len < p[j].len ? p[i].len : p[j].len;
            if (memcmp(p[i].ptr, p[j].ptr, m) == 0) {
                reply_errorf(c,
                             "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                             "Prefixes for a single client must not overlap.",
                             (int)p[i].len, p[i].ptr, (int)p[j].len, p[j].ptr);
                return -1;
            }
        }
    }
    return 0;
}

void tracking_enable(client *c, const tracking_options *o) {
    if (!(c->flags & CLIENT_TRACKING)) srv.tracking_clients++;
    c->flags |= CLIENT_TRACKING;
    c->flags &= ~(CLIENT_TRACKING_BROKEN_REDIR | TRACKING_MODE_FLAGS);
    if (!c->tracking) c->tracking = alloc_calloc(CLIENT_SUB, sizeof(*c->tracking));
    c->tracking->redirect = o->redirect;
    registry_add(c);
    if (o->redirect) {
        client *r = client_by_id(o->redirect);
        if (r) {
            r->flags |= CLIENT_TRACKING_TARGET;
            registry_add(r);
        }
    }
    if (o->flags & CLIENT_TRACKING_BCAST) {
        c->flags |= CLIENT_TRACKING_BCAST;
        if (o->nprefixes == 0) prefix_add(c, "", 0);
        for (int i = 0; i < o->nprefixes; i++)
            prefix_add(c, o->prefixes[i].ptr, o->prefixes[i].len);
    }
    c->flags |=
        o->flags & (CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT | CLIENT_TRACKING_NOLOOP);
    server_change_hook_update();
}

void tracking_disable(client *c) {
    struct tracking_client *ts = c->tracking;
    if (ts) {
        for (size_t k = 0; k < ts->nprefixes; k++) {
            prefix_remove_client(ts->prefixes[k].p, ts->prefixes[k].len, c);
            alloc_free(CLIENT_SUB, ts->prefixes[k].p);
        }
        alloc_free(CLIENT_SUB, ts->prefixes);
        alloc_free(CLIENT_SUB, ts);
        c->tracking = NULL;
    }
    if (c->flags & CLIENT_TRACKING) {
        srv.tracking_clients--;
        c->flags &= ~(CLIENT_TRACKING | CLIENT_TRACKING_BROKEN_REDIR | CLIENT_TRACKING_CACHING |
                      TRACKING_MODE_FLAGS);
        server_change_hook_update();
    }
    if (!(c->flags & CLIENT_TRACKING_TARGET)) registry_del(c->id);
}

void tracking_client_closed(client *c) {
    if (c->flags & CLIENT_TRACKING) tracking_disable(c);
    if (c->flags & CLIENT_TRACKING_TARGET) registry_del(c->id);
}

long long tracking_redirect(const client *c) {
    return (c->flags & CLIENT_TRACKING) && c->tracking ? (long long)c->tracking->redirect : -1;
}

void tracking_reply_info(client *c) {
    static const struct {
        int flag;
        const char *name;
    } names[] = {
        {CLIENT_TRACKING_BCAST, "bcast"},
        {CLIENT_TRACKING_OPTIN, "optin"},
        {CLIENT_TRACKING_OPTOUT, "optout"},
        {CLIENT_TRACKING_NOLOOP, "noloop"},
        {CLIENT_TRACKING_BROKEN_REDIR, "broken_redirect"},
    };
    int f = c->flags;
    const char *flags[8];
    int n = 0;
    flags[n++] = (f & CLIENT_TRACKING) ? "on" : "off";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(f & names[i].flag)) continue;
        flags[n++] = names[i].name;
        /* CLIENT CACHING's state right after the mode it belongs to, as Redis lists it. */
        if (names[i].flag == CLIENT_TRACKING_OPTIN && (f & CLIENT_TRACKING_CACHING))
            flags[n++] = "caching-yes";
        if (names[i].flag == CLIENT_TRACKING_OPTOUT && (f & CLIENT_TRACKING_CACHING))
            flags[n++] = "caching-no";
    }
    reply_add_map_len(&c->reply, 3);
    reply_add_bulk_cstr(&c->reply, "flags");
    reply_add_set_len(&c->reply, n);
    for (int i = 0; i < n; i++)
        reply_add_bulk_cstr(&c->reply, flags[i]);
    reply_add_bulk_cstr(&c->reply, "redirect");
    reply_add_int(&c->reply, tracking_redirect(c));
    reply_add_bulk_cstr(&c->reply, "prefixes");
    const struct tracking_client *ts = c->tracking;
    reply_add_array_len(&c->reply, ts ? (long long)ts->nprefixes : 0);
    for (size_t k = 0; ts && k < ts->nprefixes; k++)
        reply_add_bulk(&c->reply, ts->prefixes[k].p, ts->prefixes[k].len);
}

size_t tracking_client_alloc_bytes(const client *c) {
    const struct tracking_client *ts = c->tracking;
    if (!ts) return 0;
    size_t n = alloc_usable_size(ts);
    if (ts->prefixes) n += alloc_usable_size(ts->prefixes);
    for (size_t k = 0; k < ts->nprefixes; k++)
        n += alloc_usable_size(ts->prefixes[k].p);
    return n;
}

size_t tracking_total_keys(void) {
    return table ? dict_size(table) : 0;
}

size_t tracking_total_items(void) {
    return total_items;
}

size_t tracking_total_prefixes(void) {
    return nprefixes;
}

void tracking_shutdown(void) {
    for (client *c = srv.clients; c; c = c->next)
        tracking_client_closed(c);
    table_clear();
    for (size_t i = 0; i < nprefixes; i++)
        bprefix_free(prefixes[i]);
    alloc_free(SUB, prefixes);
    prefixes = NULL;
    nprefixes = prefixes_cap = 0;
    flush_holds(NULL);
    alloc_free(SUB, holds);
    holds = NULL;
    holds_cap = 0;
    dict_free(registry);
    registry = NULL;
}
