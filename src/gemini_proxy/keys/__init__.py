"""The key pool: which Gemini key serves each request, and what every outcome teaches it.

Pure core (time and randomness passed in, no I/O, no logging):
``outcome`` and ``classify`` (what an upstream response means), ``pacific`` (daily quota
resets), ``breaker``, ``backoff``, ``health``, ``limits`` (rpm/rpd/tpm windows),
``scheduler`` and ``ready`` (O(log n) key choice).

Orchestration ring (synchronous, safe on the event loop): ``model`` (``KeySpec``, ids,
masks), ``state`` and ``registry`` (per-key state and availability), ``policy``,
``events``, ``views``, ``snapshot`` (persistence records), ``pool`` (``KeyPool``), and
``prober`` (the background loop re-testing disabled keys).
"""
