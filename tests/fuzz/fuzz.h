/* What every fuzz target defines. The same file is linked two ways: with libFuzzer
 * (-DMEMKV_FUZZ=ON, clang) as a fuzzer, and with replay.c as a plain program that runs the
 * target over files and directories (ctest's fuzz-replay.<target> in the normal and asan
 * trees). A target checks its invariants with FUZZ_CHECK, which aborts with a message, so
 * both libFuzzer and the replay program report it as a crash. */
#ifndef MEMKV_FUZZ_H
#define MEMKV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A small deterministic generator, so a target can draw choices (split points, limits) from
 * its input and a crash replays exactly. */
static inline uint64_t fuzz_rand(uint64_t *state) {
    uint64_t x = *state += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

#endif
