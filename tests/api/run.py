#!/usr/bin/env python3
"""run.py — runs promo's black-box HTTP acceptance tests.

    python3 tests/api/run.py                 # every test
    python3 tests/api/run.py redeem idem     # tests whose "file::name" contains a word
    PROMO_BIN=build/san/promo python3 tests/api/run.py

Discovers tests/api/test_*.py and runs each function named test_* in file
order. Each module gets one fresh server (harness.Server) on its own
database; an optional module-level setup(srv) runs first. Every test gets
the server: def test_x(srv). A test fails on an exception, on its time
limit (PROMO_TEST_TIMEOUT, default 120 s, scaled ×3 for sanitizer builds,
or @harness.timeout(s)), when the server dies under it, or when the server
stops answering /healthz after it. Prints one line per test and, last,
exactly "N passed, N failed"; exits 1 if any failed.
"""

import glob
import importlib.util
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|"
                          r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)")

passed = 0
failed = 0
failures = []


def out(line=""):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def indent(text, pre="    "):
    return "\n".join(pre + l for l in text.rstrip().split("\n"))


def report(name, ok, secs, msg=None, tb=None):
    global passed, failed
    if ok:
        passed += 1
        out("ok   %s (%.2fs)" % (name, secs))
    else:
        failed += 1
        failures.append(name)
        out("FAIL %s (%.2fs)" % (name, secs))
        if msg:
            out(indent(msg))
        if tb:
            out(indent(tb))


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tests_of(mod):
    fns = [(k, v) for k, v in vars(mod).items()
           if k.startswith("test_") and callable(v) and getattr(v, "__module__", None) == mod.__name__]
    fns.sort(key=lambda kv: kv[1].__code__.co_firstlineno)
    return fns


def selected(full, words):
    return not words or any(w in full for w in words)


def run_with_timeout(fn, srv, limit):
    """Runs fn(srv) in a thread. Returns (status, message, traceback):
    status 'ok', 'fail' or 'timeout'."""
    box = {}

    def body():
        try:
            fn(srv)
            box["ok"] = True
        except BaseException as e:  # noqa: BLE001 - everything is a test failure
            box["exc"] = e
            # the frames only: the message is printed once, above them
            box["tb"] = "Traceback (most recent call last):\n" + "".join(traceback.format_tb(e.__traceback__)[1:])

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(limit)
    if t.is_alive():
        return "timeout", "test did not finish within %.0fs (hang?)" % limit, None
    if box.get("ok"):
        return "ok", None, None
    e = box["exc"]
    msg = "%s: %s" % (type(e).__name__, e) if not isinstance(e, AssertionError) else "AssertionError: %s" % e
    return "fail", msg, box["tb"]


def sanitizer_report(srv, since):
    text = srv.stderr_all()[since:]
    m = SANITIZER_RE.search(text)
    if not m:
        return None
    start = max(0, text.rfind("\n", 0, max(0, m.start() - 2000)))
    return text[start:start + 6000]


def revive(srv, name):
    """After a test: make sure the module's server runs (a crash test may
    have left it dead); returns a failure message if it died unexpectedly."""
    msg = None
    if not srv.alive():
        if not srv.expected_dead:
            msg = "the server died during %s (exit code %s); stderr tail:\n%s" % (
                name, srv.proc.returncode if srv.proc else None, srv.stderr_tail())
        srv.start()
    elif not srv.healthy():
        msg = "the server stopped answering GET /healthz after %s; stderr tail:\n%s" % (name, srv.stderr_tail())
        srv.kill9()
        srv.start()
    return msg


def run_module(path, words):
    mod_name = os.path.splitext(os.path.basename(path))[0]
    try:
        mod = load(path)
    except BaseException:  # noqa: BLE001
        report("%s::<import>" % mod_name, False, 0.0, "the test module does not load", traceback.format_exc())
        return
    tests = [(n, f) for n, f in tests_of(mod) if selected("%s::%s" % (mod_name, n), words)
             or selected("%s.py::%s" % (mod_name, n), words)]
    if not tests:
        return
    why = harness.pg_skip_reason(mod_name)
    if why:
        out("skip %s (%d tests): %s" % (mod_name, len(tests), why))
        return
    for n, _ in tests:
        why = harness.pg_skip_reason("%s::%s" % (mod_name, n))
        if why:
            out("skip %s::%s: %s" % (mod_name, n, why))
    tests = [(n, f) for n, f in tests if not harness.pg_skip_reason("%s::%s" % (mod_name, n))]
    if not tests:
        return
    default_limit = float(os.environ.get("PROMO_TEST_TIMEOUT", "120"))
    scale = harness.time_scale()
    srv = harness.Server()
    fails_before = failed
    t0 = time.time()
    try:
        srv.start()
        setup = getattr(mod, "setup", None)
        if setup:
            setup(srv)
    except BaseException:  # noqa: BLE001
        tb = traceback.format_exc()
        for n, _ in tests:
            report("%s::%s" % (mod_name, n), False, 0.0, "module setup failed (server start or setup(srv))", tb)
        srv.kill9()
        return
    try:
        for n, f in tests:
            name = "%s::%s" % (mod_name, n)
            limit = getattr(f, "timeout", default_limit) * scale
            since = len(srv.stderr_all())
            start = time.time()
            status, msg, tb = run_with_timeout(f, srv, limit)
            secs = time.time() - start
            if status == "timeout":
                # the test's thread may still hold the server: start over on the same db
                srv.kill9()
            try:
                died = revive(srv, name)
            except BaseException:  # noqa: BLE001
                died = "the server could not be restarted after %s:\n%s" % (name, traceback.format_exc())
            san = sanitizer_report(srv, since)
            if died:
                msg = (msg + "\n" if msg else "") + died
                status = "fail" if status == "ok" else status
            if san:
                msg = (msg + "\n" if msg else "") + "sanitizer report in the server's stderr:\n" + san
                status = "fail" if status == "ok" else status
            report(name, status == "ok", secs, msg, tb)
            if not srv.alive():
                break
    finally:
        since = len(srv.stderr_all())
        code = srv.stop()
        san = sanitizer_report(srv, since)
        if san:
            report("%s::<server shutdown>" % mod_name, False, 0.0,
                   "sanitizer report at server shutdown (exit code %s):\n%s" % (code, san))
        elif code not in (0, -signal.SIGTERM, None):
            out("note %s: server exited with %s after SIGTERM" % (mod_name, code))
        if failed == fails_before and not os.environ.get("PROMO_KEEP_TMP"):
            shutil.rmtree(srv.tmp, ignore_errors=True)
        else:
            out("note %s: server files kept in %s (%.1fs in module)" % (mod_name, srv.tmp, time.time() - t0))


def stop_all():
    for s in harness.ALL_SERVERS:
        try:
            if s.alive():
                s.kill9()
        except Exception:  # noqa: BLE001
            pass


def main(argv):
    words = [a for a in argv if not a.startswith("-")]
    files = sorted(glob.glob(os.path.join(HERE, "test_*.py")))

    def on_term(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    if not os.path.exists(harness.promo_bin()):
        out("FAIL <setup>: server binary %s does not exist (run make or set PROMO_BIN)" % harness.promo_bin())
        out("0 passed, 1 failed")
        return 1
    try:
        for path in files:
            run_module(path, words)
    except KeyboardInterrupt:
        out("interrupted")
        report("<run>", False, 0.0, "interrupted")
    finally:
        stop_all()
    out("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
