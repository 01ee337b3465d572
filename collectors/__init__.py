"""collectors: feeds and documents in, raw items on the ``items.raw`` topic out.

Modules, from the outside in:

- ``stage``      the pipeline stage (``build(ctx)``): documents first, then the feeds it owns
- ``directory``  the feed list on the ``feeds`` topic, and partition ownership in the group
- ``scheduler``  apscheduler jobs that say when each feed is due
- ``poller``     one poll of one feed: fetch, parse, items - always a result, never a raise
- ``fetch``      HTTP (httpx) and file fetching with every limit; ``safety``: address policy
- ``parsing``    which parser: ``fastparse`` (plain RSS 2.0), ``jsonfeed``, else feedparser
- ``entries``    feedparser entries to ``Entry`` values to ``RawItem`` events
- ``identity``   item ids and content hashes; ``text``: HTML to text
- ``health``     pure scheduling decisions (backoff, Retry-After, adaptive interval, 410)
- ``sink``, ``state``  publish once: the published-items store and feed health (SQLite)
- ``documents``  folders of .txt/.md/.html files as items; ``feedlist``: seeds/feeds.toml
- ``cli``, ``check``  ``peacewatch feeds ...`` and ``peacewatch check``
- ``package``    the collectors as the core sees them (the ``peacewatch.stages`` entry point)
"""
