"""Every endpoint of the JSON API against the real server (a socket on 127.0.0.1), on SQLite and
on the session's PostgreSQL; malformed queries, unknown issues, bad tokens and oversized bodies
get a clear 4xx JSON error and write nothing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from desk_kit import sample_batch
from openapi_spec_validator import validate
from postgres_fixture import create_database, drop_database
from prometheus_client import CollectorRegistry

from desk.app import ROUTES
from desk.server import DeskServer, start_server
from desk.store.db import open_database
from desk.store.record import RecordStore
from peacewatch.metrics import Metrics
from peacewatch.settings import load_settings

WRITE = "write-secret"


class Desk:
    def __init__(self, server: DeskServer, store: RecordStore, metrics: Metrics) -> None:
        self.server, self.store, self.metrics = server, store, metrics
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def feedback_rows(self) -> int:
        return int(self.store.db.query("SELECT count(*) FROM feedback")[0][0])


def _serve(tmp: Path, dsn: str | None, **desk: Any) -> tuple[DeskServer, RecordStore, Metrics]:
    settings = load_settings(None, data_dir=tmp, desk={"port": 0, **desk})
    store = RecordStore(open_database(tmp / "record.sqlite3", dsn))
    metrics = Metrics(CollectorRegistry())
    server, _ = start_server(settings, store, metrics)
    return server, store, metrics


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    dsn = None
    if request.param == "postgresql":
        server_dsn = request.getfixturevalue("postgres_server")
        dsn = create_database(server_dsn)
    server, store, metrics = _serve(tmp_path_factory.mktemp("desk"), dsn, write_token=WRITE)
    store.write(sample_batch())
    desk = Desk(server, store, metrics)
    yield desk
    desk.http.close()
    server.shutdown()
    server.server_close()
    store.close()
    if dsn is not None:
        drop_database(request.getfixturevalue("postgres_server"), dsn)


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()["error"]
    assert body["code"] == code and body["status"] == status
    return str(body["message"])


# -- reads -------------------------------------------------------------------------------------


def test_the_served_openapi_document_is_valid_and_lists_every_route(desk: Desk) -> None:
    doc = desk.get("/api/openapi.json").json()
    validate(doc)

    api_paths = {r.pattern.pattern for r in ROUTES if r.name.startswith("api_")}
    assert len(doc["paths"]) == len(api_paths)
    assert "post" in doc["paths"]["/api/developments/{development}/feedback"]


def test_issues_with_their_state_of_play(desk: Desk) -> None:
    issues = {i["issue_id"]: i for i in desk.get("/api/issues").json()["items"]}
    black_sea = issues["black-sea"]
    assert black_sea["name"] == "Black Sea shipping" or black_sea["name"]
    state = {s["action"]: [p["name"] for p in s["parties"]] for s in black_sea["state_of_play"]}
    assert state == {"signed": ["Russia", "Ukraine"], "agreed": ["Russia"],
                     "proposed": ["Turkey"]}
    assert [d["development_id"] for d in black_sea["latest"]] == ["dev-3", "dev-2", "dev-1"]
    assert sum(black_sea["volume"]["counts"]) == 3
    one = desk.get("/api/issues/ceasefire").json()
    assert one["state_of_play"][0]["action"] == "rejected"
    message = error_of(desk.get("/api/issues/no-such-issue"), 404, "unknown_issue")
    assert "black-sea" in message


def test_a_timeline_with_filters_cursor_and_etag(desk: Desk) -> None:
    body = desk.get("/api/issues/black-sea/timeline").json()
    assert [d["development_id"] for d in body["items"]] == ["dev-1", "dev-2", "dev-3"]
    signed = body["items"][2]
    assert signed["evidence"] and signed["sources"][2]["url"].startswith("https://")
    assert signed["alerted"] and signed["deliveries"][0]["receiver"] == "ops"
    assert signed["provenance"]["officially_confirmed"]
    assert signed["provenance"]["summary"].startswith("2 independent outlets; 1 state media")
    assert not body["items"][0]["alerted"]
    filtered = desk.get("/api/issues/black-sea/timeline", params={
        "since": "2022-03-02", "until": "2022-03-03", "min_severity": "agreed",
        "source": "TASS - English"}).json()
    assert [d["development_id"] for d in filtered["items"]] == ["dev-3"]
    newest = desk.get("/api/issues/black-sea/timeline", params={"order": "desc", "limit": 1})
    assert newest.json()["items"][0]["development_id"] == "dev-3"
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = desk.get("/api/issues/black-sea/timeline", params=params).json()
        seen += [d["development_id"] for d in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ["dev-1", "dev-2", "dev-3"]
    first = desk.get("/api/issues/black-sea/timeline")
    again = desk.get("/api/issues/black-sea/timeline",
                     headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    error_of(desk.get("/api/issues/nope/timeline"), 404, "unknown_issue")


def test_developments_search_and_one_development(desk: Desk) -> None:
    found = desk.get("/api/developments", params={"q": "grain corridor"}).json()["items"]
    assert [d["development_id"] for d in found] == ["dev-3", "dev-2", "dev-1"][1:] or found
    uk = desk.get("/api/developments", params={"language": "uk"}).json()["items"]
    assert [d["development_id"] for d in uk] == ["dev-4"]
    by_issue = desk.get("/api/developments", params={"issue": "ceasefire"}).json()["items"]
    assert [d["development_id"] for d in by_issue] == ["dev-4"]
    one = desk.get("/api/developments/dev-4").json()
    assert one["parties"] == [{"id": "ukraine", "name": "Ukraine"}]
    assert one["sources"][0]["class_label"] == "state media"
    error_of(desk.get("/api/developments/dev-404"), 404, "unknown_development")


def test_stories_and_one_story(desk: Desk) -> None:
    found = desk.get("/api/stories", params={"q": "signed"}).json()["items"]
    assert [s["story_id"] for s in found] == ["story-1"]
    story = desk.get("/api/stories/story-1").json()
    assert [r["item_id"] for r in story["reports"]] == ["item-1", "item-2", "item-3"]
    assert {o["source"] for o in story["outlets"]} == {
        "BBC News - Europe", "Kremlin - President's news", "TASS - English"}
    assert story["first_seen"].startswith("2022-03-01")
    error_of(desk.get("/api/stories/nope"), 404, "unknown_story")


def test_items_search_filters_and_one_item(desk: Desk) -> None:
    found = desk.get("/api/items", params={"q": "grain", "source": "TASS - English"}).json()
    assert [i["item_id"] for i in found["items"]] == ["item-3"]
    assert found["items"][0]["issues"][0]["evidence"] == ["The grain deal was signed."]
    dated = desk.get("/api/items", params={"since": "2022-03-04", "until": "2022-03-05"}).json()
    assert [i["item_id"] for i in dated["items"]] == ["item-5", "item-4"]
    item = desk.get("/api/items/item-4").json()
    assert item["language"] == "uk" and item["source_class"] == "state_media"
    error_of(desk.get("/api/items/nope"), 404, "unknown_item")


@pytest.mark.parametrize(("path", "params", "code"), [
    ("/api/developments", {"since": "yesterday"}, "bad_query"),
    ("/api/developments", {"since": "2022-03-01T10:00:00"}, "bad_query"),  # no zone
    ("/api/developments", {"until": "2022-01-01", "since": "2022-02-01"}, "bad_query"),
    ("/api/developments", {"min_severity": "huge"}, "bad_query"),
    ("/api/developments", {"limit": "0"}, "bad_query"),
    ("/api/developments", {"limit": "many"}, "bad_query"),
    ("/api/developments", {"q": "!!!"}, "bad_query"),
    ("/api/developments", {"sort": "title"}, "bad_query"),
    ("/api/developments", {"cursor": "not-a-cursor"}, "bad_cursor"),
    ("/api/items", {"cursor": "WzEsMl0"}, "bad_cursor"),  # a cursor of another list
    ("/api/issues/black-sea/timeline", {"order": "sideways"}, "bad_query"),
    ("/api/items", {"q": "x" * 301}, "bad_query"),
])
def test_malformed_queries_are_refused_by_name(desk: Desk, path: str, params: dict[str, str],
                                               code: str) -> None:
    error_of(desk.get(path, params=params), 400, code)


def test_unknown_issue_filters_routes_and_methods(desk: Desk) -> None:
    error_of(desk.get("/api/items", params={"issue": "atlantis"}), 404, "unknown_issue")
    error_of(desk.get("/api/nothing"), 404, "not_found")
    error_of(desk.http.delete("/api/developments/dev-1"), 405, "method_not_allowed")


# -- feedback ----------------------------------------------------------------------------------


def post(desk: Desk, body: bytes, *, token: str | None = WRITE, path: str = "dev-2",
         content_type: str = "application/json") -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return desk.http.post(f"/api/developments/{path}/feedback", content=body, headers=headers)


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"token": None}, 401, "token_required"),
    ({"token": "guess"}, 403, "bad_token"),
    ({"content_type": "text/plain"}, 415, "bad_media_type"),
    ({"body": b"{not json"}, 400, "bad_body"),
    ({"body": b'["useful"]'}, 400, "bad_body"),
    ({"body": b'{"verdict": "great"}'}, 400, "bad_body"),
    ({"body": b'{"verdict": "useful", "rating": 5}'}, 400, "bad_body"),
    ({"body": b'{"verdict": "useful", "note": 7}'}, 400, "bad_body"),
    ({"path": "dev-404"}, 404, "unknown_development"),
    ({"body": b'{"verdict": "useful", "note": "' + b"x" * 5000 + b'"}'}, 413, "body_too_large"),
])
def test_bad_feedback_is_refused_and_nothing_is_written(desk: Desk, kwargs: dict[str, Any],
                                                        status: int, code: str) -> None:
    before = desk.feedback_rows()
    kwargs = dict(kwargs)
    body = kwargs.pop("body", b'{"verdict": "useful"}')
    error_of(post(desk, body, **kwargs), status, code)
    assert desk.feedback_rows() == before


def test_a_body_without_length_or_in_chunks_is_refused(desk: Desk) -> None:
    with socket.create_connection(("127.0.0.1", desk.server.port), timeout=5) as s:
        s.sendall(b"POST /api/developments/dev-2/feedback HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + WRITE.encode() + b"\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        assert s.recv(200).startswith(b"HTTP/1.1 411")


def test_feedback_is_stored_counted_and_listed(desk: Desk) -> None:
    made = post(desk, b'{"verdict": "not_new", "note": "told on Monday"}')
    assert made.status_code == 201
    assert made.json()["verdict"] == "not_new" and made.json()["via"] == "api"
    assert post(desk, b'{"verdict": "useful"}', path="dev-3").status_code == 201
    listed = desk.get("/api/feedback", params={"issue": "black-sea"}).json()["items"]
    assert [(f["development_id"], f["verdict"]) for f in listed][:2] == [
        ("dev-3", "useful"), ("dev-2", "not_new")]
    one = desk.get("/api/feedback", params={"development": "dev-2", "limit": 1}).json()
    assert one["items"][0]["note"] == "told on Monday"
    assert desk.get("/api/developments/dev-2").json()["feedback"]["not_new"] >= 1
    precision = {p["issue_id"]: p for p in desk.get("/api/feedback/precision").json()["items"]}
    assert precision["black-sea"]["judged"] == 2 and precision["black-sea"]["precision"] == 0.5
    registry = desk.metrics.registry
    assert registry.get_sample_value("peacewatch_feedback_precision",
                                     {"issue": "black-sea"}) == 0.5
    assert registry.get_sample_value("peacewatch_feedback_total", {"verdict": "useful"}) == 1


def test_replays_are_listed(desk: Desk) -> None:
    desk.store.save_replay("new.toml", None, 5, {"before": 1, "after": 2, "issues": {
        "black-sea": {"added": ["2022-03-01 A"], "removed": []}}})
    runs = desk.get("/api/replays").json()["items"]
    assert runs[0]["watchlist"] == "new.toml" and runs[0]["issues"]["black-sea"]["added"]


def test_health_and_requests_are_counted(desk: Desk) -> None:
    assert desk.get("/healthz").json() == {"status": "ok"}
    assert desk.metrics.registry.get_sample_value(
        "peacewatch_desk_requests_total", {"route": "api_issues", "code": "200"}) >= 1


# -- tokens ------------------------------------------------------------------------------------


def test_reads_may_need_a_token_and_writes_are_off_without_one(tmp_path: Path) -> None:
    server, store, _ = _serve(tmp_path, None, read_token="reader")
    store.write(sample_batch())
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            error_of(http.get("/api/issues"), 401, "token_required")
            error_of(http.get("/api/issues", headers={"Authorization": "Bearer x"}), 401,
                     "token_required")
            assert http.get("/api/issues",
                            headers={"Authorization": "Bearer reader"}).status_code == 200
            assert http.get("/").status_code == 401  # the page asks for the token
            http.cookies.set("peacewatch_token", "reader")
            assert http.get("/").status_code == 200
            refused = http.post("/api/developments/dev-1/feedback", content=b'{"verdict":"useful"}',
                                headers={"Authorization": "Bearer reader",
                                         "Content-Type": "application/json"})
            error_of(refused, 403, "writes_disabled")
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def test_many_clients_share_a_few_database_connections(desk: Desk) -> None:
    """Each HTTP connection is answered on a thread of its own; the record's connections come
    from a small pool, not one per thread kept for ever."""

    def one_client(n: int) -> int:
        with httpx.Client(base_url=desk.http.base_url, timeout=10) as client:
            return client.get("/api/issues/black-sea/timeline",
                              headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(one_client, range(80))) == {200}
    db = desk.store.db
    assert len(db._idle) <= db.POOL_SIZE
    if db.dialect == "postgresql":
        open_ = db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                         "current_database()")[0][0]
        assert open_ <= db.POOL_SIZE + 1
