"""test_tls.py — `promo serve --tls-cert FILE --tls-key FILE`: HTTPS with a
certificate the client verifies, TLS 1.2+ only, plain HTTP on the TLS port
refused without a hang, and clear refusals to start when a file is wrong.

Each test starts its own TLS server (the module's plain server is unused);
setup() makes a self-signed certificate for 127.0.0.1/localhost with
openssl, plus a second, unrelated one for the mismatch cases."""

import atexit
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import warnings

import harness

SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: \w+Sanitizer")
CERTS = {}


def make_cert(folder, name):
    cert, key = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def setup(srv):
    folder = tempfile.mkdtemp(prefix="promo-tls-")
    atexit.register(shutil.rmtree, folder, True)
    CERTS["dir"] = folder
    CERTS["cert"], CERTS["key"] = make_cert(folder, "server")
    CERTS["other_cert"], CERTS["other_key"] = make_cert(folder, "other")
    garbage = os.path.join(folder, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("this is not a PEM file\n")
    CERTS["garbage"] = garbage


def client_context(cafile=None, maximum=None):
    ctx = ssl.create_default_context(cafile=cafile or CERTS["cert"])
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def get_healthz(s, ctx):
    """GET /healthz on s's port over HTTPS with ctx, or plain HTTP when ctx
    is None; returns the status."""
    t = 10 * harness.time_scale()
    c = (http.client.HTTPSConnection(s.host, s.port, timeout=t, context=ctx) if ctx
         else http.client.HTTPConnection(s.host, s.port, timeout=t))
    try:
        c.request("GET", "/healthz")
        return c.getresponse().status
    finally:
        c.close()


def tls_server(**kw):
    args = ["--tls-cert", CERTS["cert"], "--tls-key", CERTS["key"]]
    return harness.Server(extra_args=args, ssl_context=client_context(), **kw)


def stop_clean(s):
    """Stops a server and fails on a sanitizer report in its stderr (the
    runner only watches the module's own server)."""
    code = s.stop()
    m = SANITIZER.search(s.stderr_all())
    assert not m, "sanitizer report in the TLS server's stderr:\n%s" % s.stderr_tail()
    shutil.rmtree(s.tmp, ignore_errors=True)
    return code


def run_serve(args, env_extra=None, timeout=20):
    """Runs `promo serve` expecting it to refuse to start: returns
    (exit code, stderr). A server that starts anyway is killed and fails."""
    folder = tempfile.mkdtemp(prefix="promo-tls-run-")
    env = dict(os.environ)
    for k in ("PROMO_TLS_CERT", "PROMO_TLS_KEY", "PROMO_BOOTSTRAP_TOKEN"):
        env.pop(k, None)
    env["PROMO_BOOTSTRAP_TOKEN"] = "t-not-used-" + harness.uniq("", 8)
    env.update(env_extra or {})
    cmd = [harness.promo_bin(), "serve", "--db", os.path.join(folder, "promo.db"),
           "--listen", "127.0.0.1:%d" % harness.free_port()] + args
    try:
        p = subprocess.run(cmd, env=env, cwd=folder, capture_output=True,
                           timeout=timeout * harness.time_scale())
    except subprocess.TimeoutExpired:
        raise AssertionError("promo serve %s started (or hung) instead of refusing" % " ".join(args))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    err = p.stderr.decode("utf-8", "replace")
    assert not SANITIZER.search(err), "sanitizer report while refusing to start:\n" + err
    return p.returncode, err


# --- HTTPS works --------------------------------------------------------------------

def test_https_verified_against_the_certificate_serves_health_and_v1(srv):
    s = tls_server()
    s.start()
    try:
        r = s.get("/healthz", token=None)
        assert r.status == 200, r
        c = harness.create_campaign(s)
        got = harness.get_campaign(s, c["id"])
        assert got["name"] == c["name"], got
        r = s.get("/v1/campaigns", token=None)
        harness.expect_error(r, 401, "unauthorized", what="HTTPS without a token")
    finally:
        stop_clean(s)


def test_https_speaks_tls_1_2_or_1_3_and_a_1_2_only_client_works(srv):
    s = tls_server()
    s.start()
    try:
        raw = socket.create_connection((s.host, s.port), timeout=10 * harness.time_scale())
        with client_context().wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.version() in ("TLSv1.2", "TLSv1.3"), t.version()
        assert get_healthz(s, client_context(maximum=ssl.TLSVersion.TLSv1_2)) == 200
    finally:
        stop_clean(s)


def test_tls_1_1_client_is_refused_by_the_server(srv):
    """This client can speak TLS 1.1 (checked against openssl s_server -tls1_1
    when the test was written): the handshake fails because the server's
    priority string stops at TLS 1.2."""
    s = tls_server()
    s.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            except (ValueError, ssl.SSLError):
                return  # this OpenSSL cannot even offer TLS 1.1: nothing to refuse
        raw = socket.create_connection((s.host, s.port), timeout=10 * harness.time_scale())
        try:
            with ctx.wrap_socket(raw) as t:
                raise AssertionError("a TLS 1.1 handshake succeeded (%s)" % t.version())
        except ssl.SSLError as e:
            # The server's alert or close, not our own client refusing to start.
            assert "NO_PROTOCOLS_AVAILABLE" not in str(e), "the client could not offer TLS 1.1: %r" % e
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert s.healthy()
    finally:
        stop_clean(s)


def test_the_served_certificate_is_the_one_given(srv):
    s = tls_server()
    s.start()
    try:
        try:
            get_healthz(s, client_context(cafile=CERTS["other_cert"]))
            raise AssertionError("a client trusting another certificate connected")
        except ssl.SSLCertVerificationError:
            pass
    finally:
        stop_clean(s)


# --- plain HTTP on the TLS port ---------------------------------------------------

def plain_request(s, timeout):
    """Sends plain HTTP to the TLS port; returns what came back before the
    server closed. A connection still open after `timeout` is a hang."""
    sock = socket.create_connection((s.host, s.port), timeout=timeout)
    data = b""
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data
    except socket.timeout:
        raise AssertionError("plain HTTP on the TLS port hung for %.0fs (got %r)" % (timeout, data[:200]))
    finally:
        sock.close()


def test_plain_http_on_the_tls_port_fails_cleanly_and_https_goes_on(srv):
    s = tls_server()
    s.start()
    try:
        for _ in range(5):
            t0 = time.time()
            data = plain_request(s, 10 * harness.time_scale())
            assert not data.startswith(b"HTTP/1.1 2") and not data.startswith(b"HTTP/1.0 2"), \
                "plain HTTP on the TLS port got a success: %r" % data[:200]
            assert time.time() - t0 < 10 * harness.time_scale()
        try:
            status = get_healthz(s, None)
            assert status >= 400, "a plain HTTP client got %d on the TLS port" % status
        except (OSError, http.client.HTTPException):
            pass  # a connection error is the expected clean failure
        assert s.alive(), "the server died after plain HTTP on its TLS port:\n" + s.stderr_tail()
        assert s.get("/healthz", token=None).status == 200
        harness.create_campaign(s)
    finally:
        stop_clean(s)


# --- refusing to start ---------------------------------------------------------------

def test_missing_key_file_refuses_to_start_naming_it(srv):
    missing = os.path.join(CERTS["dir"], "no-such.key")
    code, err = run_serve(["--tls-cert", CERTS["cert"], "--tls-key", missing])
    assert code != 0, "exit code 0 with a missing key file; stderr: " + err
    assert missing in err, "the message does not name the missing key file: " + err


def test_missing_certificate_file_refuses_to_start_naming_it(srv):
    missing = os.path.join(CERTS["dir"], "no-such.crt")
    code, err = run_serve(["--tls-cert", missing, "--tls-key", CERTS["key"]])
    assert code != 0 and missing in err, (code, err)


def test_key_of_another_certificate_refuses_to_start_naming_both(srv):
    code, err = run_serve(["--tls-cert", CERTS["cert"], "--tls-key", CERTS["other_key"]])
    assert code != 0, err
    assert CERTS["other_key"] in err and CERTS["cert"] in err and "does not belong" in err, err


def test_a_file_that_is_not_pem_refuses_to_start_naming_it(srv):
    code, err = run_serve(["--tls-cert", CERTS["garbage"], "--tls-key", CERTS["key"]])
    assert code != 0 and CERTS["garbage"] in err and "certificate" in err, (code, err)
    code, err = run_serve(["--tls-cert", CERTS["cert"], "--tls-key", CERTS["garbage"]])
    assert code != 0 and CERTS["garbage"] in err and "key" in err, (code, err)


def test_certificate_without_key_is_refused(srv):
    code, err = run_serve(["--tls-cert", CERTS["cert"]])
    assert code == 2 and "--tls-key" in err, (code, err)
    code, err = run_serve([], env_extra={"PROMO_TLS_KEY": CERTS["key"]})
    assert code == 2 and "--tls-cert" in err, (code, err)


def test_tls_files_from_the_environment(srv):
    s = harness.Server(ssl_context=client_context(),
                       extra_env={"PROMO_TLS_CERT": CERTS["cert"], "PROMO_TLS_KEY": CERTS["key"]})
    s.start()
    try:
        assert s.get("/healthz", token=None).status == 200
        assert "https://" in s.stderr_all(), s.stderr_tail()
    finally:
        stop_clean(s)
