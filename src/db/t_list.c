/* The list type's hooks for the key space (db_type_ops): a list value is a quicklist. */
#include "db/t_list.h"

#include "db/quicklist.h"

static void list_free(void *ptr, unsigned enc) {
    (void)enc;
    ql_free(ptr);
}

/* Exact whatever `samples` says: one pass over the nodes, not the elements. */
static size_t list_mem_usage(const void *ptr, unsigned enc, size_t samples) {
    (void)enc;
    (void)samples;
    return ql_mem_usage(ptr);
}

static void *list_dup(const void *ptr, unsigned enc) {
    (void)enc;
    return ql_dup(ptr);
}

static size_t list_len(const void *ptr, unsigned enc) {
    (void)enc;
    return ql_count(ptr);
}

const db_type_ops list_type_ops = {list_free, list_mem_usage, list_dup, list_len, NULL, 0};
