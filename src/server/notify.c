/* Keyspace notifications: the config parameter, and publishing one event. */
#include "server/notify.h"

#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/pubsub.h"

int notify_keyspace_flags;

/* Redis's keyspaceEventsStringToFlags: -1 on an unknown letter. */
static int flags_from_string(const char *s) {
    int flags = 0;
    for (; *s; s++) {
        switch (*s) {
        case 'A':
            flags |= NOTIFY_ALL;
            break;
        case 'g':
            flags |= NOTIFY_GENERIC;
            break;
        case '$':
            flags |= NOTIFY_STRING;
            break;
        case 'l':
            flags |= NOTIFY_LIST;
            break;
        case 's':
            flags |= NOTIFY_SET;
            break;
        case 'h':
            flags |= NOTIFY_HASH;
            break;
        case 'z':
            flags |= NOTIFY_ZSET;
            break;
        case 'x':
            flags |= NOTIFY_EXPIRED;
            break;
        case 'e':
            flags |= NOTIFY_EVICTED;
            break;
        case 'K':
            flags |= NOTIFY_KEYSPACE;
            break;
        case 'E':
            flags |= NOTIFY_KEYEVENT;
            break;
        case 't':
            flags |= NOTIFY_STREAM;
            break;
        case 'm':
            flags |= NOTIFY_KEY_MISS;
            break;
        case 'd':
            flags |= NOTIFY_MODULE;
            break;
        case 'n':
            flags |= NOTIFY_NEW;
            break;
        default:
            return -1;
        }
    }
    return flags;
}

int notify_config_parse(const cfg_param *p, const char *value, char *err) {
    int flags = flags_from_string(value);
    if (flags < 0) {
        snprintf(err, CFG_ERR_LEN, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return -1;
    }
    *(int *)p->ptr = flags;
    return 0;
}

/* Redis's keyspaceEventsFlagsToString: the normalized form CONFIG GET shows ("AKE"). */
void notify_config_format(const cfg_param *p, char *buf, size_t cap) {
    int flags = *(const int *)p->ptr;
    char s[32];
    size_t n = 0;
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        s[n++] = 'A';
    } else {
        static const struct {
            int flag;
            char letter;
        } order[] = {{NOTIFY_GENERIC, 'g'}, {NOTIFY_STRING, '$'},  {NOTIFY_LIST, 'l'},
                     {NOTIFY_SET, 's'},     {NOTIFY_HASH, 'h'},    {NOTIFY_ZSET, 'z'},
                     {NOTIFY_EXPIRED, 'x'}, {NOTIFY_EVICTED, 'e'}, {NOTIFY_STREAM, 't'},
                     {NOTIFY_MODULE, 'd'},  {NOTIFY_NEW, 'n'}};
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
            if (flags & order[i].flag) s[n++] = order[i].letter;
    }
    if (flags & NOTIFY_KEYSPACE) s[n++] = 'K';
    if (flags & NOTIFY_KEYEVENT) s[n++] = 'E';
    if (flags & NOTIFY_KEY_MISS) s[n++] = 'm';
    s[n] = '\0';
    snprintf(buf, cap, "%s", s);
}

/* The key space reports keys it creates and keys it expires through hooks (db.h); they are
 * installed only while some class is on, so an empty setting costs the key space nothing. */
static int overwriting;

void notify_overwrite_begin(int existed) {
    overwriting = existed;
}

void notify_overwrite_end(void) {
    overwriting = 0;
}

static void on_new_key(int dbid, const char *key, size_t klen) {
    if (!overwriting) notify_event(NOTIFY_NEW, "new", key, klen, dbid);
}

static void on_expired_key(int dbid, const char *key, size_t klen) {
    notify_event(NOTIFY_EXPIRED, "expired", key, klen, dbid);
}

int notify_config_apply(const cfg_param *p, char *err) {
    (void)p;
    (void)err;
    int on = notify_keyspace_flags != 0;
    db_set_key_hooks(on ? on_new_key : NULL, on ? on_expired_key : NULL);
    return 0;
}

void notify_publish(int type, const char *event, const char *key, size_t klen, int dbid) {
    (void)type;
    int flags = notify_keyspace_flags;
    if (!(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT))) return;
    size_t elen = strlen(event);
    char prefix[40];
    char stackbuf[256];
    if (flags & NOTIFY_KEYSPACE) {
        int pn = snprintf(prefix, sizeof(prefix), "__keyspace@%d__:", dbid);
        size_t n = (size_t)pn + klen;
        char *ch = n <= sizeof(stackbuf) ? stackbuf : alloc_malloc(ALLOC_SUB_PUBSUB, n);
        memcpy(ch, prefix, (size_t)pn);
        memcpy(ch + pn, key, klen);
        pubsub_publish(ch, n, event, elen, 0);
        if (ch != stackbuf) alloc_free(ALLOC_SUB_PUBSUB, ch);
    }
    if (flags & NOTIFY_KEYEVENT) {
        int pn = snprintf(stackbuf, sizeof(stackbuf), "__keyevent@%d__:%s", dbid, event);
        pubsub_publish(stackbuf, (size_t)pn, key, klen, 0);
    }
}
