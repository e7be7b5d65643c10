"""Training data: real-dataset loaders and the semi-synthetic set built from real photos."""
