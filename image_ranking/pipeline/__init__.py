"""The ranking pipeline, one stage per module, in the order a POI goes through them.

gather (``gather.py``: candidates from the cache or Commons/Wikidata, saved) ->
judge (``judge.py``: does the file show this POI? evidence recorded) ->
score (``score.py``: thumbnails scored once per file and scorer version) ->
decide (``decide.py``: keep, replace or nothing; pure functions) ->
store (``store.py``: the winner's bytes stored, the Validation, the fallback).
``ranker.py`` runs them for one POI and for batches; ``image_ranking.ranking``
is the public facade.
"""
