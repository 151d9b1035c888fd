"""The partnership observatory: per-work tables first, indicator families as aggregates over them.

Read in this order: ``query`` (what is asked), ``pipeline`` (the per-work SQL steps, one table each),
``families`` (one aggregate query per family), ``engines`` (DuckDB, or Spark through SQLGlot),
``growth`` (CAGR, Poisson slope and bootstrap, in Python from the per-work table), ``run`` (ties it
together and attaches metadata to each Arrow table).
"""
