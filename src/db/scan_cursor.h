/* scan_cursor — the reverse-binary cursor shared by the key space's SCAN (db.c) and the
 * collections' HSCAN/SSCAN/ZSCAN (dict.c). Internal to src/db.
 *
 * The cursor counts up with its bits reversed, so after a table of any power-of-two size
 * grows or shrinks, the buckets already visited are exactly those whose low bits, reversed,
 * are below the cursor: nothing present for the whole scan is missed.
 */
#ifndef MEMKV_SCAN_CURSOR_H
#define MEMKV_SCAN_CURSOR_H

#include <stdint.h>

static inline uint64_t scan_rev64(uint64_t v) {
    v = ((v >> 1) & UINT64_C(0x5555555555555555)) | ((v & UINT64_C(0x5555555555555555)) << 1);
    v = ((v >> 2) & UINT64_C(0x3333333333333333)) | ((v & UINT64_C(0x3333333333333333)) << 2);
    v = ((v >> 4) & UINT64_C(0x0f0f0f0f0f0f0f0f)) | ((v & UINT64_C(0x0f0f0f0f0f0f0f0f)) << 4);
    return __builtin_bswap64(v);
}

/* The cursor after v in a table whose bucket mask is `mask`. */
static inline uint64_t scan_cursor_next(uint64_t v, uint64_t mask) {
    v |= ~mask; /* so the increment carries through the masked bits only */
    return scan_rev64(scan_rev64(v) + 1);
}

#endif
