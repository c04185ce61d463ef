#include "db/types.h"

#include "db/db.h"
#include "db/t_hash.h"
#include "db/t_list.h"
#include "db/t_set.h"
#include "db/t_zset.h"

void db_register_types(void) {
    static const db_type_ops zset_ops = {.free = zset_free_value,
                                         .mem_usage = zset_mem_usage,
                                         .dup = zset_dup_value,
                                         .len = zset_length_value,
                                         .lp_entries = 2};
    db_register_type(DB_TYPE_HASH, &hash_type_ops);
    db_register_type(DB_TYPE_LIST, &list_type_ops);
    db_register_type(DB_TYPE_SET, &set_type_ops);
    db_register_type(DB_TYPE_ZSET, &zset_ops);
}
