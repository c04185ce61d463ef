/* hll — HyperLogLog sketches in Redis's own byte layout, so that a PFADD'ed string is the same
 * bytes in memkv and in Redis (GET, DUMP and an RDB file move between them) and PFCOUNT gives
 * the same number.
 *
 * The layout (a string value): a 16-byte header "HYLL", encoding (0 dense, 1 sparse), three
 * unused bytes, the cached cardinality (8 bytes little-endian; the top bit of the last byte set:
 * not valid), then the 16384 registers of 6 bits:
 * - dense: packed, register i at bit 6i (least significant bits first), 12288 bytes;
 * - sparse: run-length opcodes, ZERO 00llllll (1..64 zero registers), XZERO 01llllll llllllll
 *   (1..16384 zeros), VAL 1vvvvvll (1..4 registers holding 1..32).
 * An element goes to register hash & 16383 of the 64-bit MurmurHash2 (seed 0xadc83b19) and
 * counts the trailing zeros of the other 50 bits, plus one. The count is Ertl's estimator from
 * the registers' histogram ("New cardinality estimation algorithms for HyperLogLog sketches").
 *
 * A sparse sketch is changed in place as Redis changes it (the same split of an opcode, the
 * same merge of equal neighbours), so the bytes stay identical, and becomes dense when a
 * register passes 32 or the sparse form would pass its byte limit (hll-sparse-max-bytes). */
#ifndef MEMKV_HLL_H
#define MEMKV_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_REGISTERS 16384
#define HLL_HDR_LEN 16
#define HLL_DENSE_LEN (HLL_HDR_LEN + HLL_REGISTERS * 6 / 8)
#define HLL_SPARSE 1
#define HLL_DENSE 0

/* A sketch being changed: its bytes in a buffer of its own (grown as the sparse form grows). */
typedef struct hll {
    uint8_t *p;
    size_t len, cap;
} hll;

/* 1 when these bytes are a sketch this module can read: the magic, a known encoding, and a
 * dense one of the dense length (a sparse one may still be corrupt inside: the operations
 * below say so with -1). */
int hll_valid(const void *p, size_t len);
/* A new empty sparse sketch (a valid cached count of 0), or a copy of one. */
void hll_init_empty(hll *h);
void hll_init_copy(hll *h, const void *p, size_t len);
void hll_release(hll *h);

/* Adds an element: 1 when a register grew, 0 when none did, -1 when the sparse form is corrupt
 * (h may be partly changed then, as Redis leaves it). Invalidates the cached count on a
 * change. */
int hll_add(hll *h, const void *ele, size_t len, size_t sparse_max);
/* hll_add on a dense sketch in place (its length never changes): 1 or 0; the caller
 * invalidates the cached count. */
int hll_dense_add(void *p, const void *ele, size_t len);
/* Register index := max(its value, count); 1, 0 or -1 as hll_add. */
int hll_set(hll *h, long index, uint8_t count, size_t sparse_max);
/* Sparse to dense (the header kept): 1 converted, 0 already dense, -1 corrupt (unchanged). */
int hll_to_dense(hll *h);

/* Each register of the sketch into max[] where greater: 0, or -1 when corrupt. */
int hll_merge_max(uint8_t max[HLL_REGISTERS], const void *p, size_t len);
/* The estimate of a sketch (*invalid := 1 for a corrupt sparse one), or of raw registers. */
uint64_t hll_count(const void *p, size_t len, int *invalid);
uint64_t hll_count_registers(const uint8_t regs[HLL_REGISTERS]);

int hll_encoding(const void *p); /* HLL_SPARSE or HLL_DENSE */
/* The cached count: 1 with it in *card when valid. */
int hll_cached(const void *p, uint64_t *card);
void hll_set_cached(void *p, uint64_t card);
void hll_invalidate(void *p);
/* Register i of a dense sketch. */
uint8_t hll_dense_get(const void *p, long i);

/* PFDEBUG DECODE of a sparse sketch: its opcodes as "z:<zeros>" (ZERO), "Z:<zeros>" (XZERO),
 * "v:<value>,<registers>" (VAL), space-separated. A new string (alloc_free ALLOC_SUB_OTHER). */
char *hll_decode(const void *p, size_t len, size_t *outlen);

/* PFSELFTEST: the registers' packing, then the same elements in a dense sketch and in one that
 * starts sparse (limit sparse_max): sparse while under half the limit, the same count, within
 * six standard errors. 0, or -1 with Redis's "ERR TESTFAILED ..." message in err. */
int hll_selftest(size_t sparse_max, char *err, size_t errlen);

#endif
