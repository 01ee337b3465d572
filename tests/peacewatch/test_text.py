"""HTML to text, whitespace and folding: one definition for every stage."""

from __future__ import annotations

from peacewatch.text import clip, collapse, fold, html_to_text, parse_html, words


def test_html_to_text_keeps_paragraphs_drops_hidden_decodes_once() -> None:
    html = ("<div><p>One\n two &amp;amp; three</p><ul><li>a</li><li>b</li></ul>"
            "<script>x()</script><style>p{}</style><p>Four<br/>Five &lt;b&gt;</p></div>")
    assert html_to_text(html) == "One two &amp; three\n\na\n\nb\n\nFour\n\nFive <b>"
    assert parse_html("<title>T</title><h1>H</h1>x")[1:] == ("T", "H")


def test_inline_markup_joins_words_and_block_markup_splits_them() -> None:
    markup = ("<div><p>Talks resume in <b>Riyadh</b>&nbsp;today.</p><script>var x=1;</script>"
              "<ul><li>Envoys meet</li><li>Truce&#8217;s terms</li></ul></div>")
    assert html_to_text(markup) == (
        "Talks resume in Riyadh today.\n\nEnvoys meet\n\nTruce\u2019s terms")


def test_plain_text_keeps_paragraphs_and_decodes_entities() -> None:
    text = "Kyiv &amp; Moscow   agree\n\n  a truce"
    assert html_to_text(text) == "Kyiv & Moscow agree\n\na truce"


def test_collapse_fold_and_words() -> None:
    assert collapse("  a\u00a0 b\u200b\n c ") == "a b c"
    assert fold("\u201cKyiv\u2019s\u201d \u2013 deal") == "\"Kyiv's\" - deal"
    assert words("Kyiv\u2019s TRUCE, re-agreed") == ["kyiv's", "truce", "re-agreed"]


def test_clip_cuts_at_words() -> None:
    assert clip("one two three four", 12) == "one two\u2026"
    assert clip("short", 12) == "short"
