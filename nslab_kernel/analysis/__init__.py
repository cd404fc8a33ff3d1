"""Layer 5, analysis: judging a live lab against its topology.

``explain`` (why A cannot reach B), ``checker`` (grading) and ``doctor`` (is this
machine ready).  They read state through a backend and never need a Lab.
Imports from core, model, kernel and backends.
"""
