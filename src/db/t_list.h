/* t_list — the list type's db_type_ops (values are quicklists, DB_ENC_QUICKLIST). */
#ifndef MEMKV_T_LIST_H
#define MEMKV_T_LIST_H

#include "db/db.h"

extern const db_type_ops list_type_ops;

#endif
