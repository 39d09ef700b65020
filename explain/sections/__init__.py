"""The sections of the explanation report, one kind per module, each built from a bundle and tensors."""
