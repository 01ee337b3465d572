"""processors: normalise, deduplicate and classify raw items; detect new developments.

Decisions are pure and live in small modules over plain data: ``text`` (sentences, language,
canonical titles), ``rules`` (the watchlist's reading), ``model`` (the learned layer),
``classify`` (both as one judgement: issues, evidence, kind), ``dedup`` (MinHash
near-duplicates), ``entities`` (actors, places and things in five languages), ``actions``
(what happened: severity and parties), ``stories`` (stories and developments) and ``evaluate``
(precision/recall). I/O lives in thin runners: ``runner`` and ``stage`` (the bus: the classify
and stories steps), ``state`` (SQLite), ``train`` (fitting the model), ``replay`` (a stream
through the pipeline on item time) and the CLI modules (``peacewatch classify | eval | train |
timeline``).
"""
