"""Adapter plugins: which parameters train, at which rates (``base.py``: the contract; one file each)."""
