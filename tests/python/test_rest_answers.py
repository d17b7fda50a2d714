"""One table of request → answer (tests/rest_answers.json), three servers held to it: the C++
worker, our Python package's StreamServer, and upstream PyTrickle's own StreamServer. A row that
one of ours answers differently from upstream fails here, whichever side moved."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from trickle_testutil import http_request
from worker_processes import RunningServer, start_passthrough

DOCUMENT = json.loads((REPO / "tests" / "rest_answers.json").read_text())
TABLE = DOCUMENT["rows"]


@pytest.fixture(scope="module", params=["cpp", "ours", pytest.param("upstream", marks=pytest.mark.upstream)])
def server(request, tmp_path_factory):
    upstream_python = request.getfixturevalue("upstream_python") if request.param == "upstream" else None
    running = start_passthrough(request.param, tmp_path_factory.mktemp(request.param), upstream_python)
    yield running
    running.stop()
    print(f"===== {running.name} (rc {running.proc.returncode}) =====\n{running.output()}")


def _body(row: dict) -> bytes | None:
    if "body_repeat" in row:
        text, times = row["body_repeat"]
        return text.encode() * times
    if "body_hex" in row:
        return bytes.fromhex(row["body_hex"])
    return row["body"].encode() if "body" in row else None


def _send(server: RunningServer, row: dict):
    headers = {"Content-Type": row["content_type"]} if row["content_type"] else {}
    body = _body(row)
    if body is not None and not headers:
        headers = {"Content-Type": ""}  # urllib adds a form type unless told otherwise
    return http_request(row["method"], server.base + row["path"], headers=headers, data=body, timeout=30)


@pytest.mark.parametrize("row", TABLE, ids=[row["id"] for row in TABLE])
def test_each_server_answers_as_the_table_says(server, row):
    status, headers, raw = _send(server, row)
    expected = row["answer"]
    got = raw.decode("utf-8", "replace")
    assert status == row["status"], f"{server.name}: {status} {got[:500]}"
    fields = dict(expected.get("json") or expected.get("fields") or {})
    if server.name == "upstream":
        for key in DOCUMENT["published_upstream_omits"]:
            fields.pop(key, None)
    if "text" in expected:
        assert got == expected["text"]
        assert headers.get("Content-Type", "").startswith("text/plain")
    else:
        answer = json.loads(raw)
        assert headers.get("Content-Type") == "application/json; charset=utf-8"
        if "message_prefix" in expected:
            message = answer.pop("message")
            assert message.startswith(expected["message_prefix"]), message
        assert answer == fields
    # Whatever it was sent, the server is still up and still idle.
    assert server.health() == (200, b'{"status": "IDLE"}'), server.output()
