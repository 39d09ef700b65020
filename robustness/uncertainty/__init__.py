"""Trust in each prediction: calibrated probabilities, conformal prediction sets, unfamiliar inputs.

Pure arithmetic on any Classifier's logits and labels (fitted on a validation split): no data loading,
no training.
"""
