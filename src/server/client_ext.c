/* CLIENT subcommands beyond the basic ones of cmd_server.c: REPLY, NO-EVICT, PAUSE, UNPAUSE,
 * GETREDIR, TRACKINGINFO, TRACKING, CACHING, with Redis 7.0's replies and errors. The
 * client-side caching itself is tracking.c's. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "server/server.h"
#include "server/tracking.h"
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
 * options are parsed first (a redirect target must exist now), then Redis's checks of ON in
 * its order. One difference: Redis 7.0 answers an overlap among the given prefixes that does
 * not involve the first one with its error and then turns tracking on and answers OK too (two
 * replies); memkv answers the error alone and changes nothing (README). */
static void client_tracking(client *c) {
    long long redir = 0;
    int opts = 0, n = 0;
    resp_arg *prefixes = alloc_malloc(ALLOC_SUB_OTHER, sizeof(resp_arg) * (size_t)c->argc);
    for (int i = 3; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_eq(c, i, "redirect") && more) {
            i++;
            if (redir != 0) {
                reply_error(c, "ERR A client can only redirect to a single other client");
                goto done;
            }
            if (arg_ll(c, i, &redir) < 0) goto done;
            if (redir <= 0 || !client_by_id((uint64_t)redir)) {
                reply_error(c, "ERR The client ID you want redirect to does not exist");
                goto done;
            }
        } else if (arg_eq(c, i, "bcast")) {
            opts |= CLIENT_TRACKING_BCAST;
        } else if (arg_eq(c, i, "optin")) {
            opts |= CLIENT_TRACKING_OPTIN;
        } else if (arg_eq(c, i, "optout")) {
            opts |= CLIENT_TRACKING_OPTOUT;
        } else if (arg_eq(c, i, "noloop")) {
            opts |= CLIENT_TRACKING_NOLOOP;
        } else if (arg_eq(c, i, "prefix") && more) {
            prefixes[n++] = c->argv[++i];
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
    }
    if (arg_eq(c, 2, "on")) {
        int bcast = (opts & CLIENT_TRACKING_BCAST) != 0;
        if (!bcast && n) {
            reply_error(c, "ERR PREFIX option requires BCAST mode to be enabled");
            goto done;
        }
        if ((c->flags & CLIENT_TRACKING) && !!(c->flags & CLIENT_TRACKING_BCAST) != bcast) {
            reply_error(c, "ERR You can't switch BCAST mode on/off before disabling tracking "
                           "for this client, and then re-enabling it with a different mode.");
            goto done;
        }
        if (bcast && (opts & (CLIENT_TRACKING_OPTIN | CLIENT_TRACKING_OPTOUT))) {
            reply_error(c, "ERR OPTIN and OPTOUT are not compatible with BCAST");
            goto done;
        }
        if ((opts & CLIENT_TRACKING_OPTIN) && (opts & CLIENT_TRACKING_OPTOUT)) {
            reply_error(c, "ERR You can't specify both OPTIN mode and OPTOUT mode");
            goto done;
        }
        if (((opts & CLIENT_TRACKING_OPTIN) && (c->flags & CLIENT_TRACKING_OPTOUT)) ||
            ((opts & CLIENT_TRACKING_OPTOUT) && (c->flags & CLIENT_TRACKING_OPTIN))) {
            reply_error(c, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                           "for this client, and then re-enabling it with a different mode.");
            goto done;
        }
        if (bcast && tracking_check_prefixes(c, prefixes, n) < 0) goto done;
        tracking_options o = {(uint64_t)redir, opts, prefixes, n};
        tracking_enable(c, &o);
    } else if (arg_eq(c, 2, "off")) {
        tracking_disable(c);
    } else {
        reply_error(c, ERR_SYNTAX);
        goto done;
    }
    reply_add_status(&c->reply, "OK");
done:
    alloc_free(ALLOC_SUB_OTHER, prefixes);
}

/* CLIENT CACHING yes|no: the next command's keys are tracked (OPTIN) or not (OPTOUT). */
static void client_caching(client *c) {
    if (!(c->flags & CLIENT_TRACKING)) {
        reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking "
                       "mode with OPTIN or OPTOUT mode enabled");
    } else if (arg_eq(c, 2, "yes")) {
        if (c->flags & CLIENT_TRACKING_OPTIN) {
            c->flags |= CLIENT_TRACKING_CACHING;
            reply_add_status(&c->reply, "OK");
        } else {
            reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                           "OPTIN mode.");
        }
    } else if (arg_eq(c, 2, "no")) {
        if (c->flags & CLIENT_TRACKING_OPTOUT) {
            c->flags |= CLIENT_TRACKING_CACHING;
            reply_add_status(&c->reply, "OK");
        } else {
            reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                           "OPTOUT mode.");
        }
    } else {
        reply_error(c, ERR_SYNTAX);
    }
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
            reply_add_int(&c->reply, tracking_redirect(c));
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "trackinginfo")) {
        if (argc == 2)
            tracking_reply_info(c);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "tracking")) {
        if (argc >= 3)
            client_tracking(c);
        else
            reply_wrong_subcommand_arity(c);
    } else if (arg_eq(c, 1, "caching")) {
        if (argc == 3)
            client_caching(c);
        else
            reply_wrong_subcommand_arity(c);
    } else {
        return 0;
    }
    return 1;
}
