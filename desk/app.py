"""The desk's routes, and the one place a request is checked, answered and counted.

``DeskApp.handle`` never raises: a refusal (``HttpError``) becomes a 4xx JSON error on the API
and a short page elsewhere; an unexpected failure is logged and answered 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from desk import api, page
from desk.context import DeskContext
from desk.http import HttpError, Request, Response, error_body, json_response, with_etag
from peacewatch.errors import PeacewatchError

log = logging.getLogger("peacewatch.desk")
Route = Callable[[Request, dict[str, str], DeskContext], Response]
_ID = r"(?P<{}>[A-Za-z0-9][A-Za-z0-9._:~-]{{0,199}})"


@dataclass(frozen=True)
class RouteSpec:
    method: str
    pattern: re.Pattern[str]
    name: str  # a bounded label for metrics
    handler: Route
    writes: bool = False


def _r(method: str, path: str, name: str, handler: Route, *, writes: bool = False) -> RouteSpec:
    regex = re.sub(r"\{(\w+)\}", lambda m: _ID.format(m.group(1)), path)
    return RouteSpec(method, re.compile(f"^{regex}$"), name, handler, writes)


ROUTES = (
    _r("GET", "/api/openapi.json", "api_openapi", api.get_openapi),
    _r("GET", "/api/issues", "api_issues", api.list_issues),
    _r("GET", "/api/issues/{issue}", "api_issue", api.get_issue),
    _r("GET", "/api/issues/{issue}/timeline", "api_timeline", api.timeline),
    _r("GET", "/api/developments", "api_developments", api.search_developments),
    _r("GET", "/api/developments/{development}", "api_development", api.get_development),
    _r("POST", "/api/developments/{development}/feedback", "api_feedback_post",
       api.post_feedback, writes=True),
    _r("GET", "/api/stories", "api_stories", api.search_stories),
    _r("GET", "/api/stories/{story}", "api_story", api.get_story),
    _r("GET", "/api/items", "api_items", api.search_items),
    _r("GET", "/api/items/{item}", "api_item", api.get_item),
    _r("GET", "/api/feedback", "api_feedback", api.list_feedback),
    _r("GET", "/api/feedback/precision", "api_precision", api.feedback_precision),
    _r("GET", "/api/replays", "api_replays", api.list_replays),
    _r("GET", "/", "page_board", page.board),
    _r("GET", "/issues/{issue}", "page_timeline", page.timeline),
    _r("GET", "/stories/{story}", "page_story", page.story),
    _r("GET", "/search", "page_search", page.search),
    _r("GET", "/replays", "page_replays", page.replays),
    _r("POST", "/developments/{development}/feedback", "page_feedback", page.post_feedback,
       writes=True),
)
STYLESHEET = resources.files("desk").joinpath("static/desk.css").read_bytes()


class DeskApp:
    def __init__(self, ctx: DeskContext) -> None:
        self.ctx = ctx

    def handle(self, request: Request) -> Response:
        name = "unmatched"
        try:
            route, params = self._route(request)
            name = route.name if route is not None else name
            response = self._answer(request, route, params)
        except HttpError as err:
            response = self._refusal(request, err)
        except PeacewatchError as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            response = self._refusal(request, HttpError(503, "record_unavailable",
                                                        "the record cannot be read just now"))
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = self._refusal(request, HttpError(500, "internal", "internal error"))
        self.ctx.metrics.desk_requests.labels(route=name, code=str(response.status)).inc()
        return response

    def _route(self, request: Request) -> tuple[RouteSpec | None, dict[str, str]]:
        if request.path in ("/healthz", "/static/desk.css", "/login"):
            return None, {}
        allowed = []
        for route in ROUTES:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if route.method == request.method:
                return route, match.groupdict()
            allowed.append(route.method)
        if allowed:
            raise HttpError(405, "method_not_allowed", f"{request.method} is not allowed here",
                            {"Allow": ", ".join(sorted(set(allowed)))})
        raise HttpError(404, "not_found", f"nothing at {request.path}")

    def _answer(self, request: Request, route: RouteSpec | None,
                params: dict[str, str]) -> Response:
        if route is None:
            return self._fixed(request)
        if not self.ctx.can_read(request):
            if request.path.startswith("/api/"):
                raise HttpError(401, "token_required", "reads need the read token",
                                {"WWW-Authenticate": 'Bearer realm="peacewatch"'})
            return page.login(Request("GET", "/login", {}, {}), {}, self.ctx)
        if route.writes:
            self._check_body(request)
        return with_etag(request, route.handler(request, params, self.ctx))

    def _fixed(self, request: Request) -> Response:
        if request.path == "/healthz":
            return json_response({"status": "ok"})
        if request.path == "/login":
            if request.method == "POST":
                self._check_body(request)
            return page.login(request, {}, self.ctx)
        response = Response(200, STYLESHEET, "text/css; charset=utf-8",
                            {"Cache-Control": "max-age=3600"})
        return with_etag(request, response)

    def _check_body(self, request: Request) -> None:
        if len(request.body) > self.ctx.settings.desk.max_body_bytes:
            raise HttpError(413, "body_too_large", f"the body is larger than "
                            f"{self.ctx.settings.desk.max_body_bytes} bytes")

    @staticmethod
    def _refusal(request: Request, err: HttpError) -> Response:
        if request.path.startswith("/api/") or request.path == "/healthz":
            return json_response(error_body(err), err.status, err.headers)
        return page.error_page(err)
