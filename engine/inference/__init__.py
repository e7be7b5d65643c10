"""Running networks: onnxruntime sessions and backend choice (``backends``), the streaming AE
(``streaming_model``) and the TensorRT backend (``tensorrt_backend``)."""
