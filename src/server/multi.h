/* multi — transactions: MULTI EXEC DISCARD WATCH UNWATCH, with Redis 7.0's semantics.
 *
 * - MULTI starts queuing: every command but the CMD_NOQUEUE ones (EXEC DISCARD MULTI WATCH
 *   QUIT) is checked as usual (unknown command, arity, NOAUTH, maxmemory) and, if it passes,
 *   copied into the client's queue with a +QUEUED reply. A command refused before queuing
 *   flags the transaction: EXEC then answers EXECABORT. A command flagged CMD_NO_MULTI
 *   (SHUTDOWN) is refused and flags it too.
 * - EXEC runs the queue as one unit (no other client runs in between, no blocked client is
 *   served before it ends) and answers an array of the replies; a runtime error (WRONGTYPE)
 *   takes its slot and the rest runs. Blocking commands do not block inside it (BLPOP on an
 *   empty list answers its timeout reply at once).
 * - WATCH remembers keys; any change to one of them (the db's change hook, see db.h: a write
 *   by any client, including the watcher, expiry, eviction, FLUSHDB/FLUSHALL where the key
 *   existed, RENAME/MOVE/COPY onto it, SWAPDB) marks the watcher dirty and its EXEC answers a
 *   null array. A key that was already logically expired when watched is not "changed" by its
 *   deletion (7.0's rule); a watched key that logically expires before EXEC fails it. EXEC,
 *   DISCARD and UNWATCH forget the watched keys.
 *
 * The queue's memory (argument copies) is accounted to ALLOC_SUB_CLIENTS; its size as Redis
 * 7.0 counts it (argument bytes plus a pointer per argument) is CLIENT LIST's multi-mem. When
 * the queue plus the query buffer passes client-query-buffer-limit, the client is closed as
 * for an oversized query buffer (Redis 7.0 does not bound the queue; see the README).
 *
 * Main thread only. */
#ifndef MEMKV_MULTI_H
#define MEMKV_MULTI_H

#include <stddef.h>

struct client;
struct command;
struct subcommand;

/* Queue the current command of a client in MULTI (command_process calls it for every command
 * that is not CMD_NOQUEUE, its subcommand already checked), or refuse a CMD_NO_MULTI one.
 * Replies either way; returns 0 if queued, -1 if refused. */
int multi_queue(struct client *c, const struct command *cmd, struct subcommand *sub);

/* 1 if c is in MULTI and its queue holds a command that writes or may replicate: CLIENT PAUSE
 * WRITE holds its EXEC, as Redis 7.0. */
int multi_queue_writes(const struct client *c);

/* A command of a client in MULTI was refused before queuing: EXEC will answer EXECABORT. */
void multi_flag_error(struct client *c);

/* EXEC itself was refused (arity, maxmemory): discard the transaction and answer
 * "EXECABORT Transaction discarded because of: <why>" (why without an "ERR " prefix). */
void multi_exec_abort(struct client *c, const char *why);

/* Over maxmemory, Redis 7.0 refuses whatever a client in MULTI would queue, and EXEC of a
 * queue holding a command that may grow memory. 1 if cmd is refused for c on those grounds. */
int multi_refused_on_oom(const struct client *c, const struct command *cmd);

/* RESET, or the client goes: free its queue and its watched keys, leave MULTI. */
void multi_client_reset(struct client *c);

/* CLIENT LIST: queued commands (-1 outside MULTI) and their memory as Redis counts it. */
long long multi_queued_count(const struct client *c);
size_t multi_queued_mem(const struct client *c);
/* Bytes the client's queue and watched keys hold in the allocator (usable sizes). */
size_t multi_client_alloc_bytes(const struct client *c);

/* SWAPDB of db id1 and id2: call BEFORE swapping. Keys watched in either db are changed if
 * they exist on either side, as Redis 7.0's touchAllWatchedKeysInDb in both directions. */
void multi_dbs_swapped(int id1, int id2);

/* Keys watched right now (distinct key/db pairs) and clients watching any. */
size_t multi_watched_keys_count(void);

void multi_shutdown(void); /* frees the watch table (clients are closed first) */

#endif
