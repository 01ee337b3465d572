"""The OpenAPI 3.1 document of the desk's JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from peacewatch import __version__

_ERROR = {"$ref": "#/components/responses/Error"}
_CURSOR = {"name": "cursor", "in": "query", "schema": {"type": "string"},
           "description": "next_cursor of the previous page"}
_LIMIT = {"name": "limit", "in": "query",
          "schema": {"type": "integer", "minimum": 1, "maximum": 200}}


def _q(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": "string", **schema}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


_SINCE = _q("since", "from this date (YYYY-MM-DD) or time (ISO 8601 with a zone)")
_UNTIL = _q("until", "up to this date (inclusive) or time")
_SEVERITY = _q("min_severity", "at least this severity",
               enum=["mentioned", "discussed", "proposed", "rejected", "agreed", "signed"])
_SEARCH = [_q("q", "words to search for (full text; all must match)"),
           _q("issue", "an issue id"), _q("language", "a language (en, uk, ru ...)"),
           _q("source", "an outlet, as its feed is named"), _SINCE, _UNTIL, _CURSOR, _LIMIT]


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"200": {"description": description, "headers": {"ETag": {
        "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
        "304": {"description": "not modified (If-None-Match matched the ETag)"},
        "400": _ERROR, "401": _ERROR, "404": _ERROR}


def _get(summary: str, schema: str, params: list[dict[str, Any]], op: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": op, "parameters": params,
                    "responses": _ok(schema)}}


def _page(of: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{of}"}},
        "next_cursor": {"type": ["string", "null"]}}}


_OBJ: dict[str, Any] = {"type": "object"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "status"],
        "properties": {"code": _STR, "message": _STR, "status": {"type": "integer"}}}}},
    "Source": {"type": "object", "properties": {
        "source": _STR, "url": _NSTR, "title": _NSTR, "class_label": _NSTR,
        "source_class": {"type": ["string", "null"], "enum": [
            "official", "wire", "newspaper", "broadcaster", "think_tank", "state_media", None]}}},
    "Development": {"type": "object", "required": [
        "development_id", "issue_id", "story_id", "headline", "severity", "evidence", "sources",
        "provenance", "alerted", "deliveries", "feedback"], "properties": {
        "development_id": _STR, "issue_id": _STR, "story_id": _STR,
        "kind": {"type": "string", "enum": ["new_story", "change"]}, "headline": _STR,
        "severity": _STR, "severity_level": {"type": "integer"}, "action": _STR,
        "parties": {"type": "array", "items": _OBJ},
        "first_seen": {"type": "string", "format": "date-time"},
        "detected_at": {"type": "string", "format": "date-time"}, "baseline": {"type": "boolean"},
        "evidence": {"type": "array", "items": _STR},
        "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}},
        "provenance": {"type": "object", "properties": {
            "independent_outlets": {"type": "integer"},
            "state_media_outlets": {"type": "integer"},
            "official_sources": {"type": "array", "items": _STR},
            "officially_confirmed": {"type": "boolean"}, "summary": _STR}},
        "alerted": {"type": "boolean"},
        "deliveries": {"type": "array", "items": _OBJ},
        "feedback": {"type": "object", "additionalProperties": {"type": "integer"}},
        "item_ids": {"type": "array", "items": _STR}}},
    "Issue": {"type": "object", "required": ["issue_id", "name", "state_of_play", "latest"],
              "properties": {
        "issue_id": _STR, "name": _STR, "description": _STR,
        "developments": {"type": "integer"}, "items": {"type": "integer"},
        "state_of_play": {"type": "array", "items": _OBJ},
        "latest": {"type": "array", "items": {"$ref": "#/components/schemas/Development"}},
        "volume": _OBJ}},
    "IssueList": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Issue"}}}},
    "Story": {"type": "object", "required": ["story_id", "issue_id", "headline"], "properties": {
        "story_id": _STR, "issue_id": _STR, "headline": _STR, "first_seen": _STR,
        "last_seen": _STR, "severity": _STR, "developments": {"type": "integer"}}},
    "StoryDetail": {"allOf": [{"$ref": "#/components/schemas/Story"}, {
        "type": "object", "properties": {
            "developments": {"type": "array",
                             "items": {"$ref": "#/components/schemas/Development"}},
            "reports": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "outlets": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}}}}]},
    "Item": {"type": "object", "required": ["item_id", "source", "title"], "properties": {
        "item_id": _STR, "source": _STR, "source_class": _NSTR, "url": _NSTR, "title": _STR,
        "summary": _STR, "language": _NSTR, "published_at": _NSTR, "at": _NSTR,
        "kind": _NSTR, "issues": {"type": "array", "items": _OBJ}}},
    "FeedbackIn": {"type": "object", "required": ["verdict"], "additionalProperties": False,
                   "properties": {
        "verdict": {"type": "string", "enum": ["useful", "not_new", "wrong_issue"]},
        "note": {"type": "string", "maxLength": 1000}}},
    "Feedback": {"type": "object", "properties": {
        "feedback_id": {"type": "integer"}, "development_id": _STR, "issue_id": _STR,
        "verdict": _STR, "note": _STR, "via": _STR, "at": _STR}},
    "Precision": {"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {
            "issue_id": _STR, "useful": {"type": "integer"}, "judged": {"type": "integer"},
            "precision": {"type": ["number", "null"]}}}}}},
    "Replays": {"type": "object", "properties": {"items": {"type": "array", "items": _OBJ}}},
    "DevelopmentPage": _page("Development"),
    "StoryPage": _page("Story"),
    "ItemPage": _page("Item"),
    "FeedbackPage": _page("Feedback"),
}


def openapi_document() -> dict[str, Any]:
    issue = _path("issue", "an issue id (see /api/issues)")
    paths: dict[str, Any] = {
        "/api/openapi.json": {"get": {"summary": "this document", "operationId": "openapi",
                                      "responses": {"200": {"description": "OpenAPI 3.1",
                                                            "content": {"application/json": {
                                                                "schema": _OBJ}}}}}},
        "/api/issues": _get("every issue with its state of play", "IssueList", [],
                            "listIssues"),
        "/api/issues/{issue}": _get("one issue's state of play, latest developments and "
                                    "volume", "Issue", [issue], "getIssue"),
        "/api/issues/{issue}/timeline": _get(
            "an issue's developments in time order", "DevelopmentPage",
            [issue, _SINCE, _UNTIL, _SEVERITY, _q("source", "an outlet"),
             _q("order", "oldest (asc, default) or newest (desc) first", enum=["asc", "desc"]),
             _CURSOR, _LIMIT], "getTimeline"),
        "/api/developments": _get("search developments (newest first)", "DevelopmentPage",
                                  [*_SEARCH, _SEVERITY], "searchDevelopments"),
        "/api/developments/{development}": _get(
            "one development", "Development", [_path("development", "a development id")],
            "getDevelopment"),
        "/api/stories": _get("search stories (newest first)", "StoryPage",
                             [p for p in _SEARCH if p["name"] != "language"], "searchStories"),
        "/api/stories/{story}": _get("one story: its developments, reports and outlets",
                                     "StoryDetail", [_path("story", "a story id")], "getStory"),
        "/api/items": _get("search items (newest recorded first)", "ItemPage", _SEARCH,
                           "searchItems"),
        "/api/items/{item}": _get("one item", "Item", [_path("item", "an item id")], "getItem"),
        "/api/feedback": _get("feedback given (newest first)", "FeedbackPage",
                              [_q("issue", "an issue id"),
                               _q("development", "a development id"), _CURSOR, _LIMIT],
                              "listFeedback"),
        "/api/feedback/precision": _get("per issue, the share of judged developments that "
                                        "were useful", "Precision", [], "feedbackPrecision"),
        "/api/replays": _get("the latest watchlist replays", "Replays",
                             [{"name": "limit", "in": "query", "schema": {
                                 "type": "integer", "minimum": 1, "maximum": 100}}],
                             "listReplays"),
    }
    paths["/api/developments/{development}/feedback"] = {"post": {
        "summary": "give feedback on a development", "operationId": "postFeedback",
        "security": [{"bearer": []}],
        "parameters": [_path("development", "a development id")],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/FeedbackIn"}}}},
        "responses": {"201": {"description": "stored", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Feedback"}}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "411": _ERROR,
            "413": _ERROR, "415": _ERROR}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "peacewatch desk", "version": __version__,
                 "description": "The record of what peacewatch read and decided about the "
                 "Russia-Ukraine peace negotiations: issues and their state of play, "
                 "timelines, developments, stories, items, and feedback. Pages are "
                 "cursor-paginated and answers carry ETags. Writes need a bearer token; "
                 "reads too when the server is configured so."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": {"description": "refused, with the reason", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
