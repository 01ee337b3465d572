"""processors: normalise, deduplicate and classify raw items; detect new developments.

Decisions are pure and live in small modules over plain data: ``text`` (normalisation),
``classify`` (``IssueClassifier``), ``dedup`` (exact keys and MinHash near-duplicates),
``actions`` (what happened: severity and parties), ``stories`` (clustering and development
decisions) and ``evaluate`` (precision/recall). I/O lives in thin runners: ``runner`` and
``stage`` (the bus: the classify and stories steps), ``state`` (SQLite) and ``cli``
(``peacewatch classify | eval | timeline``).
"""
