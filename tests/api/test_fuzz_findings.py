"""test_fuzz_findings.py — what the fuzzers in tests/fuzz found, pinned at
the HTTP level so the fix cannot quietly go away (the crashing inputs are
also replayed from tests/fuzz/regress/ by `make test`)."""

from harness import create_campaign, expect, expect_error, uniq


def import_csv(srv, cid, text):
    return srv.request("POST", "/v1/campaigns/%s/codes/import" % cid, raw=text.encode(),
                       headers={"Content-Type": "text/csv"})


# fuzz_use: jansson quotes the bytes near a bad escape in its error text;
# when they were not UTF-8 the 400 could not be built and a 500 went out.
def test_malformed_json_quoting_non_utf8_bytes_is_a_400(srv):
    bodies = [b'{"code":"\\u0\xcd\x9a\xc6\x8b\xa3\x8a\xcf\xcf":1}}',
              b'{"code":"\\u12\xff\xfe"}',
              b'{"name":"\\uZZ\xc3"}']
    for raw in bodies:
        for path in ("/v1/validate", "/v1/redemptions", "/v1/campaigns"):
            r = srv.request("POST", path, raw=raw)
            expect_error(r, 400, "bad_request", what="%s with %r" % (path, raw))


# fuzz_csv: libcsv ends a record at a lone CR too, but lines were counted
# by LF only: a header line ending in CR was read as one unknown column,
# and rows after a lone CR were reported a line late.
def test_import_with_old_mac_line_endings(srv):
    c = create_campaign(srv)
    a, b = uniq("M"), uniq("M")
    r = import_csv(srv, c["id"], "code,max_uses\r%s,2\rnot a code,1\r%s,\r" % (a, b))
    j = expect(r, 200, "import with CR line endings")
    assert j["imported"] == 2, r
    assert [x["line"] for x in j["rejected"]] == [3], r


def test_rejected_line_numbers_after_a_lone_cr(srv):
    c = create_campaign(srv)
    good = [uniq("L") for _ in range(3)]
    text = "%s\n%s\r%s\nbad code\n" % tuple(good)
    j = expect(import_csv(srv, c["id"], text), 200)
    assert j["imported"] == 3, j
    assert [x["line"] for x in j["rejected"]] == [4], j
