"""Training recipes: supervised fine-tuning (more recipes arrive with the model zoo)."""
