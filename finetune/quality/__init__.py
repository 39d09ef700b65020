"""Trust in the data and the result: label issues by cross-fitting, near-duplicates across splits, edits a
user feeds back (relabel, drop), and the classical baseline every model is measured against."""
