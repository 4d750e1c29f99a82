"""Data shipped with exactnet (see examples/train_moons_classifier.py)."""
