/* migrations.h — the schema as numbered migrations, embedded in the binary
 * by scripts/embed_sql.sh from src/store/migrations/NNN_name[.backend].sql.
 * Sorted by version; `backend` is "" (every store), "sqlite" or "pg". */
#ifndef PROMO_STORE_MIGRATIONS_H
#define PROMO_STORE_MIGRATIONS_H
struct store_migration {
    int version;
    const char *name;
    const char *backend;
    const char *sql;
};
extern const struct store_migration store_migrations[];
extern const int store_migration_count;
#endif
