"""Sources: what monitor polls (feeds, news searches), how it fetches, parses and dedupes.

Layers, each joined by typed data: ``fetch`` (httpx, bounded) -> ``parse`` (feedparser) ->
``identity`` (who is this item) -> ``poll`` (decide what to record). ``parse`` and
``identity`` do no I/O.
"""
