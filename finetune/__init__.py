"""Floor 3: data, splits, preprocessing, training recipes, evaluation."""
