/* blocking — clients blocked on keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
 * BZPOPMAX, BZMPOP): Redis 7.0's semantics, generic over the command.
 *
 * How a blocking command uses it (the handler is written once and run again when a key it
 * waits on may be served; a sketch of BLPOP):
 *
 *     void cmd_blpop(client *c) {
 *         int64_t timeout;
 *         if (blocking_parse_timeout(c, c->argc - 1, &timeout) < 0) return; // replied
 *         int only = blocking_serving_key(c); // -1 on the first run
 *         for (int i = 1; i < c->argc - 1; i++) {
 *             if (only >= 0 && i != only) continue;
 *             ... lookup_type_or_reply(c, i, DB_TYPE_LIST, 1, &wt); if (wt) return;
 *             ... if the list has elements: pop, reply, signal, return;
 *         }
 *         int keys[...] = {1, 2, ..., argc-2};
 *         blocking_block(c, DB_TYPE_LIST, keys, nkeys, timeout); // no reply yet
 *     }
 *
 * - blocking_block() parks the client: no reply now, and its further pipelined commands wait
 *   (they are read into its query buffer but not run) until it is served, times out, is
 *   unblocked by CLIENT UNBLOCK, or disconnects. The command's arguments are copied, so the
 *   handler may run again later with c->argv pointing at that copy.
 * - A command that adds elements to a key calls blocking_signal_key() (cheap when nobody
 *   waits on it). After the current command (and before the event loop sleeps) every key so
 *   signalled is served, as Redis's handleClientsBlockedOnKeys: while the key exists and holds
 *   the type its first waiters wait for, the handler of the first such waiter (FIFO order per
 *   key) runs again with blocking_serving_key(c) giving the argv index of that key. If the
 *   handler replies (served, or an error such as WRONGTYPE on BLMOVE's destination), the
 *   client is unblocked from all its keys; if it calls blocking_block() again (nothing to
 *   serve after all) it stays blocked where it was, with its original deadline. Waiters of
 *   another type (a BZPOPMIN waiter on a key that now holds a list) are skipped, as in 7.0.
 *   Serving one waiter may signal other keys (BLMOVE's destination): they are served in the
 *   same pass.
 * - Timeouts are Redis's: a double in seconds, 0 = forever, rounded up to milliseconds; a
 *   timed-out client gets a null array (*-1), as does CLIENT UNBLOCK id [TIMEOUT]; CLIENT
 *   UNBLOCK id ERROR replies "-UNBLOCKED client unblocked via CLIENT UNBLOCK". A timer of the
 *   event loop fires at the nearest deadline (the loop never blocks; no polling).
 * - A client that disconnects while blocked is forgotten (client_close calls
 *   blocking_client_closed).
 * - Once unblocked, the client's queued input is processed from the before-sleep hook, never
 *   from inside another client's command.
 *
 * CLIENT_BLOCKED (server.h) is set while a client is blocked on keys, as while it waits for a
 * heap-profiler job; INFO's blocked_clients counts both. CLIENT UNBLOCK only acts on clients
 * blocked on keys (a profiler job cannot be abandoned halfway: it answers 0 for those).
 *
 * Main thread only. Memory (per blocked client: its argument copy and key links; per waited
 * key: one entry) is accounted to ALLOC_SUB_CLIENTS.
 */
#ifndef MEMKV_BLOCKING_H
#define MEMKV_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

struct client;

/* Once at start-up, after the event loop exists (installs the timeout timer). */
void blocking_init(void);
void blocking_shutdown(void); /* frees what is left; clients are closed first */

/* Parses Redis's timeout argument argv[i] (seconds, a double; 0 = forever; rounded up to
 * ms) into an absolute deadline in unix ms (0 = none). Replies the error and returns -1 on
 * "ERR timeout is not a float or out of range" and "ERR timeout is negative" (also for values
 * too large for 64-bit milliseconds, like inf: Redis 7.0 says so). */
int blocking_parse_timeout(struct client *c, int i, int64_t *deadline_ms);

/* Blocks c on the keys argv[key_idx[0..nkeys-1]] (of its current db; duplicates are waited on
 * once) until one holds `type` (DB_TYPE_LIST, DB_TYPE_ZSET) with elements to serve, or until
 * deadline_ms (0 = forever). Call it instead of replying; the handler returns right after.
 * When the handler is being run again (blocking_serving_key(c) >= 0), this only tells the
 * machinery that the client stays blocked. */
void blocking_block(struct client *c, int type, const int *key_idx, int nkeys, int64_t deadline_ms);

/* -1 on a command's first run; while a blocked client is being served, the argv index of the
 * key that became ready (the handler should try that key only, as Redis 7.0 does). */
int blocking_serving_key(const struct client *c);

/* A command added elements to (db_index, key): waiters on it are served after the current
 * command. Call it whenever a list or sorted set gains elements or is created (LPUSH, RPUSH,
 * LINSERT, LMOVE's destination, ZADD, ZINCRBY, ZUNIONSTORE's destination...). Cheap (one
 * branch) when no client is blocked at all. */
void blocking_signal_key(int db_index, const char *key, size_t klen);

/* Every waited key of db db_index that exists now is signalled (SWAPDB: a db's content
 * changed at once; the type is checked when the key is served, as for any signal). */
void blocking_signal_db(int db_index);

/* Serves every signalled key (see above). The server calls it after each command and before
 * sleeping; commands need not call it. */
void blocking_serve_ready_keys(void);

/* Before the event loop sleeps: serve ready keys, then let the clients unblocked since the
 * last call process the input that queued up while they were blocked. */
void blocking_before_sleep(void);

/* CLIENT UNBLOCK: 1 if the client with this id was blocked on keys and is now unblocked
 * (with the timed-out reply, or with the UNBLOCKED error when `error`), else 0. */
int blocking_unblock_by_id(uint64_t id, int error);

/* client_close calls it: forget the client wherever the machinery holds it. */
void blocking_client_closed(struct client *c);

/* Clients blocked on keys right now (INFO counts CLIENT_BLOCKED, which includes these). */
size_t blocking_blocked_count(void);
/* Clients blocked on keys with a timeout (INFO's clients_in_timeout_table). */
size_t blocking_timeout_count(void);
/* Distinct keys with at least one waiter. */
size_t blocking_keys_count(void);

#endif
