/* CLIENT PAUSE / UNPAUSE, as Redis 7.0:
 *
 * - PAUSE timeout WRITE holds the commands that write (CMD_WRITE) or may replicate
 *   (CMD_MAY_REPLICATE: PUBLISH, SPUBLISH), and EXEC of a queue holding one of those (a
 *   read-only transaction runs); reads and the rest still run. PAUSE timeout [ALL]
 *   holds every command. A held client shows flags=b and counts in blocked_clients; its
 *   later pipelined commands wait behind the held one.
 * - A second PAUSE keeps the stricter mode and the later end.
 * - While paused the data set stays as it is: the cron does no active expiry, eviction does
 *   not run (a command that needs memory then gets the OOM error), and a key whose time has
 *   passed reads as missing but is not deleted (db_set_expire_keep).
 * - When the time is up (seen by the next command or the cron, within 1/hz) or on UNPAUSE,
 *   the held commands run, in the order they were held, before the event loop sleeps.
 *   Timeouts of clients blocked on keys (BLPOP) still fire during a pause; a held BLPOP's
 *   timeout starts when it runs.
 *
 * A held command's arguments are copied (ALLOC_SUB_CLIENTS). Main thread only. */
#include <string.h>

#include "alloc/alloc.h"
#include "server/server.h"
#include "util/util.h"

#define SUB ALLOC_SUB_CLIENTS

typedef struct held {
    struct held *next;
    client *c;
    int argc;
    resp_arg *argv; /* into this allocation */
} held;

static held *held_head, *held_tail;       /* held now, in order */
static held *release_head, *release_tail; /* to run before sleeping */

static void list_push(held **head, held **tail, held *h) {
    h->next = NULL;
    if (*tail)
        (*tail)->next = h;
    else
        *head = h;
    *tail = h;
}

static void end_pause(void) {
    srv.pause_type = PAUSE_OFF;
    srv.pause_end_ms = 0;
    server_hooks_update();
    db_set_expire_keep(0);
    if (held_head) {
        if (release_tail)
            release_tail->next = held_head;
        else
            release_head = held_head;
        release_tail = held_tail;
        held_head = held_tail = NULL;
    }
}

int pause_in_force(void) {
    if (srv.pause_type == PAUSE_OFF) return 0;
    if (util_mstime() >= srv.pause_end_ms) {
        end_pause();
        return 0;
    }
    return 1;
}

int pause_holds(const client *c, const command *cmd) {
    if (!pause_in_force() || (c->flags & CLIENT_PAUSED)) return 0;
    return srv.pause_type == PAUSE_ALL || (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) ||
           (cmd->fn == cmd_exec && multi_queue_writes(c));
}

void pause_hold(client *c) {
    size_t bytes = sizeof(held) + (size_t)c->argc * sizeof(resp_arg);
    for (int i = 0; i < c->argc; i++)
        bytes += c->argv[i].len + 1;
    held *h = alloc_malloc(SUB, bytes);
    h->c = c;
    h->argc = c->argc;
    h->argv = (resp_arg *)(h + 1);
    char *p = (char *)(h->argv + c->argc);
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].ptr, c->argv[i].len);
        p[c->argv[i].len] = '\0';
        h->argv[i].ptr = p;
        h->argv[i].len = c->argv[i].len;
        p += c->argv[i].len + 1;
    }
    list_push(&held_head, &held_tail, h);
    c->flags |= CLIENT_PAUSED | CLIENT_BLOCKED;
    srv.paused_clients++;
}

void pause_start(int type, int64_t end_ms) {
    if (type > srv.pause_type) srv.pause_type = type;
    if (end_ms > srv.pause_end_ms) srv.pause_end_ms = end_ms;
    server_hooks_update();
    db_set_expire_keep(1);
}

void pause_stop(void) {
    if (srv.pause_type != PAUSE_OFF) end_pause();
}

void pause_before_sleep(void) {
    if (srv.pause_type != PAUSE_OFF) pause_in_force();
    while (release_head) {
        held *h = release_head;
        release_head = h->next;
        if (!release_head) release_tail = NULL;
        client *c = h->c;
        c->flags &= ~(CLIENT_PAUSED | CLIENT_BLOCKED);
        srv.paused_clients--;
        if (c->flags & CLIENT_CLOSE_ASAP) { /* killed while held: closed after this */
            alloc_free(SUB, h);
            continue;
        }
        resp_arg *argv = c->argv;
        int argc = c->argc;
        c->argv = h->argv;
        c->argc = h->argc;
        srv.current_client = c;
        command_process(c);
        srv.current_client = NULL;
        c->argv = argv;
        c->argc = argc;
        alloc_free(SUB, h);
        /* Held again (a new pause) or blocked on keys: it waits; else its queued input runs
         * and its replies go out. */
        if (!(c->flags & CLIENT_BLOCKED)) client_unblock(c);
    }
}

static void drop_from(held **head, held **tail, const client *c) {
    held *prev = NULL;
    for (held *h = *head; h; prev = h, h = h->next) {
        if (h->c != c) continue;
        if (prev)
            prev->next = h->next;
        else
            *head = h->next;
        if (*tail == h) *tail = prev;
        alloc_free(SUB, h);
        srv.paused_clients--;
        return;
    }
}

void pause_client_closed(client *c) {
    drop_from(&held_head, &held_tail, c);
    drop_from(&release_head, &release_tail, c);
    c->flags &= ~CLIENT_PAUSED;
}

void pause_shutdown(void) {
    while (held_head)
        pause_client_closed(held_head->c);
    while (release_head)
        pause_client_closed(release_head->c);
}
