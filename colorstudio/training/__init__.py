"""Training: datasets, hint simulation, training loops, checkpoints."""
