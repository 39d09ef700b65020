"""Model selection: compare candidates, tune one with Optuna, recommend from the data and a budget."""
