"""Documents to items: titles, text, encodings, ids and content hashes; folders with bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collectors.documents import DocumentError, DocumentSource, decode_document, read_document

NOW = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)


def doc(data: bytes, name: str = "a.txt", *, baseline: bool = False, folder: str = "docs"):
    return read_document(data, relative_path=name, folder_name=folder, baseline=baseline,
                         fetched_at=NOW)


def test_plain_text_title_is_first_line_and_summary_the_next():
    item = doc(b"\n  Talks resume in Riyadh  \nDelegations met for twelve hours.\nMore text.\n")
    assert item.title == "Talks resume in Riyadh"
    assert item.summary == "Delegations met for twelve hours."
    assert item.content.startswith("Talks resume in Riyadh\nDelegations met")
    assert item.source_kind == "document" and not item.baseline and item.revision == 0


def test_markdown_heading_is_title_and_markup_is_removed():
    item = doc(b"Intro line\n\n# Energy ceasefire\n\nA **30-day** pause, see [the text](http://x.test/a).\n",
               "notes/energy.md")
    assert item.title == "Energy ceasefire"
    assert "A 30-day pause, see the text." in item.content
    assert "**" not in item.content and "](" not in item.content


def test_html_title_scripts_dropped_entities_decoded():
    html = (b"<html><head><title>Black Sea deal &amp; shipping</title><style>p{}</style>"
            b"<script>var x = 1;</script></head><body><h1>Heading</h1><p>Safe\n passage"
            b" &lt;agreed&gt;</p><p>Second</p></body></html>")
    item = doc(html, "page.html")
    assert item.title == "Black Sea deal & shipping"
    assert item.content == "Heading\n\nSafe passage <agreed>\n\nSecond"
    assert "var x" not in item.content and "p{}" not in item.content


def test_html_without_title_uses_heading_and_without_either_the_first_line():
    assert doc(b"<body><h2>Minerals deal</h2><p>x</p></body>", "b.html").title == "Minerals deal"
    assert doc(b"<p>Only a paragraph</p>", "c.htm").title == "Only a paragraph"


def test_empty_document_is_an_error_and_file_name_is_never_needed_for_nonempty():
    try:
        doc(b"  \n\n ")
    except ValueError as exc:
        assert "no text" in str(exc)
    else:
        raise AssertionError("an empty document must be refused")


def test_encodings_bom_utf16_and_cp1252_fallback():
    assert decode_document("Київ".encode("utf-8-sig"), "text") == "Київ"
    assert decode_document("Київ talks".encode("utf-16"), "text") == "Київ talks"
    assert decode_document("café – 5 €".encode("cp1252"), "text") == "café – 5 €"
    koi = '<meta charset="koi8-r"><p>Москва</p>'.encode("koi8-r")
    assert "Москва" in decode_document(koi, "html")


def test_id_depends_on_folder_and_path_hash_on_normalised_text():
    a = doc(b"Title\nBody text", "x/a.txt")
    same_text_respaced = doc(b"Title  \n\n Body   text\n", "x/a.txt")
    other_path = doc(b"Title\nBody text", "x/b.txt")
    other_folder = doc(b"Title\nBody text", "x/a.txt", folder="other")
    edited = doc(b"Title\nBody text, edited", "x/a.txt")
    assert a.item_id == same_text_respaced.item_id
    assert a.content_hash == same_text_respaced.content_hash
    assert len({a.item_id, other_path.item_id, other_folder.item_id}) == 3
    assert edited.item_id == a.item_id and edited.content_hash != a.content_hash


def test_baseline_documents_are_seed_kind():
    item = doc(b"Known state\nText", baseline=True, folder="seeds")
    assert item.source_kind == "seed" and item.baseline and item.source == "seed:seeds"


def test_folder_scan_values_and_errors(tmp_path: Path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("First\nbody", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("# Second\nbody", encoding="utf-8")
    (folder / "c.html").write_text("<p></p>", encoding="utf-8")  # no text: an error
    (folder / "big.txt").write_bytes(b"x" * 5000)  # over the limit below: an error
    (folder / "image.png").write_bytes(b"\x89PNG")  # not a document: ignored
    (folder / ".hidden.txt").write_text("Hidden\nx", encoding="utf-8")  # ignored
    results = DocumentSource(folder, baseline=False, max_bytes=4096).scan(NOW)
    items = {r.title: r for r in results if not isinstance(r, DocumentError)}
    errors = {r.path.name: r.error for r in results if isinstance(r, DocumentError)}
    assert set(items) == {"First", "Second"}
    assert items["First"].url == (folder / "a.txt").resolve().as_uri()
    assert set(errors) == {"c.html", "big.txt"}
    assert "over the 4096" in errors["big.txt"]


def test_missing_folder_is_one_error(tmp_path: Path):
    results = DocumentSource(tmp_path / "nope", baseline=False, max_bytes=4096).scan(NOW)
    assert len(results) == 1 and isinstance(results[0], DocumentError)
    assert "does not exist" in results[0].error
