-- 002: the event log refuses updates and deletes. (SQLite syntax; the
-- PostgreSQL backend carries its own equivalent as a rule/trigger.)
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
