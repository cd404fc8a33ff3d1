"""Layer 1, core: plain data and the vocabulary every other layer shares.

Errors, steps and reports, kernel state and probe results as data, the ownership
ledger's file format.  Imports nothing from nslab but this layer.
"""
