"""Layer 2, model: what a lab should look like, with no kernel access.

The topology and its validation, routing on the model (computed routes, expected
reachability), route lookups as data, and the bundled topologies.
Imports only from ``core``.
"""
