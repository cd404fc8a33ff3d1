"""nslab's tests: unit/ (no root) and integration/ (root, kernel, LXD, notebooks, browser)."""
