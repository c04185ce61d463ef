/* The command table of the introspection commands: SLOWLOG (slowlog.c), LATENCY (latency.c),
 * MONITOR (monitor.c). Flags as Redis 7.0 gives them (all admin: MONITOR does not show them). */
#include "server/server.h"

/* clang-format off */
command introspection_commands[] = {
    {"slowlog", cmd_slowlog, -2, CMD_ADMIN, 0, 0, 0, "server", "A container for the slow log commands (GET, LEN, RESET)."},
    {"latency", cmd_latency, -2, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server", "A container for the latency monitor's commands (LATEST, HISTORY, RESET, DOCTOR, GRAPH)."},
    {"monitor", cmd_monitor, 1, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server", "Streams every command the server executes, as it executes it."},
};
/* clang-format on */
const size_t introspection_commands_count =
    sizeof(introspection_commands) / sizeof(introspection_commands[0]);
