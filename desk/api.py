"""The JSON API's routes. Each reads its query through ``Query`` (unknown or malformed
parameters are a 400), answers from the record, and pages with a cursor."""

from __future__ import annotations

import json
from typing import Any

from desk.context import DeskContext
from desk.http import HttpError, Query, Request, Response, encode_cursor, json_response
from desk.openapi import openapi_document
from desk.store.record import VERDICTS, Filters, iso, query_words
from desk.views import (
    development_view,
    development_views,
    feedback_view,
    item_view,
    state_of_play,
    story_view,
)

SEARCH = frozenset({"q", "issue", "language", "source", "since", "until", "cursor", "limit"})
MAX_NOTE = 1000


def _limit(q: Query, ctx: DeskContext) -> int:
    return q.integer("limit", ctx.settings.desk.page_size, 1, 200)


def _search_text(q: Query) -> str | None:
    text = q.text("q", 300)
    if text is not None and not query_words(text):
        raise HttpError(400, "bad_query", "q: no words to search for")
    return text


def _issue_filter(q: Query, ctx: DeskContext) -> str | None:
    issue = q.text("issue", 64)
    if issue is not None:
        ctx.known_issue(issue)
    return issue


def _range(q: Query) -> tuple[float | None, float | None]:
    since, until = q.time("since"), q.time("until", end=True)
    if since is not None and until is not None and until <= since:
        raise HttpError(400, "bad_query", "until must be after since")
    return since, until


def page(items: list[Any], cursor: tuple[Any, ...] | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(cursor)}


# -- issues ------------------------------------------------------------------------------------


def issue_summary(ctx: DeskContext, issue_id: str, latest: int) -> dict[str, Any]:
    store = ctx.store
    info = ctx.catalog.issue(issue_id)
    developments, items, last_at = store.counts(issue_id)
    return {
        "issue_id": issue_id, "name": info.name if info else issue_id,
        "description": info.description if info else "",
        "developments": developments, "items": items,
        "state_of_play": state_of_play(store.issue_developments(issue_id, 3), ctx.catalog),
        "latest": development_views(store, store.latest_developments(issue_id, latest),
                                    ctx.catalog),
        "volume": {"bucket_days": 7, "counts": store.volume(issue_id, last_at, 26, 7 * 86400)
                   if last_at is not None else [0] * 26},
    }


def list_issues(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    ids = [i.id for i in ctx.catalog.with_record(ctx.store.issue_ids())]
    return json_response({"items": [issue_summary(ctx, i, 3) for i in ids]})


def get_issue(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    issue = ctx.known_issue(params["issue"])
    return json_response(issue_summary(ctx, issue, 5))


def timeline(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, frozenset({"since", "until", "min_severity", "source", "order",
                                  "cursor", "limit"}))
    issue = ctx.known_issue(params["issue"])
    since, until = _range(q)
    f = Filters(issue=issue, source=q.text("source"), since=since, until=until,
                min_severity=q.severity("min_severity"))
    ascending = q.choice("order", ("asc", "desc"), "asc") == "asc"
    found = ctx.store.developments(f, q.cursor(2), _limit(q, ctx), ascending=ascending)
    return json_response(page(development_views(ctx.store, found.rows, ctx.catalog),
                              found.next_cursor))


# -- developments, stories, items --------------------------------------------------------------


def search_developments(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, SEARCH | {"min_severity"})
    since, until = _range(q)
    f = Filters(q=_search_text(q), issue=_issue_filter(q, ctx), language=q.text("language", 20),
                source=q.text("source"), since=since, until=until,
                min_severity=q.severity("min_severity"))
    found = ctx.store.developments(f, q.cursor(2), _limit(q, ctx))
    return json_response(page(development_views(ctx.store, found.rows, ctx.catalog),
                              found.next_cursor))


def get_development(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    d = ctx.development(params["development"])
    ids = [d.development_id]
    view = development_view(d, ctx.store.deliveries_of(ids).get(d.development_id, ()),
                            ctx.store.feedback_counts(ids).get(d.development_id), ctx.catalog)
    return json_response(view)


def search_stories(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, SEARCH - {"language"})
    since, until = _range(q)
    f = Filters(q=_search_text(q), issue=_issue_filter(q, ctx), source=q.text("source"),
                since=since, until=until)
    found = ctx.store.stories(f, q.cursor(2), _limit(q, ctx))
    return json_response(page([story_view(r) for r in found.rows], found.next_cursor))


def story_detail(ctx: DeskContext, story_id: str) -> dict[str, Any]:
    row = ctx.store.story(story_id)
    if row is None:
        raise HttpError(404, "unknown_story", f"no story {story_id!r} in the record")
    developments = development_views(ctx.store, ctx.store.story_developments(story_id),
                                     ctx.catalog)
    item_ids = list(dict.fromkeys(i for d in developments for i in d["item_ids"]))
    items = ctx.store.items_by_id(item_ids)
    reports = sorted((item_view(r) for r in items.values()), key=lambda i: i["at"] or "")
    outlets: dict[str, dict[str, Any]] = {}
    for d in developments:
        for s in d["sources"]:
            outlets.setdefault(s["source"], s)
    return {**story_view(row), "developments": developments, "reports": reports,
            "outlets": list(outlets.values())}


def get_story(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    return json_response(story_detail(ctx, params["story"]))


def search_items(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, SEARCH)
    since, until = _range(q)
    f = Filters(q=_search_text(q), issue=_issue_filter(q, ctx), language=q.text("language", 20),
                source=q.text("source"), since=since, until=until)
    found = ctx.store.items(f, q.cursor(1), _limit(q, ctx))
    issues = ctx.store.item_issues([r[1] for r in found.rows])
    return json_response(page([item_view(r, issues.get(r[1], ())) for r in found.rows],
                              found.next_cursor))


def get_item(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    item_id = params["item"]
    row = ctx.store.items_by_id([item_id]).get(item_id)
    if row is None:
        raise HttpError(404, "unknown_item", f"no item {item_id!r} in the record")
    return json_response(item_view(row, ctx.store.item_issues([item_id]).get(item_id, ())))


# -- feedback ----------------------------------------------------------------------------------


def parse_feedback(body: bytes) -> tuple[str, str]:
    """(verdict, note) of a feedback body; HttpError for anything else."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "bad_body", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HttpError(400, "bad_body", "the body must be a JSON object")
    unknown = sorted(set(data) - {"verdict", "note"})
    if unknown:
        raise HttpError(400, "bad_body", f"unknown field {unknown[0]!r} (verdict, note)")
    verdict, note = data.get("verdict"), data.get("note", "")
    if verdict not in VERDICTS:
        raise HttpError(400, "bad_body", f"verdict: one of {', '.join(VERDICTS)}")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise HttpError(400, "bad_body", f"note: a string of at most {MAX_NOTE} characters")
    return str(verdict), note.strip()


def post_feedback(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    ctx.require_write_token(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HttpError(415, "bad_media_type", "send the feedback as application/json")
    verdict, note = parse_feedback(request.body)
    d = ctx.development(params["development"])
    row = ctx.record_feedback(d, verdict, note, via="api")
    return json_response(feedback_view(row), 201)


def list_feedback(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, frozenset({"issue", "development", "cursor", "limit"}))
    found = ctx.store.feedback(_issue_filter(q, ctx), q.text("development", 64), q.cursor(1),
                               _limit(q, ctx))
    return json_response(page([feedback_view(r) for r in found.rows], found.next_cursor))


def feedback_precision(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    return json_response({"items": [
        {"issue_id": issue, "useful": useful, "judged": judged,
         "precision": round(useful / judged, 4) if judged else None}
        for issue, (useful, judged) in sorted(ctx.store.precision_by_issue().items())]})


def list_replays(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, frozenset({"limit"}))
    rows = ctx.store.replays(q.integer("limit", 10, 1, 100))
    return json_response({"items": [replay_view(r) for r in rows]})


def replay_view(row: tuple[Any, ...]) -> dict[str, Any]:
    seq, watchlist, since, at, items, result = row
    return {"replay_id": int(seq), "watchlist": watchlist, "since": iso(since), "at": iso(at),
            "items": int(items), **json.loads(result)}


def get_openapi(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    return json_response(openapi_document())
