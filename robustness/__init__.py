"""Floor 2: attacks, audits and robustness metrics for any Classifier (see the robustness issue)."""
