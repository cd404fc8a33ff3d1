"""Layer 6, lifecycle: a lab brought up, used and taken down; the notebook session; the kernelspec.

Imports from every layer below (core, model, kernel, backends, analysis).
"""
