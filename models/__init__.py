"""Torch training/research side of deid-vcam: the AE, frozen judges, losses, training."""
