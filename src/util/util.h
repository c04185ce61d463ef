/* util — small pure helpers shared by the server and the key space: glob matching, strict
 * number parsing and formatting with Redis's rules, human-readable byte sizes. No allocation. */
#ifndef MEMKV_UTIL_H
#define MEMKV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Redis-style glob: * ? [abc] [^a-z] and \ escapes (only ^ negates a class, as in Redis). nocase
 * folds ASCII case. Returns 1 on match, 0 otherwise. Must not recurse without bound on patterns
 * like "*a*a*a*…" (bounded backtracking, no exponential blow-up). */
int util_glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

/* Strict signed 64-bit parse as Redis's string2ll: optional '-', digits, no spaces, no '+',
 * no leading zeros (except "0"), no overflow, len > 0 and < 21. Returns 0 ok, -1 invalid. */
int util_parse_ll(const char *s, size_t len, long long *out);

/* Long double parse as Redis's string2ld (INCRBYFLOAT): rejects empty, leading/trailing space,
 * NaN, and values that overflow. Returns 0 ok, -1 invalid. */
int util_parse_ld(const char *s, size_t len, long double *out);

/* Format like Redis: ll2string into buf (>= 21 bytes), returns length. */
size_t util_format_ll(char *buf, long long v);
/* Format a long double for INCRBYFLOAT replies ("%.17Lf" then strip trailing zeros and dot,
 * as Redis's ld2string LD_STR_HUMAN). buf >= 5*1024 bytes is always enough; returns length,
 * or 0 if it did not fit. */
size_t util_format_ld(char *buf, size_t cap, long double v);

/* printf's "%.<decimals>f" of a double, digit for digit (the exact binary value rounded half to
 * even), without printf's arbitrary-precision work for the common case (|v| < 2^52, decimals
 * 0..9). Returns the length, 0 if it did not fit in cap bytes with its NUL. */
size_t util_format_fixed(char *buf, size_t cap, double v, int decimals);

/* Memory sizes with units as Redis config accepts: "1gb", "512mb", "100k", "1024", case
 * insensitive; k=1000 kb=1024 m=1e6 mb=1024^2 g=1e9 gb=1024^3. Returns 0 ok, -1 invalid,
 * -2 well-formed but over LLONG_MAX bytes (digits or digits x unit; never wraps). */
int util_parse_memory(const char *s, long long *out);
/* "1.50M" style as INFO's *_human fields (B, K, M, G, T, P with two decimals). */
void util_format_human_bytes(char *buf, size_t cap, long long bytes);

/* Redis's sdssplitargs over line[0..n) (the inline protocol, config files, CONFIG SET lists),
 * unescaping in place: an argument never runs ahead of the input. A NUL byte ends the line, as
 * in the C string sdssplitargs walks. Each argument goes to emit (its start in line and its
 * length, not NUL-terminated), which may refuse it with -1. Returns the count of arguments, or
 * -1 on unbalanced quotes or a refusal. */
typedef int (*util_arg_fn)(void *ctx, char *arg, size_t len);
long util_split_args(char *line, size_t n, util_arg_fn emit, void *ctx);

/* Monotonic and wall clock helpers. */
/* Read a small file (a /proc file, a password file) into buf, NUL-terminated, without allocating:
 * returns its length, -1 when it cannot be opened or read, -2 when it is longer than cap - 1
 * (buf then holds its first cap - 1 bytes). */
long util_read_small_file(const char *path, char *buf, size_t cap);

int64_t util_mstime(void); /* wall clock, milliseconds since the epoch */
int64_t util_ustime(void); /* wall clock, microseconds since the epoch */
int64_t util_monotonic_us(void);

/* SHA-1 of data as 40 lower-case hex digits and a NUL (the script cache's names). */
void util_sha1_hex(const void *data, size_t len, char out[41]);

/* String hash for in-memory tables (FNV-1a's step with the 64-bit FNV prime), continued from
 * h: start from UTIL_STR_HASH_SEED, or a value derived from it to mix in more. */
#define UTIL_STR_HASH_SEED 1469598103934665603ULL
static inline uint64_t util_str_hash(uint64_t h, const char *s) {
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
