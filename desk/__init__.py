"""The analyst's desk: the record of what peacewatch read and decided, its JSON API and web page,
feedback on developments, and trying a watchlist on the record before it alerts anyone.

A stage package like the others: it imports ``peacewatch``, never another stage. Where it needs
the processors' judgement (``peacewatch replay``) it asks ``peacewatch.trial`` for it, which
finds it as an entry point.
"""
