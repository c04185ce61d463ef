/* types — every collection type's db_type_ops registered with the db at once. */
#ifndef MEMKV_DB_TYPES_H
#define MEMKV_DB_TYPES_H

/* Each collection type tells the db how to free, measure and copy its values; call before
 * any key exists (the server at start-up, a test or fuzz target before its first db). */
void db_register_types(void);

#endif
