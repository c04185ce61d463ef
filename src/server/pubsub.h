/* pubsub — channels, patterns and shard channels (Redis 7.0's pub/sub), internal to src/server.
 *
 * The server's tables map a channel (or a pattern) to its subscribers in subscription order,
 * so PUBLISH delivers in that order; each client keeps its own channels (a set) and patterns (a
 * list, in subscription order, which PUNSUBSCRIBE without arguments follows, as Redis). All of
 * it is allocated in ALLOC_SUB_PUBSUB. Messages and confirmations are push frames: `>` in
 * RESP3, arrays in RESP2 (reply_add_push_len). Main thread only.
 */
#ifndef MEMKV_PUBSUB_H
#define MEMKV_PUBSUB_H

#include <stddef.h>

#include "server/server.h"

/* cmd_pubsub table: SUBSCRIBE ... PUBSUB (a group of commands.c's groups[]) */
extern command pubsub_commands[];
extern const size_t pubsub_commands_count;

void pubsub_init(void);
void pubsub_free(void);

/* Subscriptions of a client (CLIENT LIST's sub=, psub=, ssub=). */
typedef struct pubsub_counts {
    size_t channels, patterns, shard_channels;
} pubsub_counts;
void pubsub_client_counts(const struct client *c, pubsub_counts *out);
/* Subscribed to anything: Redis's CLIENT_PUBSUB (the pubsub output-buffer class, flag P). */
int pubsub_client_subscribed(const struct client *c);
/* The subscribed client with the largest pending output (reply_buf_bytes, what the limit
 * judges), the pubsub class's limits, the time it has spent over the soft one, its
 * subscriptions, and all subscribers' count and bytes: MEMORY DOCTOR's figures. All zero but
 * the limits when nobody is subscribed. */
void pubsub_top_subscriber(mem_subscriber_top *out);
/* RESET and connection close: leave every channel and pattern without replying. */
void pubsub_client_reset(struct client *c);

/* Subscribed-mode rule of RESP2: only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET.
 * Returns -1 after replying Redis's error when cmd may not run now, else 0. Call only when
 * c->pubsub is set (the caller's branch keeps the common case to one test). */
int pubsub_deny_command(struct client *c, const struct command *cmd);

/* Delivers a message to the channel's subscribers (and, unless shard, to the clients whose
 * patterns match); returns the number of receivers. */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen, int shard);

/* INFO stats: pubsub_channels, pubsub_patterns, pubsubshard_channels. */
size_t pubsub_channels_count(void);
size_t pubsub_patterns_count(void);
size_t pubsub_shard_channels_count(void);

#endif
