/* tracking — client-side caching (CLIENT TRACKING, CLIENT CACHING) as Redis 7.0 has it,
 * internal to src/server.
 *
 * Default mode: the keys a tracking client reads (the keys of read-only commands, as COMMAND
 * GETKEYS finds them) go into the tracking table, key -> ids of the clients that may cache it.
 * A change of the key (the db's change hook, shared with WATCH) sends one invalidation to each
 * of them and forgets the key. The table holds client ids, not pointers: a client that goes
 * away or stops tracking is skipped when its key changes (Redis's lazy clean-up). Keys are
 * global, not per db, as in Redis. tracking-table-max-keys caps the table: past it, random
 * keys are invalidated and forgotten.
 *
 * BCAST mode: a client registers prefixes (none: every key); a change of a key under a
 * registered prefix is noted and, once per event-loop iteration (tracking_before_sleep), each
 * prefix's changed keys go to its clients in one message (sorted, each once; NOLOOP leaves
 * out the keys whose last change was the client's own).
 *
 * Delivery: a RESP3 client gets `>2 invalidate [keys]` (a null for FLUSHDB/FLUSHALL); with
 * REDIRECT, the target gets it: a RESP3 push, or, for a RESP2 target with a subscription, a
 * pub/sub message on __redis__:invalidate. A redirect to a client that is gone marks the
 * client broken (flag R) and tells it with a tracking-redir-broken push (RESP3 only). What
 * would reach the client being served now waits until its command's reply is out.
 *
 * Memory: the tables in ALLOC_SUB_TRACKING; a client's own state (redirect, prefixes) in
 * ALLOC_SUB_CLIENTS, counted in its tot-mem. Main thread only.
 */
#ifndef MEMKV_TRACKING_H
#define MEMKV_TRACKING_H

#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

/* CLIENT TRACKING ON's options, already checked (client_ext.c does Redis's checks). */
typedef struct tracking_options {
    uint64_t redirect; /* 0: none */
    int flags;         /* CLIENT_TRACKING_BCAST / _OPTIN / _OPTOUT / _NOLOOP */
    const resp_arg *prefixes;
    int nprefixes;
} tracking_options;

/* Redis's prefix check: no two prefixes (given, or given and already registered) where one
 * starts the other. Returns 0, or -1 after replying Redis's error. */
int tracking_check_prefixes(client *c, const resp_arg *prefixes, int n);
void tracking_enable(client *c, const tracking_options *o);
void tracking_disable(client *c); /* OFF, RESET, and a closing connection */
void tracking_client_closed(client *c);

/* CLIENT GETREDIR, TRACKINGINFO, CLIENT LIST's redir= */
long long tracking_redirect(const client *c); /* -1 when off */
void tracking_reply_info(client *c);
size_t tracking_client_alloc_bytes(const client *c);

/* After a command of a client that was tracking: remembers the keys it read (cmd ran with
 * argv), ends CLIENT CACHING's one-command scope, sends what waited for its reply. cmd is
 * NULL when the command did not run. */
void tracking_command_done(client *c, const command *cmd, const resp_arg *argv, int argc);
/* Inside EXEC: the keys one queued command read. */
void tracking_remember_keys(client *c, const command *cmd, const resp_arg *argv, int argc);
/* A script run by caller read a key: as Redis 7.0's call(), the keys of the caller's command
 * (EVAL's KEYS) are remembered for it, not the key the script's command named. */
void tracking_script_read(struct client *caller);

/* The db's change hook calls this (through multi.c's dispatcher) for a key written or deleted;
 * expired: it went because its time passed (no client did it). */
void tracking_key_changed(const char *key, size_t klen, int expired);
/* Eviction deletes keys on no client's behalf (NOLOOP does not spare the client served). */
void tracking_server_change(int on);
/* FLUSHDB, FLUSHALL: the null invalidation to every tracking client, and an empty table. */
void tracking_invalidate_all(void);
/* Whether the db's change hook must call tracking_key_changed. */
int tracking_listening(void);

/* BCAST messages of this iteration and invalidations held for the client served last. */
void tracking_before_sleep(void);
int tracking_apply_max_keys(const cfg_param *p, char *err); /* tracking-table-max-keys */
void tracking_shutdown(void);

/* INFO */
size_t tracking_total_keys(void);
size_t tracking_total_items(void);
size_t tracking_total_prefixes(void);

#endif
