"""Data sources (registered as ``dataset`` plugins), splits and preprocessing."""
