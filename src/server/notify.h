/* notify — keyspace notifications (Redis 7.0's notify-keyspace-events), internal to src/server.
 *
 * Commands call notify_key() where they change the key space, with the class and event name
 * Redis 7.0 uses at the same place (its notifyKeyspaceEvent calls), so each command can be
 * checked against Redis's source. The messages go to `__keyspace@<db>__:<key>` (payload: the
 * event) and `__keyevent@<db>__:<event>` (payload: the key) through pubsub_publish.
 *
 * With notify-keyspace-events empty (the default) a call costs one test of a global.
 */
#ifndef MEMKV_NOTIFY_H
#define MEMKV_NOTIFY_H

#include <stddef.h>

#include "server/config.h"
#include "server/server.h"

/* Classes, with Redis's letters */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC (1 << 2)   /* g */
#define NOTIFY_STRING (1 << 3)    /* $ */
#define NOTIFY_LIST (1 << 4)      /* l */
#define NOTIFY_SET (1 << 5)       /* s */
#define NOTIFY_HASH (1 << 6)      /* h */
#define NOTIFY_ZSET (1 << 7)      /* z */
#define NOTIFY_EXPIRED (1 << 8)   /* x */
#define NOTIFY_EVICTED (1 << 9)   /* e */
#define NOTIFY_STREAM (1 << 10)   /* t (memkv has no streams: accepted, never fired) */
#define NOTIFY_KEY_MISS (1 << 11) /* m (not part of A, as in Redis) */
#define NOTIFY_MODULE (1 << 13)   /* d (no modules: accepted, never fired) */
#define NOTIFY_NEW (1 << 14)      /* n (not part of A, as in Redis) */
#define NOTIFY_ALL                                                                                 \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |       \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

extern int notify_keyspace_flags; /* parsed notify-keyspace-events */

/* The config parameter's hooks (server_config.c's table points at them). */
int notify_config_parse(const cfg_param *p, const char *value, char *err);
void notify_config_format(const cfg_param *p, char *buf, size_t cap);
int notify_config_apply(const cfg_param *p, char *err);

/* Between begin and end, keys the key space creates are not "new": a command that replaces a
 * key by deleting it and adding the result (SINTERSTORE, ZUNIONSTORE, BITOP) is Redis's
 * setKey over an existing key (dbOverwrite), which fires no "new". Pass whether it existed. */
void notify_overwrite_begin(int existed);
void notify_overwrite_end(void);

void notify_publish(int type, const char *event, const char *key, size_t klen, int dbid);

/* An event of class `type` on key in db dbid. */
static inline void notify_event(int type, const char *event, const char *key, size_t klen,
                                int dbid) {
    if (notify_keyspace_flags & type) notify_publish(type, event, key, klen, dbid);
}

/* The usual case: the key is argv[i] of the command, in the client's db. */
static inline void notify_key(client *c, int type, const char *event, int i) {
    if (notify_keyspace_flags & type)
        notify_publish(type, event, c->argv[i].ptr, c->argv[i].len, c->db_index);
}

#endif
