"""Tests on the real kernel, the real LXD daemon, Jupyter and Chromium (root; under CI=true nothing is skipped)."""
