"""Floor 2: attacks, audits and robustness metrics for any Classifier (image attacks so far)."""
