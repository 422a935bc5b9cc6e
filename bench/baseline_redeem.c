/* baseline_redeem.c — the floor promo's durable redemption is compared with.
 *
 * One thread, one SQLite connection, one redemption per transaction, each
 * durable before the next starts (WAL, synchronous=FULL): the cost of the
 * same four statements promo runs for a redemption, without HTTP, JSON, the
 * decision logic or any batching. promo answers a 201 only once the
 * redemption is durable too, so "promo / baseline" is what its request
 * handling plus its commit strategy buy (or cost) against this naive loop.
 *
 *   cc -O2 -o baseline_redeem bench/baseline_redeem.c -lsqlite3
 *   baseline_redeem DB_PATH SECONDS
 *
 * Prints one line: `redemptions=N seconds=S rate=R uses=U redeemed=C`
 * (uses/redeemed are read back from the tables after the run, as a check).
 * Exits non-zero on any SQLite error. DB_PATH (and its -wal/-shm) is
 * created fresh; the caller removes it.
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "baseline_redeem: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "baseline_redeem: %s\n  in: %s\n", err ? err : "?", sql);
        exit(1);
    }
}

static sqlite3_stmt *prep(const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
        die(sql);
    return s;
}

static void step_done(sqlite3_stmt *s, const char *what)
{
    if (sqlite3_step(s) != SQLITE_DONE)
        die(what);
    sqlite3_reset(s);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB_PATH SECONDS\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    double seconds = atof(argv[2]);
    if (seconds <= 0) {
        fprintf(stderr, "baseline_redeem: SECONDS must be > 0\n");
        return 2;
    }
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);

    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open");
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    /* The shape of promo's tables, cut to what a redemption touches. */
    exec("CREATE TABLE campaigns ("
         " id TEXT PRIMARY KEY, redeemed INTEGER NOT NULL DEFAULT 0,"
         " discount_total INTEGER NOT NULL DEFAULT 0, revenue INTEGER NOT NULL DEFAULT 0);"
         "CREATE TABLE codes ("
         " code_key TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, max_uses INTEGER,"
         " uses INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
         "CREATE TABLE redemptions ("
         " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, code_key TEXT NOT NULL,"
         " campaign_id TEXT NOT NULL, order_id TEXT NOT NULL, order_amount INTEGER NOT NULL,"
         " discount INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL);"
         "CREATE UNIQUE INDEX redemptions_standing ON redemptions(code_key, order_id);"
         "INSERT INTO campaigns(id) VALUES ('cmp_baseline');"
         "INSERT INTO codes(code_key, campaign_id, max_uses) VALUES ('BENCHCODE', 'cmp_baseline', NULL);");

    sqlite3_stmt *begin = prep("BEGIN IMMEDIATE");
    sqlite3_stmt *commit = prep("COMMIT");
    sqlite3_stmt *use = prep("UPDATE codes SET uses = uses + 1"
                             " WHERE code_key = ? AND (max_uses IS NULL OR uses < max_uses)");
    sqlite3_stmt *count = prep("UPDATE campaigns SET redeemed = redeemed + 1,"
                               " discount_total = discount_total + ?, revenue = revenue + ? WHERE id = ?");
    sqlite3_stmt *ledger = prep("INSERT INTO redemptions(id, code_key, campaign_id, order_id,"
                                " order_amount, discount, status, created_at)"
                                " VALUES (?, ?, ?, ?, ?, ?, 'succeeded', ?)");

    const int64_t amount = 45000, discount = 4500; /* 10 % of the order */
    int64_t n = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        char rid[64], oid[64];
        snprintf(rid, sizeof rid, "rdm_%012lld", (long long)n);
        snprintf(oid, sizeof oid, "o-%lld", (long long)n);

        step_done(begin, "begin");
        sqlite3_bind_text(use, 1, "BENCHCODE", -1, SQLITE_STATIC);
        step_done(use, "update codes");
        if (sqlite3_changes(db) != 1)
            die("code refused (max_uses reached?)");
        sqlite3_bind_int64(count, 1, discount);
        sqlite3_bind_int64(count, 2, amount - discount);
        sqlite3_bind_text(count, 3, "cmp_baseline", -1, SQLITE_STATIC);
        step_done(count, "update campaigns");
        sqlite3_bind_text(ledger, 1, rid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ledger, 2, "BENCHCODE", -1, SQLITE_STATIC);
        sqlite3_bind_text(ledger, 3, "cmp_baseline", -1, SQLITE_STATIC);
        sqlite3_bind_text(ledger, 4, oid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ledger, 5, amount);
        sqlite3_bind_int64(ledger, 6, discount);
        sqlite3_bind_int64(ledger, 7, (int64_t)time(NULL));
        step_done(ledger, "insert redemption");
        step_done(commit, "commit");
        n++;
        t = now_s();
    }
    double elapsed = t - t0;

    /* Read the counters back: the loop must have done what it claims. */
    sqlite3_stmt *chk = prep("SELECT (SELECT uses FROM codes WHERE code_key = 'BENCHCODE'),"
                             " (SELECT redeemed FROM campaigns WHERE id = 'cmp_baseline'),"
                             " (SELECT count(*) FROM redemptions)");
    if (sqlite3_step(chk) != SQLITE_ROW)
        die("check");
    int64_t uses = sqlite3_column_int64(chk, 0), redeemed = sqlite3_column_int64(chk, 1),
            rows = sqlite3_column_int64(chk, 2);
    sqlite3_finalize(chk);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_finalize(use);
    sqlite3_finalize(count);
    sqlite3_finalize(ledger);
    if (sqlite3_close(db) != SQLITE_OK)
        die("close");
    if (uses != n || redeemed != n || rows != n) {
        fprintf(stderr, "baseline_redeem: counters disagree: n=%lld uses=%lld redeemed=%lld rows=%lld\n",
                (long long)n, (long long)uses, (long long)redeemed, (long long)rows);
        return 1;
    }
    printf("redemptions=%lld seconds=%.3f rate=%.1f uses=%lld redeemed=%lld\n", (long long)n, elapsed,
           (double)n / elapsed, (long long)uses, (long long)redeemed);
    return 0;
}
