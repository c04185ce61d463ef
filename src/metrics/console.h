/* console — the memory console's static files (console/console.html, .css, .js), embedded at
 * build time by cmake/embed_assets.cmake and served by the HTTP endpoint (http_handlers.assets)
 * at "/", "/console.css" and "/console.js". */
#ifndef MEMKV_CONSOLE_H
#define MEMKV_CONSOLE_H

#include <stddef.h>

#include "metrics/metrics.h"

extern const http_asset console_assets[];
extern const size_t console_nassets;

#endif
