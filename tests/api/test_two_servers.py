"""Every race of test_concurrency.py again, with two promo servers on one
PostgreSQL database and the racing clients spread over both (PostgreSQL
only: there correctness must come from the database, not from a process;
the SQLite store is one process by design, so on SQLite this module has no
tests). Also: two servers starting at once on a fresh database migrate it
once."""

import threading

import harness
import test_concurrency


def setup(srv):
    twin = harness.Server(db=srv.db, token=srv.token, config=srv.config)
    twin.start()
    srv.peers = [twin]


def _twice(fn):
    def test(srv):
        assert getattr(srv, "peers", None), "the second server is not running"
        for p in srv.peers:
            if not p.alive():
                p.start()
        fn(srv)
    test.timeout = getattr(fn, "timeout", 120)
    test.__name__ = fn.__name__ + "_on_two_servers"
    return test


def test_two_servers_starting_at_once_migrate_once(srv):
    db = harness.pg_fresh_db()
    pair = [harness.Server(db=db) for _ in range(2)]
    errors = []

    def start(s):
        try:
            s.start()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        rows = harness.db_query(pair[0], "SELECT version FROM schema_migrations ORDER BY version")
        versions = [int(r[0]) for r in rows]
        assert versions == sorted(set(versions)) and versions, versions
        applied = sum(s.stderr_all().count("applied migration") for s in pair)
        assert applied == len(versions), "migrations applied %d times for %d versions" % (applied, len(versions))
    finally:
        for s in pair:
            s.stop()


if harness.on_pg():
    for _name, _fn in list(vars(test_concurrency).items()):
        if _name.startswith("test_") and callable(_fn):
            globals()[_name + "_on_two_servers"] = _twice(_fn)
else:
    del test_two_servers_starting_at_once_migrate_once
