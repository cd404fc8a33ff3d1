"""Tests that need no root, no kernel changes, no daemon: the model, parsing, rendering, the simulation."""
