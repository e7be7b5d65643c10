"""Evaluation protocol of seed 000 §4: privacy, physiological utility, fidelity, speed."""
