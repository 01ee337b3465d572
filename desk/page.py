"""The web page, rendered by the server: board, timeline, story, search, replays.

Plain HTML with one local stylesheet and no script: every control is a link or a form, so it
works with a keyboard and a screen reader, and reads on a phone. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode

from desk.api import issue_summary, replay_view, story_detail
from desk.context import DeskContext
from desk.http import (
    HttpError,
    Query,
    Request,
    Response,
    check_form_token,
    encode_cursor,
    form_token,
)
from desk.store.record import VERDICTS, Filters, query_words
from desk.views import SEVERITY_NAMES, development_views, item_view, story_view

HTML = "text/html; charset=utf-8"
VERDICT_LABELS = {"useful": "Useful", "not_new": "Not new", "wrong_issue": "Wrong issue"}
ACTION_LABELS = {"signed": "Signed", "agreed": "Agreed", "rejected": "Rejected",
                 "proposed": "Proposed"}


def e(value: object) -> str:
    return escape(str(value), quote=True)


def when(value: str | None) -> str:
    if not value:
        return ""
    at = datetime.fromisoformat(value)
    return f'<time datetime="{e(value)}">{at:%Y-%m-%d %H:%M}</time>'


def layout(title: str, body: str, *, status: str = "") -> Response:
    notice = f'<p class="notice" role="status">{e(status)}</p>' if status else ""
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · peacewatch</title>
<link rel="stylesheet" href="/static/desk.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<nav aria-label="Main">
<a href="/" class="brand">peacewatch</a>
<a href="/">Board</a>
<a href="/search">Search</a>
<a href="/replays">Watchlist replays</a>
<a href="/api/openapi.json">API</a>
</nav>
</header>
<main id="main">
{notice}
{body}
</main>
</body>
</html>
"""
    return Response(200, html.encode("utf-8"), HTML)


def error_page(err: HttpError) -> Response:
    response = layout(f"Error {err.status}", f"<h1>{e(err.message)}</h1>"
                      f'<p>Error {err.status} ({e(err.code)}). <a href="/">Back to the '
                      "board</a>.</p>")
    response.status = err.status
    response.headers.update(err.headers)
    return response


# -- pieces ------------------------------------------------------------------------------------


def sparkline(counts: Sequence[int], label: str) -> str:
    """Items per week as a small SVG line, with its numbers for a screen reader."""
    width, height = 156, 32
    top = max(counts) or 1
    step = width / max(len(counts) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}"
                      for i, c in enumerate(counts))
    summary = (f"{label}: {sum(counts)} items in the last {len(counts)} weeks of coverage, "
               f"at most {top} in a week")
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{e(summary)}">'
            f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" '
            f'points="{points}"/></svg>')


def severity_badge(name: str) -> str:
    return f'<span class="sev sev-{e(name)}">{e(name)}</span>'


def state_of_play_html(state: list[dict[str, Any]]) -> str:
    if not state:
        return '<p class="muted">Nothing proposed, agreed, signed or rejected yet.</p>'
    rows = []
    for entry in state:
        who = ", ".join(f'{e(p["name"])} <span class="muted">({e(p["last_seen"][:10])})</span>'
                        for p in entry["parties"][:5])
        rows.append(f"<dt>{e(ACTION_LABELS[entry['action']])}</dt><dd>{who}</dd>")
    return f'<dl class="state">{"".join(rows)}</dl>'


def alerted_html(dev: dict[str, Any]) -> str:
    deliveries = dev["deliveries"]
    if not deliveries:
        why = ("it restates the known state (baseline)" if dev["baseline"] else
               "no delivery recorded: no route took it, or its group is still waiting")
        return f'<p class="alerted no">Not alerted: {e(why)}.</p>'
    parts = [f'{e(d["receiver"])} ({e(d["channel"])}): {e(d["status"])} {when(d["at"])}'
             for d in deliveries]
    word = "Alerted" if dev["alerted"] else "Not sent"
    return f'<p class="alerted{"" if dev["alerted"] else " no"}">{word}: {"; ".join(parts)}</p>'


def feedback_form(ctx: DeskContext, dev: dict[str, Any], back: str) -> str:
    did = dev["development_id"]
    token = form_token(ctx.form_secret, did)
    counts = ", ".join(f"{n} {VERDICT_LABELS[v].lower()}" for v, n in dev["feedback"].items()
                       if n)
    buttons = "".join(
        f'<button type="submit" name="verdict" value="{v}" '
        f'aria-label="{e(VERDICT_LABELS[v])}: {e(dev["headline"][:80])}">'
        f"{e(VERDICT_LABELS[v])}</button>" for v in VERDICTS)
    return (f'<form class="feedback" method="post" action="/developments/{e(did)}/feedback">'
            f'<input type="hidden" name="form_token" value="{token}">'
            f'<input type="hidden" name="return" value="{e(back)}">'
            f'<span class="label" id="fb-{e(did)}">Feedback:</span> '
            f'<span role="group" aria-labelledby="fb-{e(did)}">{buttons}</span>'
            f'{f" <span class=muted>({e(counts)})</span>" if counts else ""}</form>')


def development_html(ctx: DeskContext, dev: dict[str, Any], back: str, *,
                     level: int = 3, show_issue: bool = False) -> str:
    did = e(dev["development_id"])
    parties = ", ".join(p["name"] for p in dev["parties"])
    issue = (f' · <a href="/issues/{e(dev["issue_id"])}">{e(dev["issue_id"])}</a>'
             if show_issue else "")
    evidence = "".join(f"<blockquote>{e(q)}</blockquote>" for q in dev["evidence"][:3])
    sources = "".join(
        (f'<li><a href="{e(s["url"])}" rel="noopener noreferrer">{e(s["title"] or s["url"])}'
         f"</a> — {e(s['source'])}" if s["url"] else f"<li>{e(s['source'])}")
        + (f' <span class="cls">{e(s["class_label"])}</span>' if s["class_label"] else "")
        + "</li>" for s in dev["sources"][:8])
    more = len(dev["sources"]) - 8
    return f"""<article class="dev" id="dev-{did}" aria-labelledby="h-{did}">
<h{level} id="h-{did}">{severity_badge(dev["severity"])} {e(dev["headline"])}</h{level}>
<p class="meta">{when(dev["first_seen"])} · {e(dev["kind"].replace("_", " "))} · {e(dev["action"])}
{f" by {e(parties)}" if parties else ""}{issue} ·
<a href="/stories/{e(dev["story_id"])}">story</a>{" · baseline" if dev["baseline"] else ""}</p>
<p class="prov">{e(dev["provenance"]["summary"])}</p>
{f'<div class="evidence" aria-label="Evidence">{evidence}</div>' if evidence else ""}
<ul class="sources" aria-label="Sources">{sources}{_more(more)}</ul>
{alerted_html(dev)}
{feedback_form(ctx, dev, back)}
</article>"""


def _lang(language: str | None) -> str:
    """A lang attribute, so that a screen reader reads a Ukrainian headline in Ukrainian."""
    return f' lang="{e(language)}"' if language else ""


def _more(more: int) -> str:
    return f"<li>and {more} more</li>" if more > 0 else ""


def pager(request: Request, next_cursor: str | None, label: str) -> str:
    if not next_cursor:
        return ""
    params = {k: v[0] for k, v in request.query.items() if k != "cursor"}
    params["cursor"] = next_cursor
    return (f'<nav class="pager" aria-label="Pages"><a href="{e(request.path)}?'
            f'{e(urlencode(params))}">{e(label)}</a></nav>')


# -- pages -------------------------------------------------------------------------------------


def board(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset({"done"}))
    cards = []
    for info in ctx.catalog.with_record(ctx.store.issue_ids()):
        s = issue_summary(ctx, info.id, 3)
        latest = "".join(
            f'<li>{severity_badge(d["severity"])} {when(d["first_seen"])} '
            f'<a href="/issues/{e(info.id)}#dev-{e(d["development_id"])}">{e(d["headline"])}</a>'
            f'<br><span class="prov">{e(d["provenance"]["summary"])}</span></li>'
            for d in s["latest"])
        cards.append(f"""<section class="card" aria-labelledby="card-{e(info.id)}">
<h2 id="card-{e(info.id)}"><a href="/issues/{e(info.id)}">{e(s["name"])}</a></h2>
<p class="counts">{s["developments"]} developments · {s["items"]} items
{sparkline(s["volume"]["counts"], "Items per week")}</p>
<h3>State of play</h3>
{state_of_play_html(s["state_of_play"])}
<h3>Latest developments</h3>
{f'<ol class="latest">{latest}</ol>' if latest else '<p class="muted">None yet.</p>'}
</section>""")
    body = (f'<h1>Board</h1><p class="lede">Each tracked issue: what has been proposed, agreed, '
            f"signed or rejected, by whom, and the latest developments.</p>"
            f'<div class="board">{"".join(cards)}</div>')
    return layout("Board", body, status=_done(request))


def _done(request: Request) -> str:
    done = (request.query.get("done") or [""])[0]
    return f"Thank you: feedback “{VERDICT_LABELS[done]}” recorded." if done in VERDICTS else ""


def _filter_form(action: str, values: dict[str, str], fields: list[str], ctx: DeskContext,
                 *, submit: str = "Filter") -> str:
    inputs = []
    for name in fields:
        value = e(values.get(name, ""))
        if name == "q":
            inputs.append(f'<label>Words <input type="search" name="q" value="{value}" '
                          'autocomplete="off"></label>')
        elif name in ("since", "until"):
            label = "From" if name == "since" else "To"
            inputs.append(f'<label>{label} <input type="date" name="{name}" value="{value}">'
                          "</label>")
        elif name == "min_severity":
            options = "".join(f'<option value="{s}"{" selected" if values.get(name) == s else ""}>'
                              f"{s}</option>" for s in SEVERITY_NAMES)
            inputs.append(f'<label>At least <select name="min_severity"><option value="">any'
                          f"</option>{options}</select></label>")
        elif name == "issue":
            options = "".join(
                f'<option value="{e(i.id)}"{" selected" if values.get(name) == i.id else ""}>'
                f"{e(i.name)}</option>" for i in ctx.catalog.with_record(ctx.store.issue_ids()))
            inputs.append(f'<label>Issue <select name="issue"><option value="">any</option>'
                          f"{options}</select></label>")
        elif name == "what":
            options = "".join(f'<option value="{w}"{" selected" if values.get(name) == w else ""}>'
                              f"{w}</option>" for w in ("developments", "stories", "items"))
            inputs.append(f'<label>Search in <select name="what">{options}</select></label>')
        else:
            label = {"language": "Language", "source": "Source"}[name]
            inputs.append(f'<label>{label} <input type="text" name="{name}" value="{value}">'
                          "</label>")
    return (f'<form class="filters" method="get" action="{e(action)}" role="search">'
            f'{"".join(inputs)}<button type="submit">{e(submit)}</button></form>')


def _values(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in request.query.items() if v}


def timeline(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, frozenset({"since", "until", "min_severity", "source", "cursor",
                                  "done"}))
    issue = ctx.known_issue(params["issue"])
    since, until = q.time("since"), q.time("until", end=True)
    f = Filters(issue=issue, source=q.text("source"), since=since, until=until,
                min_severity=q.severity("min_severity"))
    found = ctx.store.developments(f, q.cursor(2), ctx.settings.desk.page_size, ascending=True)
    back = request.path + ("?" + urlencode(_values(request)) if request.query else "")
    devs = development_views(ctx.store, found.rows, ctx.catalog)
    info = ctx.catalog.issue(issue)
    name = info.name if info else issue
    body = (f"<h1>{e(name)}: timeline</h1>"
            + (f'<p class="lede">{e(info.description)}</p>' if info and info.description else "")
            + _filter_form(request.path, _values(request),
                           ["since", "until", "min_severity", "source"], ctx)
            + (f'<p class="count">{len(devs)} development(s) on this page, oldest first.</p>'
               if devs else '<p class="muted">No developments match.</p>')
            + "".join(development_html(ctx, d, back, level=2) for d in devs)
            + pager(request, encode_cursor(found.next_cursor), "Later developments"))
    return layout(f"{name}: timeline", body, status=_done(request))


def story(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset({"done"}))
    s = story_detail(ctx, params["story"])
    reports = "".join(
        f'<tr><td>{when(r["at"])}</td><td>{e(r["source"])}'
        + (f' <span class="cls">{e(r["class_label"])}</span>' if r["class_label"] else "")
        + f'</td><td>{e(r["language"] or "")}</td><td{_lang(r["language"])}>'
        + (f'<a href="{e(r["url"])}" rel="noopener noreferrer">{e(r["title"])}</a>'
           if r["url"] else e(r["title"])) + "</td></tr>"
        for r in s["reports"])
    outlets = ", ".join(o["source"] + (f" ({o['class_label']})" if o["class_label"] else "")
                        for o in s["outlets"])
    back = request.path
    info = ctx.catalog.issue(s["issue_id"])
    body = (f'<h1>{e(s["headline"])}</h1>'
            f'<p class="meta">Story on <a href="/issues/{e(s["issue_id"])}">'
            f'{e(info.name if info else s["issue_id"])}</a> · '
            f'first seen {when(s["first_seen"])} · last '
            f'{when(s["last_seen"])} · {severity_badge(s["severity"])}</p>'
            f'<p>Outlets: {e(outlets) or "none recorded"}</p>'
            f'<h2>Reports</h2>'
            + (f'<div class="scroll"><table><caption>Every report of this story in the record, '
               f'first seen first</caption><thead><tr><th scope="col">First seen</th>'
               f'<th scope="col">Outlet</th><th scope="col">Language</th>'
               f'<th scope="col">Report</th></tr></thead><tbody>{reports}</tbody></table></div>'
               if reports else '<p class="muted">The reports are not in the record.</p>')
            + "<h2>Developments</h2>"
            + "".join(development_html(ctx, d, back) for d in s["developments"]))
    return layout(s["headline"], body, status=_done(request))


def search(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    q = Query(request, frozenset({"q", "issue", "language", "source", "since", "until",
                                  "what", "cursor", "done"}))
    values = _values(request)
    what = q.choice("what", ("developments", "stories", "items"), "developments")
    text = q.text("q", 300)
    if text is not None and not query_words(text):
        raise HttpError(400, "bad_query", "no words to search for")
    issue = q.text("issue", 64)
    if issue:
        ctx.known_issue(issue)
    f = Filters(q=text, issue=issue, language=q.text("language", 20),
                source=q.text("source"), since=q.time("since"), until=q.time("until", end=True))
    form = _filter_form("/search", values, ["q", "what", "issue", "language", "source",
                                            "since", "until"], ctx, submit="Search")
    results = ""
    if values.keys() - {"what", "done"}:
        results = _results(request, ctx, what, f, q)
    body = f"<h1>Search</h1>{form}{results}"
    return layout("Search", body, status=_done(request))


def _results(request: Request, ctx: DeskContext, what: str, f: Filters, q: Query) -> str:
    limit = ctx.settings.desk.page_size
    back = request.path + "?" + urlencode(_values(request))
    if what == "developments":
        found = ctx.store.developments(f, q.cursor(2), limit)
        devs = development_views(ctx.store, found.rows, ctx.catalog)
        listing = "".join(development_html(ctx, d, back, show_issue=True) for d in devs)
        n = len(devs)
    elif what == "stories":
        found = ctx.store.stories(f, q.cursor(2), limit)
        stories = [story_view(r) for r in found.rows]
        listing = "<ul class='results'>" + "".join(
            f'<li>{severity_badge(s["severity"])} <a href="/stories/{e(s["story_id"])}">'
            f'{e(s["headline"])}</a> <span class="muted">{e(s["issue_id"])}, first seen '
            f'{when(s["first_seen"])}, {s["developments"]} development(s)</span></li>'
            for s in stories) + "</ul>"
        n = len(stories)
    else:
        found = ctx.store.items(f, q.cursor(1), limit)
        issues = ctx.store.item_issues([r[1] for r in found.rows])
        items = [item_view(r, issues.get(r[1], ())) for r in found.rows]
        listing = "<ul class='results'>" + "".join(
            f"<li><span{_lang(i['language'])}>"
            + (f'<a href="{e(i["url"])}" rel="noopener noreferrer">{e(i["title"])}</a>'
               if i["url"] else e(i["title"])) + "</span>"
            + f' <span class="muted">{e(i["source"])}, {e(i["language"] or "")}, '
            f'{when(i["at"])}; issues: '
            f'{e(", ".join(x["issue_id"] for x in i["issues"]) or "none")}</span></li>'
            for i in items) + "</ul>"
        n = len(items)
    heading = f'<h2 id="results">{n} {e(what)}{" (first page)" if found.next_cursor else ""}</h2>'
    return (f'<section aria-labelledby="results">{heading}'
            f'{listing if n else "<p>Nothing matches.</p>"}'
            f'{pager(request, encode_cursor(found.next_cursor), "More results")}</section>')


def replays(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    Query(request, frozenset())
    runs = [replay_view(r) for r in ctx.store.replays(10)]
    sections = []
    for run in runs:
        rows = "".join(
            f'<tr><th scope="row">{e(issue)}</th><td>{len(c["added"])}</td>'
            f'<td>{len(c["removed"])}</td><td>{_examples(c)}</td></tr>'
            for issue, c in sorted(run["issues"].items()))
        sections.append(
            f'<section><h2>{e(run["watchlist"])}, {when(run["at"])}</h2>'
            f'<p>{run["items"]} items of the record'
            f'{" since " + when(run["since"]) if run["since"] else ""}; developments with the '
            f'current watchlist: {run["before"]}, with this one: {run["after"]}.</p>'
            f'<div class="scroll"><table><caption>Developments the change adds and removes, per '
            f'issue</caption><thead><tr><th scope="col">Issue</th><th scope="col">Added</th>'
            f'<th scope="col">Removed</th><th scope="col">For example</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></section>")
    body = ("<h1>Watchlist replays</h1><p class='lede'>Run <code>peacewatch replay --watchlist "
            "NEW.toml</code> to see what a changed watchlist would add and remove, before it "
            "alerts anyone.</p>" + ("".join(sections) or "<p class='muted'>No replay yet.</p>"))
    return layout("Watchlist replays", body)


def _examples(change: dict[str, Any]) -> str:
    shown = [f"+ {h}" for h in change["added"][:2]] + [f"− {h}" for h in change["removed"][:2]]
    return "<br>".join(e(s) for s in shown)


# -- forms -------------------------------------------------------------------------------------


def post_feedback(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    """The page's feedback buttons: a form signed by this server, then back where it was."""
    form = parse_qs(request.body.decode("utf-8", "replace"), max_num_fields=10)
    development_id = params["development"]
    given = form.get("form_token") or [""]
    if not check_form_token(ctx.form_secret, development_id, given[0]):
        raise HttpError(403, "bad_form_token", "this form was not given by this server; "
                        "reload the page and try again")
    verdict = (form.get("verdict") or [""])[0]
    if verdict not in VERDICTS:
        raise HttpError(400, "bad_body", f"verdict: one of {', '.join(VERDICTS)}")
    d = ctx.development(development_id)
    ctx.record_feedback(d, verdict, "", via="page")
    back = (form.get("return") or ["/"])[0]
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    path, _, query = back.partition("?")
    kept = {k: v[0] for k, v in parse_qs(query).items() if k != "done"}
    kept["done"] = verdict
    location = f"{path}?{urlencode(kept)}#dev-{development_id}"
    return Response(303, b"", HTML, {"Location": location})


def login(request: Request, params: dict[str, str], ctx: DeskContext) -> Response:
    """Reads need a token on this server: enter it once, kept as a cookie."""
    if request.method == "POST":
        form = parse_qs(request.body.decode("utf-8", "replace"), max_num_fields=5)
        token = (form.get("token") or [""])[0]
        return Response(303, b"", HTML, {
            "Location": "/",
            "Set-Cookie": f"peacewatch_token={token}; HttpOnly; SameSite=Strict; Path=/"})
    body = ('<h1>Token needed</h1><form method="post" action="/login"><label>Read token '
            '<input type="password" name="token" autocomplete="current-password"></label>'
            '<button type="submit">Open the board</button></form>')
    response = layout("Token needed", body)
    response.status = 401
    return response
