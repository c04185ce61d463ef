/* CLIENT subcommands beyond the basic ones of cmd_server.c: REPLY, NO-EVICT, PAUSE, UNPAUSE,
 * GETREDIR, TRACKINGINFO, TRACKING, CACHING, with Redis 7.0's replies and errors.
 *
 * Client-side caching is not there yet: TRACKING OFF (nothing to turn off) answers OK,
 * TRACKING ON a clear error; GETREDIR and TRACKINGINFO answer what 7.0 answers for a client
 * without tracking. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

static void client_reply(client *c) {
    /* Inside EXEC an element must answer, or the array would come out short; the mode takes
     * effect from the next command after EXEC (Redis 7.0 answers +OK there too). */
    if ((c->flags & CLIENT_IN_EXEC) && (arg_eq(c, 2, "off") || arg_eq(c, 2, "skip")))
        reply_add_status(&c->reply, "OK");
    if (arg_eq(c, 2, "on")) {
        c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP); /* its own OK is sent */
        reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 2, "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (arg_eq(c, 2, "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

static void client_no_evict(client *c) {
    if (arg_eq(c, 2, "on")) {
        c->flags |= CLIENT_NO_EVICT;
    } else if (arg_eq(c, 2, "off")) {
        c->flags &= ~CLIENT_NO_EVICT;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    reply_add_status(&c->reply, "OK");
}

static void client_pause(client *c) {
    int type = PAUSE_ALL; /* the mode is checked first, as Redis does */
    if (c->argc == 4) {
        if (arg_eq(c, 3, "write")) {
            type = PAUSE_WRITE;
        } else if (!arg_eq(c, 3, "all")) {
            reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (util_parse_ll(c->argv[2].ptr, c->argv[2].len, &ms) < 0) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    int64_t now = util_mstime();
    pause_start(type, ms > INT64_MAX - now ? INT64_MAX : now + ms);
    reply_add_status(&c->reply, "OK");
}

/* CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]: the
 * options are checked first, as Redis does (the redirect target must exist), then on|off. */
static void client_tracking(client *c) {
    long long redir = 0;
    for (int i = 3; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_eq(c, i, "redirect") && more) {
            i++;
            if (redir != 0) {
                reply_error(c, "ERR A client can only redirect to a single other client");
                return;
            }
            if (arg_ll(c, i, &redir) < 0) return;
            if (redir <= 0 || !client_by_id((uint64_t)redir)) {
                reply_error(c, "ERR The client ID you want redirect to does not exist");
                return;
            }
        } else if (arg_eq(c, i, "prefix") && more) {
            i++;
        } else if (!arg_eq(c, i, "bcast") && !arg_eq(c, i, "optin") && !arg_eq(c, i, "optout") &&
                   !arg_eq(c, i, "noloop")) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (arg_eq(c, 2, "on")) {
        reply_error(c,
                    "ERR client-side caching (CLIENT TRACKING ON) is not supported by memkv yet");
    } else if (arg_eq(c, 2, "off")) {
        reply_add_status(&c->reply, "OK");
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

static void client_trackinginfo(client *c) {
    reply_add_map_len(&c->reply, 3);
    reply_add_bulk_cstr(&c->reply, "flags");
    reply_add_set_len(&c->reply, 1);
    reply_add_bulk_cstr(&c->reply, "off");
    reply_add_bulk_cstr(&c->reply, "redirect");
    reply_add_int(&c->reply, -1);
    reply_add_bulk_cstr(&c->reply, "prefixes");
    reply_add_array_len(&c->reply, 0);
}

int client_ext_subcommand(client *c) {
    int argc = c->argc;
    if (arg_eq(c, 1, "reply")) {
        if (argc == 3)
            client_reply(c);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "no-evict")) {
        if (argc == 3)
            client_no_evict(c);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "pause")) {
        if (argc == 3 || argc == 4)
            client_pause(c);
        else if (argc < 3)
            reply_wrong_subcommand_arity(c);
        else
            reply_subcommand_syntax_error(c);
    } else if (arg_eq(c, 1, "unpause")) {
        if (argc == 2) {
            pause_stop();
            reply_add_status(&c->reply, "OK");
        } else {
            reply_wrong_subcommand_arity(c);
        }
    } else if (arg_eq(c, 1, "getredir")) {
        if (argc == 2)
            reply_add_int(&c->reply, -1);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "trackinginfo")) {
        if (argc == 2)
            client_trackinginfo(c);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "tracking")) {
        if (argc >= 3)
            client_tracking(c);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "caching")) {
        if (argc == 3)
            reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking "
                           "mode with OPTIN or OPTOUT mode enabled");
        else
            reply_wrong_subcommand_arity(c);
    } else {
        return 0;
    }
    return 1;
}
