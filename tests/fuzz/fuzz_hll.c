/* HyperLogLog sketches (src/db/hll.c): any string can be handed to PFADD or PFCOUNT as a
 * sketch, so the sparse opcodes are parsed from untrusted bytes, and PFADD edits them in place.
 *
 * The input: byte 0 chooses the header (sparse or dense, a valid cached count or not) and the
 * sparse byte limit (0, 20, 3000, none); byte 1 the number of register writes that follow,
 * 3 bytes each (a 14-bit index, a count 0..63); the rest is the sketch's body. Checks:
 * - the readers agree on what is corrupt: PFCOUNT's histogram, PFMERGE's merge and the
 *   conversion to dense all refuse the same bodies, and PFDEBUG DECODE reads any of them;
 * - on a whole sketch, its estimate equals the estimate of its registers, and again once dense;
 * - each register write on a whole sketch gives what a plain array of registers gives
 *   (1 when it raised the register, 0 otherwise), keeps it whole, keeps a sparse one within
 *   its limit (or the length it had), and a count over 32 makes it dense. */
#include "fuzz.h"

#include "alloc/alloc.h"
#include "db/hll.h"

#include <string.h>

static const size_t LIMITS[] = {0, 20, 3000, (size_t)-1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int dense = data[0] & 1, cached = (data[0] >> 1) & 1;
    size_t limit = LIMITS[(data[0] >> 2) & 3];
    size_t nops = data[1] % 32;
    if (size < 2 + 3 * nops) return 0;
    const uint8_t *ops = data + 2, *body = ops + 3 * nops;
    size_t blen = size - 2 - 3 * nops;

    uint8_t *s = malloc(HLL_HDR_LEN + (dense ? HLL_DENSE_LEN : blen) + 1);
    memcpy(s, "HYLL", 4);
    s[4] = dense ? HLL_DENSE : HLL_SPARSE;
    memset(s + 5, 0, 11);
    if (!cached) s[15] = 0x80;
    size_t len;
    if (dense) { /* the body, cut or zero-padded to the dense size */
        len = HLL_DENSE_LEN;
        memset(s + HLL_HDR_LEN, 0, HLL_DENSE_LEN - HLL_HDR_LEN);
        memcpy(s + HLL_HDR_LEN, body, blen < len - HLL_HDR_LEN ? blen : len - HLL_HDR_LEN);
    } else {
        len = HLL_HDR_LEN + blen;
        memcpy(s + HLL_HDR_LEN, body, blen);
    }
    FUZZ_CHECK(hll_valid(s, len));

    uint8_t *model = calloc(HLL_REGISTERS, 1), *again = calloc(HLL_REGISTERS, 1);
    int whole = hll_merge_max(model, s, len) == 0;
    int invalid = 0;
    uint64_t est = hll_count(s, len, &invalid);
    FUZZ_CHECK(whole == !invalid);
    if (!dense) {
        size_t n;
        char *text = hll_decode(s, len, &n);
        FUZZ_CHECK(strlen(text) == n);
        alloc_free(ALLOC_SUB_OTHER, text);
    }
    /* A body whose last XZERO lost its second byte reads as whole (that byte is taken as 0,
     * the zero after a Redis string), but a split of that XZERO writes past the end and is cut
     * back to the length Redis computes: a corrupt sketch, as Redis makes it. */
    size_t at = 0;
    while (!dense && at < blen)
        at += (body[at] & 0xc0) == 0x40 ? 2 : 1;
    int cut_xzero = at > blen;
    hll h;
    hll_init_copy(&h, s, len);
    int conv = hll_to_dense(&h);
    FUZZ_CHECK(conv == (dense ? 0 : whole ? 1 : -1));
    if (whole) {
        FUZZ_CHECK(est == hll_count_registers(model));
        FUZZ_CHECK(hll_count(h.p, h.len, NULL) == est);
        FUZZ_CHECK(hll_merge_max(again, h.p, h.len) == 0);
        FUZZ_CHECK(memcmp(again, model, HLL_REGISTERS) == 0);
    }
    hll_release(&h);

    /* Register writes on the sketch as given (corrupt ones too: no crash, no overrun). */
    hll_init_copy(&h, s, len);
    for (size_t i = 0; i < nops; i++) {
        long index = (long)((ops[3 * i] | ops[3 * i + 1] << 8) & (HLL_REGISTERS - 1));
        uint8_t count = ops[3 * i + 2] & 63;
        size_t before = h.len;
        int was_sparse = hll_encoding(h.p) == HLL_SPARSE;
        int r = hll_set(&h, index, count, limit);
        if (!whole || cut_xzero) {
            if (r < 0) break;
            continue;
        }
        FUZZ_CHECK(r == (count > model[index]));
        if (r) model[index] = count;
        if (hll_encoding(h.p) == HLL_SPARSE) {
            FUZZ_CHECK(count <= 32 || !r);
            FUZZ_CHECK(h.len <= (before > limit ? before : limit));
        } else {
            FUZZ_CHECK(h.len == HLL_DENSE_LEN);
        }
        if (!was_sparse) FUZZ_CHECK(hll_encoding(h.p) == HLL_DENSE);
        memset(again, 0, HLL_REGISTERS);
        FUZZ_CHECK(hll_merge_max(again, h.p, h.len) == 0);
        FUZZ_CHECK(memcmp(again, model, HLL_REGISTERS) == 0);
    }
    if (whole && !cut_xzero) FUZZ_CHECK(hll_count(h.p, h.len, NULL) == hll_count_registers(model));
    hll_release(&h);
    free(model);
    free(again);
    free(s);
    return 0;
}
