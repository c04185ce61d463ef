/* CRC64 as Redis computes it for RDB files and DUMP payloads: the Jones polynomial
 * 0xad93d23594c935a9, reflected input and output, initial value 0, no final xor
 * (check value of "123456789": 0xe9c6d914c4b8d9ca). Slicing by 8 bytes: a file is
 * checksummed as it is written, so this runs over every byte saved. */
#include "rdb/rdb.h"

#include <pthread.h>
#include <string.h>

#define CRC64_POLY_REFLECTED UINT64_C(0x95ac9329ac4bc9b5) /* 0xad93d23594c935a9 bit-reversed */

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc_table[0][n] = c;
    }
    for (unsigned n = 0; n < 256; n++)
        for (int k = 1; k < 8; k++)
            crc_table[k][n] = crc_table[0][crc_table[k - 1][n] & 0xff] ^ (crc_table[k - 1][n] >> 8);
}

uint64_t rdb_crc64(uint64_t crc, const void *p, size_t len) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *s = p;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8); /* little-endian hosts only (as the rest of memkv) */
        crc ^= w;
        crc = crc_table[7][crc & 0xff] ^ crc_table[6][(crc >> 8) & 0xff] ^
              crc_table[5][(crc >> 16) & 0xff] ^ crc_table[4][(crc >> 24) & 0xff] ^
              crc_table[3][(crc >> 32) & 0xff] ^ crc_table[2][(crc >> 40) & 0xff] ^
              crc_table[1][(crc >> 48) & 0xff] ^ crc_table[0][crc >> 56];
        s += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
