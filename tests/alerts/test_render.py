"""Slack payloads stay within Block Kit limits whatever the content; text and HTML escape."""

from __future__ import annotations

from alertkit import T0, block_kit_violations, make_dev

from alerts.notification import make_notification
from alerts.render import clip, fit_escaped, html_text, plain_text, slack_payload
from peacewatch.models import SourceRef


def note(devs: tuple, kind: str = "alert"):  # type: ignore[no-untyped-def,type-arg]
    return make_notification(receiver="ops", route="default", group="issue=black-sea",
                             kind=kind, developments=devs, now=T0)  # type: ignore[arg-type]


def test_a_normal_message_has_header_fallback_sources_and_evidence() -> None:
    payload = slack_payload(note((make_dev(1, sources=("Reuters", "AP", "BBC", "DW")),)))
    assert block_kit_violations(payload) == []
    assert payload["text"].startswith("New on black-sea: Test development 1")
    section = payload["blocks"][1]["text"]["text"]
    assert "Severity: *proposed*" in section and "4 sources" in section
    assert "<https://news.example/reuters/1|Reuters report 1> (Reuters)" in section
    assert "and 1 more" in section  # the first three sources are shown
    assert "> The parties set out terms" in section


def test_huge_content_is_trimmed_cleanly_never_over_the_limits() -> None:
    long_words = " ".join(["negotiation"] * 2000)
    devs = tuple(make_dev(i, headline="H" * 400 + " & <b>" + long_words,
                          evidence=(long_words + " <script>&",),
                          sources=tuple(f"Outlet{j}" for j in range(40)))
                 for i in range(120))
    payload = slack_payload(note(devs))
    assert block_kit_violations(payload) == []
    assert len(payload["blocks"]) == 50
    assert "…and 96 more developments" in payload["blocks"][-2]["text"]["text"]
    for block in payload["blocks"]:
        text = block.get("text", {}).get("text", "")
        # Escaping is never cut in half, and raw control characters never leak.
        assert "<script>" not in text and "&am…" not in text and "&lt…" not in text


def test_follow_up_is_marked_as_an_update() -> None:
    payload = slack_payload(note((make_dev(2, kind="change"),), kind="follow_up"))
    assert payload["blocks"][0]["text"]["text"].startswith("Update on black-sea")
    assert "*Update: Test development 2" in payload["blocks"][1]["text"]["text"]


def test_clip_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    assert clip("the quick brown fox jumps", 12) == "the quick…"
    assert len(clip("x" * 500, 150)) == 150


def test_fit_escaped_respects_the_budget_after_escaping() -> None:
    text = "&" * 1000
    out = fit_escaped(text, 3000)
    assert len(out) <= 3000 and out.endswith("…") and "&amp;" in out


def test_text_and_html_parts_escape_and_carry_the_facts() -> None:
    dev = make_dev(5, headline="Talks <resume> & go on")
    n = note((dev,))
    assert "Talks <resume> & go on" in plain_text(n)
    html = html_text(n)
    assert "Talks &lt;resume&gt; &amp; go on" in html
    assert 'href="https://news.example/reuters/5"' in html


def test_every_channel_shows_provenance_and_source_classes() -> None:
    dev = make_dev(1).model_copy(update={"sources": (
        SourceRef(source="TASS - English", url="https://tass.example/1", title="Deal",
                  source_class="state_media"),
        SourceRef(source="NATO - News", url="https://nato.example/1", title="Statement",
                  source_class="official"))})
    n = note((dev,))
    line = "1 independent outlet; 1 state media; confirmed by an official source (NATO - News)"
    slack = str(slack_payload(n))
    assert line in slack and "TASS - English, state media" in slack
    assert line in plain_text(n) and "NATO - News, official" in plain_text(n)
    assert line in html_text(n)
