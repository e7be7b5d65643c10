"""Bridge from the torch models to the runtime's ONNX formats."""
