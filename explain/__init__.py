"""Floor 2: attributions, attribution metrics and reports for any Classifier (see the explain issue)."""
