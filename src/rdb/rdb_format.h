/* rdb_format — the constants of Redis's RDB format (opcodes, type bytes, length and string
 * encodings), shared by the writer and the reader. Internal to src/rdb. */
#ifndef MEMKV_RDB_FORMAT_H
#define MEMKV_RDB_FORMAT_H

/* Opcodes before a key or between databases. */
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_FUNCTION_PRE_GA 246
#define RDB_OPCODE_MODULE_AUX 247
#define RDB_OPCODE_IDLE 248
#define RDB_OPCODE_FREQ 249
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_RESIZEDB 251
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_EXPIRETIME 253
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255

/* Value types. */
#define RDB_TYPE_STRING 0
#define RDB_TYPE_LIST 1
#define RDB_TYPE_SET 2
#define RDB_TYPE_ZSET 3
#define RDB_TYPE_HASH 4
#define RDB_TYPE_ZSET_2 5
#define RDB_TYPE_MODULE_PRE_GA 6
#define RDB_TYPE_MODULE_2 7
#define RDB_TYPE_HASH_ZIPMAP 9
#define RDB_TYPE_LIST_ZIPLIST 10
#define RDB_TYPE_SET_INTSET 11
#define RDB_TYPE_ZSET_ZIPLIST 12
#define RDB_TYPE_HASH_ZIPLIST 13
#define RDB_TYPE_LIST_QUICKLIST 14
#define RDB_TYPE_STREAM_LISTPACKS 15
#define RDB_TYPE_HASH_LISTPACK 16
#define RDB_TYPE_ZSET_LISTPACK 17
#define RDB_TYPE_LIST_QUICKLIST_2 18
#define RDB_TYPE_STREAM_LISTPACKS_2 19
#define RDB_TYPE_SET_LISTPACK 20 /* Redis 7.2 (RDB 11) */
#define RDB_TYPE_STREAM_LISTPACKS_3 21

/* Length prefixes: the top two bits of the first byte. */
#define RDB_LEN_6BIT 0
#define RDB_LEN_14BIT 1
#define RDB_LEN_32BIT 0x80
#define RDB_LEN_64BIT 0x81
#define RDB_ENC_HDR 0xC0 /* 11xxxxxx: a specially encoded string */
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

/* Quicklist 2 node containers. */
#define RDB_QUICKLIST_PLAIN 1
#define RDB_QUICKLIST_PACKED 2

/* Module values (v2): opcodes of the self-describing serialization. */
#define RDB_MODULE_OPCODE_EOF 0
#define RDB_MODULE_OPCODE_SINT 1
#define RDB_MODULE_OPCODE_UINT 2
#define RDB_MODULE_OPCODE_FLOAT 3
#define RDB_MODULE_OPCODE_DOUBLE 4
#define RDB_MODULE_OPCODE_STRING 5

#endif
