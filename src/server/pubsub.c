/* Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH
 * PUBSUB, with Redis 7.0's replies. See pubsub.h for the layout of the tables. */
#include "server/pubsub.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc/alloc.h"
#include "db/dict.h"
#include "server/server.h"
#include "util/util.h"

#define SUB ALLOC_SUB_PUBSUB

/* The subscribers of one channel or pattern, in subscription order. */
typedef struct sublist {
    client **c;
    size_t n, cap;
} sublist;

typedef struct pattern {
    char *p;
    size_t len;
} pattern;

struct pubsub_client {
    dict *channels; /* DICT_KEYS */
    dict *shard;    /* DICT_KEYS */
    pattern *pats;  /* in subscription order */
    size_t npats, pats_cap;
};

/* Server side: channel / shard channel / pattern -> sublist */
static dict *channels, *shard_channels, *patterns;

/* What differs between plain and shard channels (Redis's pubsubtype). */
typedef struct pubsub_kind {
    int shard;
    const char *subscribe, *unsubscribe, *message;
} pubsub_kind;
static const pubsub_kind kind_plain = {0, "subscribe", "unsubscribe", "message"};
static const pubsub_kind kind_shard = {1, "ssubscribe", "sunsubscribe", "smessage"};

void pubsub_init(void) {
    channels = dict_new(SUB, DICT_PTR);
    shard_channels = dict_new(SUB, DICT_PTR);
    patterns = dict_new(SUB, DICT_PTR);
}

static void sublists_free(dict *d) {
    dict_iter it;
    dict_iter_init(d, &it);
    for (dict_entry *e; (e = dict_iter_next(&it));) {
        sublist *l = dict_ptr(e);
        alloc_free(SUB, l->c);
        alloc_free(SUB, l);
    }
    dict_free(d);
}

void pubsub_free(void) {
    for (client *c = srv.clients; c; c = c->next)
        pubsub_client_reset(c);
    sublists_free(channels);
    sublists_free(shard_channels);
    sublists_free(patterns);
    channels = shard_channels = patterns = NULL;
}

size_t pubsub_channels_count(void) {
    return channels ? dict_size(channels) : 0;
}
size_t pubsub_patterns_count(void) {
    return patterns ? dict_size(patterns) : 0;
}
size_t pubsub_shard_channels_count(void) {
    return shard_channels ? dict_size(shard_channels) : 0;
}

static pubsub_client *state_of(client *c) {
    if (!c->pubsub) {
        c->pubsub = alloc_calloc(SUB, sizeof(*c->pubsub));
        c->pubsub->channels = dict_new(SUB, DICT_KEYS);
        c->pubsub->shard = dict_new(SUB, DICT_KEYS);
    }
    return c->pubsub;
}

void pubsub_client_counts(const client *c, pubsub_counts *out) {
    const pubsub_client *s = c->pubsub;
    out->channels = s ? dict_size(s->channels) : 0;
    out->patterns = s ? s->npats : 0;
    out->shard_channels = s ? dict_size(s->shard) : 0;
}

int pubsub_client_subscribed(const client *c) {
    const pubsub_client *s = c->pubsub;
    return s && (dict_size(s->channels) || s->npats || dict_size(s->shard));
}

void pubsub_top_subscriber(mem_subscriber_top *out) {
    memset(out, 0, sizeof(*out));
    const obuf_limit *lim = &srv.obuf_pubsub;
    out->hard_limit = lim->hard > 0 ? (size_t)lim->hard : 0;
    out->soft_limit = lim->soft > 0 ? (size_t)lim->soft : 0;
    out->soft_seconds = lim->soft_seconds > 0 ? (uint64_t)lim->soft_seconds : 0;
    const client *top = NULL;
    size_t top_bytes = 0;
    for (const client *c = srv.clients; c; c = c->next) {
        if (!c->pubsub || !pubsub_client_subscribed(c)) continue;
        size_t b = reply_buf_bytes(&c->reply);
        out->subscribers++;
        out->subscribers_bytes += b;
        if (!top || b > top_bytes) {
            top = c;
            top_bytes = b;
        }
    }
    if (!top) return;
    out->id = top->id;
    out->bytes = top_bytes;
    snprintf(out->addr, sizeof(out->addr), "%s", top->addr);
    snprintf(out->name, sizeof(out->name), "%s", top->name ? top->name : "");
    if (top->obuf_soft_since_ms && out->soft_limit && top_bytes >= out->soft_limit) {
        int64_t over = server_now_ms() - top->obuf_soft_since_ms;
        out->over_soft_ms = over > 0 ? (uint64_t)over : 1;
    }
    pubsub_counts n;
    pubsub_client_counts(top, &n);
    out->channels = n.channels;
    out->patterns = n.patterns;
    out->shard_channels = n.shard_channels;
}

/* Redis's clientSubscriptionsCount (channels and patterns) or, for shard channels,
 * clientShardSubscriptionsCount: the number each confirmation carries. */
static long long sub_count(client *c, const pubsub_kind *k) {
    pubsub_counts n;
    pubsub_client_counts(c, &n);
    return k->shard ? (long long)n.shard_channels : (long long)(n.channels + n.patterns);
}

/* ---- server-side lists ---- */

static void sublist_add(dict *d, const char *name, size_t len, client *c) {
    int added;
    dict_entry *e = dict_add(d, name, len, &added);
    sublist *l = dict_ptr(e);
    if (!l) {
        l = alloc_calloc(SUB, sizeof(*l));
        dict_set_ptr(e, l);
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->c = alloc_realloc(SUB, l->c, l->cap * sizeof(*l->c));
    }
    l->c[l->n++] = c;
}

static void sublist_remove(dict *d, const char *name, size_t len, client *c) {
    dict_entry *e = dict_find(d, name, len);
    if (!e) return;
    sublist *l = dict_ptr(e);
    for (size_t i = 0; i < l->n; i++) {
        if (l->c[i] != c) continue;
        memmove(&l->c[i], &l->c[i + 1], (l->n - i - 1) * sizeof(*l->c));
        l->n--;
        break;
    }
    if (l->n == 0) {
        alloc_free(SUB, l->c);
        alloc_free(SUB, l);
        dict_delete(d, name, len);
    }
}

/* ---- confirmations ---- */

static void reply_confirm(client *c, const char *what, const char *name, size_t len,
                          long long count) {
    reply_add_push_len(&c->reply, 3);
    reply_add_bulk(&c->reply, what, strlen(what));
    if (name)
        reply_add_bulk(&c->reply, name, len);
    else
        reply_add_null(&c->reply);
    reply_add_int(&c->reply, count);
}

static void subscribe_channel(client *c, const resp_arg *a, const pubsub_kind *k) {
    pubsub_client *s = state_of(c);
    int added;
    dict_add(k->shard ? s->shard : s->channels, a->ptr, a->len, &added);
    if (added) sublist_add(k->shard ? shard_channels : channels, a->ptr, a->len, c);
    reply_confirm(c, k->subscribe, a->ptr, a->len, sub_count(c, k));
}

/* Leaves one channel; replies when notify (also when c was not subscribed to it, as Redis). */
static void unsubscribe_channel(client *c, const char *name, size_t len, const pubsub_kind *k,
                                int notify) {
    pubsub_client *s = c->pubsub;
    if (s && dict_delete(k->shard ? s->shard : s->channels, name, len))
        sublist_remove(k->shard ? shard_channels : channels, name, len, c);
    if (notify) reply_confirm(c, k->unsubscribe, name, len, sub_count(c, k));
}

static void unsubscribe_all_channels(client *c, const pubsub_kind *k, int notify) {
    pubsub_client *s = c->pubsub;
    dict *mine = s ? (k->shard ? s->shard : s->channels) : NULL;
    size_t count = 0;
    while (mine && dict_size(mine) > 0) {
        /* Take the first entry each time: unsubscribing deletes it from the set. */
        dict_iter it;
        dict_iter_init(mine, &it);
        dict_entry *e = dict_iter_next(&it);
        size_t len;
        const unsigned char *key = dict_key(e, &len);
        char *name = alloc_strndup(SUB, (const char *)key, len);
        unsubscribe_channel(c, name, len, k, notify);
        alloc_free(SUB, name);
        count++;
    }
    if (notify && count == 0) reply_confirm(c, k->unsubscribe, NULL, 0, sub_count(c, k));
}

static long long find_pattern(const pubsub_client *s, const char *p, size_t len) {
    for (size_t i = 0; s && i < s->npats; i++)
        if (s->pats[i].len == len && memcmp(s->pats[i].p, p, len) == 0) return (long long)i;
    return -1;
}

static void subscribe_pattern(client *c, const resp_arg *a) {
    pubsub_client *s = state_of(c);
    if (find_pattern(s, a->ptr, a->len) < 0) {
        if (s->npats == s->pats_cap) {
            s->pats_cap = s->pats_cap ? s->pats_cap * 2 : 4;
            s->pats = alloc_realloc(SUB, s->pats, s->pats_cap * sizeof(*s->pats));
        }
        s->pats[s->npats++] = (pattern){alloc_strndup(SUB, a->ptr, a->len), a->len};
        sublist_add(patterns, a->ptr, a->len, c);
    }
    reply_confirm(c, "psubscribe", a->ptr, a->len, sub_count(c, &kind_plain));
}

static void unsubscribe_pattern(client *c, const char *p, size_t len, int notify) {
    pubsub_client *s = c->pubsub;
    long long i = find_pattern(s, p, len);
    char *held = NULL;
    if (i >= 0) {
        held = s->pats[i].p; /* p may point into it */
        memmove(&s->pats[i], &s->pats[i + 1], (s->npats - (size_t)i - 1) * sizeof(*s->pats));
        s->npats--;
        sublist_remove(patterns, p, len, c);
    }
    if (notify) reply_confirm(c, "punsubscribe", p, len, sub_count(c, &kind_plain));
    alloc_free(SUB, held);
}

static void unsubscribe_all_patterns(client *c, int notify) {
    pubsub_client *s = c->pubsub;
    size_t count = 0;
    while (s && s->npats > 0) {
        unsubscribe_pattern(c, s->pats[0].p, s->pats[0].len, notify);
        count++;
    }
    if (notify && count == 0) reply_confirm(c, "punsubscribe", NULL, 0, 0);
}

void pubsub_client_reset(client *c) {
    pubsub_client *s = c->pubsub;
    if (!s) return;
    unsubscribe_all_channels(c, &kind_plain, 0);
    unsubscribe_all_channels(c, &kind_shard, 0);
    unsubscribe_all_patterns(c, 0);
    dict_free(s->channels);
    dict_free(s->shard);
    alloc_free(SUB, s->pats);
    alloc_free(SUB, s);
    c->pubsub = NULL;
}

/* ---- delivery ---- */

/* Appends a message to a subscriber's output and queues it for writing; a subscriber over its
 * output-buffer limit is closed (and gets nothing more, as in Redis). */
static void deliver(client *c, const char *what, size_t wlen, const char *pat, size_t plen,
                    const char *ch, size_t chlen, const char *msg, size_t mlen) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    reply_add_push_len(&c->reply, pat ? 4 : 3);
    reply_add_bulk(&c->reply, what, wlen);
    if (pat) reply_add_bulk(&c->reply, pat, plen);
    reply_add_bulk(&c->reply, ch, chlen);
    reply_add_bulk(&c->reply, msg, mlen);
    client_queue_write(c);
    client_obuf_check(c);
}

long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen, int shard) {
    const pubsub_kind *k = shard ? &kind_shard : &kind_plain;
    long long receivers = 0;
    dict_entry *e = dict_find(shard ? shard_channels : channels, ch, chlen);
    if (e) {
        sublist *l = dict_ptr(e);
        for (size_t i = 0; i < l->n; i++) {
            deliver(l->c[i], k->message, strlen(k->message), NULL, 0, ch, chlen, msg, mlen);
            receivers++;
        }
    }
    if (shard || dict_size(patterns) == 0) return receivers;
    /* Delivering cannot change the tables (a client over its limit is closed later). */
    dict_iter it;
    dict_iter_init(patterns, &it);
    for (dict_entry *pe; (pe = dict_iter_next(&it));) {
        size_t plen;
        const char *p = (const char *)dict_key(pe, &plen);
        /* Redis's stringmatchlen never lets an empty channel match a non-empty pattern. */
        if (chlen == 0 ? plen != 0 : !util_glob_match(p, plen, ch, chlen, 0)) continue;
        sublist *l = dict_ptr(pe);
        for (size_t i = 0; i < l->n; i++) {
            deliver(l->c[i], "pmessage", 8, p, plen, ch, chlen, msg, mlen);
            receivers++;
        }
    }
    return receivers;
}

/* ---- the subscribed-mode rule ---- */

static void cmd_subscribe(client *c);
static void cmd_unsubscribe(client *c);
static void cmd_psubscribe(client *c);
static void cmd_punsubscribe(client *c);
static void cmd_ssubscribe(client *c);
static void cmd_sunsubscribe(client *c);

/* Redis's containers: its error names the subcommand too ("config|get"). */
static int is_container(const char *name) {
    static const char *const names[] = {"client",   "command", "config",  "memory", "object",
                                        "pubsub",   "slowlog", "latency", "acl",    "script",
                                        "function", "cluster", "module",  "xinfo",  "xgroup"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}

int pubsub_deny_command(client *c, const command *cmd) {
    if (c->reply.resp != 2 || !pubsub_client_subscribed(c)) return 0;
    command_fn *fn = cmd->fn;
    if (fn == cmd_ping || fn == cmd_quit || fn == cmd_reset || fn == cmd_subscribe ||
        fn == cmd_unsubscribe || fn == cmd_psubscribe || fn == cmd_punsubscribe ||
        fn == cmd_ssubscribe || fn == cmd_sunsubscribe)
        return 0;
    char full[160];
    int n = snprintf(full, sizeof(full), "%s", cmd->name);
    if (is_container(cmd->name) && c->argc >= 2 && n > 0) {
        size_t sl = c->argv[1].len < 64 ? c->argv[1].len : 64;
        full[n++] = '|';
        for (size_t i = 0; i < sl; i++)
            full[n++] = (char)tolower((unsigned char)c->argv[1].ptr[i]);
        full[n] = '\0';
    }
    reply_errorf(c,
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 full);
    return -1;
}

/* ---- commands ---- */

static void cmd_subscribe(client *c) {
    for (int i = 1; i < c->argc; i++)
        subscribe_channel(c, &c->argv[i], &kind_plain);
}

static void cmd_ssubscribe(client *c) {
    for (int i = 1; i < c->argc; i++)
        subscribe_channel(c, &c->argv[i], &kind_shard);
}

static void unsubscribe_generic(client *c, const pubsub_kind *k) {
    if (c->argc == 1) {
        unsubscribe_all_channels(c, k, 1);
        return;
    }
    for (int i = 1; i < c->argc; i++)
        unsubscribe_channel(c, c->argv[i].ptr, c->argv[i].len, k, 1);
}

static void cmd_unsubscribe(client *c) {
    unsubscribe_generic(c, &kind_plain);
}

static void cmd_sunsubscribe(client *c) {
    unsubscribe_generic(c, &kind_shard);
}

static void cmd_psubscribe(client *c) {
    for (int i = 1; i < c->argc; i++)
        subscribe_pattern(c, &c->argv[i]);
}

static void cmd_punsubscribe(client *c) {
    if (c->argc == 1) {
        unsubscribe_all_patterns(c, 1);
        return;
    }
    for (int i = 1; i < c->argc; i++)
        unsubscribe_pattern(c, c->argv[i].ptr, c->argv[i].len, 1);
}

static void cmd_publish(client *c) {
    reply_add_int(&c->reply, pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
                                            c->argv[2].len, 0));
}

static void cmd_spublish(client *c) {
    reply_add_int(&c->reply, pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
                                            c->argv[2].len, 1));
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern]: the active channels, in table order. */
static void reply_channel_list(client *c, dict *d) {
    const char *pat = c->argc == 3 ? c->argv[2].ptr : NULL;
    size_t plen = c->argc == 3 ? c->argv[2].len : 0;
    long long n = 0;
    dict_iter it;
    dict_iter_init(d, &it);
    for (dict_entry *e; (e = dict_iter_next(&it));) {
        size_t len;
        const char *ch = (const char *)dict_key(e, &len);
        if (!pat || util_glob_match(pat, plen, ch, len, 0)) n++;
    }
    reply_add_array_len(&c->reply, n);
    dict_iter_init(d, &it);
    for (dict_entry *e; (e = dict_iter_next(&it));) {
        size_t len;
        const char *ch = (const char *)dict_key(e, &len);
        if (!pat || util_glob_match(pat, plen, ch, len, 0)) reply_add_bulk(&c->reply, ch, len);
    }
}

/* A flat array of channel, count pairs in both protocols (Redis 7.0 does not make it a map). */
static void reply_numsub(client *c, dict *d) {
    reply_add_array_len(&c->reply, 2LL * (c->argc - 2));
    for (int i = 2; i < c->argc; i++) {
        dict_entry *e = dict_find(d, c->argv[i].ptr, c->argv[i].len);
        reply_add_bulk(&c->reply, c->argv[i].ptr, c->argv[i].len);
        reply_add_int(&c->reply, e ? (long long)((sublist *)dict_ptr(e))->n : 0);
    }
}

static const char *const pubsub_help[] = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
    NULL};

static void cmd_pubsub(client *c) {
    /* Subcommand arities as Redis 7.0's table: HELP and NUMPAT exactly 2, the others -2. */
    static const struct {
        const char *name;
        int exact;
    } subs[] = {{"help", 1},   {"numpat", 1},        {"channels", 0},
                {"numsub", 0}, {"shardchannels", 0}, {"shardnumsub", 0}};
    int known = -1;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (arg_eq(c, 1, subs[i].name)) known = (int)i;
    if (known < 0) {
        reply_unknown_subcommand(c);
        return;
    }
    if (subs[known].exact && c->argc != 2) {
        reply_wrong_subcommand_arity(c);
        return;
    }
    if (arg_eq(c, 1, "help")) {
        reply_help(c, pubsub_help);
    } else if (arg_eq(c, 1, "numpat")) {
        reply_add_int(&c->reply, (long long)dict_size(patterns));
    } else if (arg_eq(c, 1, "numsub")) {
        reply_numsub(c, channels);
    } else if (arg_eq(c, 1, "shardnumsub")) {
        reply_numsub(c, shard_channels);
    } else if (c->argc > 3) {
        int n = c->argv[1].len < 128 ? (int)c->argv[1].len : 128;
        reply_errorf(c,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "PUBSUB HELP.",
                     n, c->argv[1].ptr);
    } else {
        reply_channel_list(c, arg_eq(c, 1, "channels") ? channels : shard_channels);
    }
}

#define F CMD_FAST
/* clang-format off */
command pubsub_commands[] = {
    {"subscribe", cmd_subscribe, -2, CMD_NOSCRIPT, 0, 0, 0, "pubsub", "Listens for messages published to channels."},
    {"unsubscribe", cmd_unsubscribe, -1, CMD_NOSCRIPT, 0, 0, 0, "pubsub", "Stops listening to messages posted to channels."},
    {"psubscribe", cmd_psubscribe, -2, CMD_NOSCRIPT, 0, 0, 0, "pubsub", "Listens for messages published to channels that match one or more patterns."},
    {"punsubscribe", cmd_punsubscribe, -1, CMD_NOSCRIPT, 0, 0, 0, "pubsub", "Stops listening to messages published to channels that match one or more patterns."},
    {"ssubscribe", cmd_ssubscribe, -2, CMD_NOSCRIPT | CMD_CHANNELS, 1, -1, 1, "pubsub", "Listens for messages published to shard channels."},
    {"sunsubscribe", cmd_sunsubscribe, -1, CMD_NOSCRIPT | CMD_CHANNELS, 1, -1, 1, "pubsub", "Stops listening to messages posted to shard channels."},
    {"publish", cmd_publish, 3, F | CMD_MAY_REPLICATE, 0, 0, 0, "pubsub", "Posts a message to a channel."},
    {"spublish", cmd_spublish, 3, F | CMD_MAY_REPLICATE | CMD_CHANNELS, 1, 1, 1, "pubsub", "Post a message to a shard channel"},
    {"pubsub", cmd_pubsub, -2, 0, 0, 0, 0, "pubsub", "A container for Pub/Sub commands."},
};
/* clang-format on */
#undef F
const size_t pubsub_commands_count = sizeof(pubsub_commands) / sizeof(pubsub_commands[0]);
