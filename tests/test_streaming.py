"""The AE runs causally, frame by frame, with cached state: its streaming ONNX output must equal
the windowed causal model's output on a real clip."""

import numpy as np
import onnx
import pytest
import torch

from vcam.engine.crop import crop_face
from vcam.engine.errors import ModelError
from vcam.engine.filters import DeidFilter, make_filter
from vcam.engine.inference.backends import OrtBackend, choose_backend
from vcam.engine.inference.streaming_model import StreamingModel
from vcam.engine.tracking import FaceTracker
from vcam.export.onnx_export import export_streaming, export_windowed
from vcam.models.autoencoder import DeidAutoencoder, from_onnx

from conftest import EVM_VIDEO, read_video


@pytest.fixture(scope="module")
def evm_crops() -> np.ndarray:
    frames = read_video(EVM_VIDEO, limit=64)
    with FaceTracker(max_faces=1) as tracker:
        return np.stack([crop_face(f, tracker.update(f)[0]) for f in frames])


@pytest.fixture(scope="module")
def ae() -> DeidAutoencoder:
    torch.manual_seed(0)
    return DeidAutoencoder(residual=True).eval()


@pytest.fixture(scope="module")
def onnx_path(ae: DeidAutoencoder, tmp_path_factory: pytest.TempPathFactory):
    return export_streaming(ae, tmp_path_factory.mktemp("m") / "ae.onnx", trained=False)


def test_streaming_onnx_equals_windowed_causal_model(ae, onnx_path, evm_crops) -> None:
    clip = torch.from_numpy(evm_crops).permute(3, 0, 1, 2)[None]  # [1, 3, T, H, W]
    with torch.no_grad():
        windowed = ae(clip)[0].permute(1, 2, 3, 0).clamp(0, 1).numpy()
    model = StreamingModel(OrtBackend(onnx_path))
    state = None
    streamed = []
    for crop in evm_crops:
        out, state = model.step(crop, state)
        streamed.append(out)
    diff = np.abs(np.stack(streamed) - windowed).max()
    assert diff < 1e-4
    # and the output really depends on the past (it is not a per-frame model)
    fresh, _ = model.step(evm_crops[-1], None)
    assert np.abs(fresh - streamed[-1]).max() > 1e-3


def test_causal_output_does_not_depend_on_the_future(ae, evm_crops) -> None:
    clip = torch.from_numpy(evm_crops).permute(3, 0, 1, 2)[None]
    with torch.no_grad():
        full = ae(clip)
        changed = clip.clone()
        changed[:, :, 40:] = 0.0
        part = ae(changed)
    assert torch.equal(full[:, :, :40], part[:, :, :40])
    assert not torch.equal(full[:, :, 40:], part[:, :, 40:])


def test_paper_exact_variant_uses_the_future(evm_crops) -> None:
    torch.manual_seed(0)
    ae = DeidAutoencoder(causal=False).eval()
    clip = torch.from_numpy(evm_crops[:8]).permute(3, 0, 1, 2)[None]
    with torch.no_grad():
        a = ae(clip)
        clip[:, :, 7] = 0
        b = ae(clip)
    assert not torch.equal(a[:, :, 6], b[:, :, 6])
    with pytest.raises(ValueError):
        ae.step(clip[:, :, 0], torch.ones(1), [])


def test_metadata_is_written_and_read(onnx_path) -> None:
    info = StreamingModel(OrtBackend(onnx_path)).info
    assert info.input_size == 128 and len(info.state_shapes) == 5 and info.trained is False
    assert len(info.metadata["vcam.weights_sha256"]) == 64


def test_untrained_model_is_refused_for_protection(onnx_path) -> None:
    with pytest.raises(ModelError, match="untrained"):
        make_filter("deid", onnx_path, "cpu")
    assert isinstance(make_filter("deid", onnx_path, "cpu", allow_untrained=True), DeidFilter)


def test_missing_model_is_refused_with_the_fix(tmp_path) -> None:
    with pytest.raises(ModelError, match="vcam-train"):
        make_filter("deid", tmp_path / "none.onnx")


def test_wrong_signature_model_is_refused(tmp_path) -> None:
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    path = tmp_path / "plain.onnx"
    torch.onnx.export(conv, (torch.rand(1, 3, 128, 128),), str(path), input_names=["frame"], dynamo=False)
    with pytest.raises(ModelError, match="not a deid-vcam streaming model"):
        StreamingModel(OrtBackend(path))
    m = onnx.load(str(path))
    onnx.helper.set_model_props(
        m, {"vcam.format": "vcam-streaming-v1", "vcam.input_size": "128", "vcam.state_shapes": "[]", "vcam.colour": "RGB", "vcam.range": "0-1"}
    )
    onnx.save(m, str(path))
    with pytest.raises(ModelError, match="do not match the streaming signature"):
        StreamingModel(OrtBackend(path))


def test_backend_selection(onnx_path, tmp_path) -> None:
    import shutil

    import onnxruntime as ort

    from vcam.engine.inference import tensorrt_backend

    backend = choose_backend("auto", onnx_path)
    assert backend.reason.startswith("auto") and "INT8" not in backend.reason
    fixes = {"cuda": "pip install onnxruntime-gpu", "tensorrt": r"deid-vcam\[gpu\]"}  # the GPU build replaces onnxruntime
    for kind, usable in (("cuda", "CUDAExecutionProvider" in ort.get_available_providers()), ("tensorrt", tensorrt_backend.available())):
        if not usable:
            with pytest.raises(ModelError, match=f"NVIDIA GPU and .*{fixes[kind]}"):
                choose_backend(kind, onnx_path)
    with pytest.raises(ModelError, match="unknown backend"):
        choose_backend("metal", onnx_path)
    with pytest.raises(ModelError, match="vcam-export --streaming --int8"):
        choose_backend("cpu", onnx_path, precision="int8")
    # An INT8 companion next to the model runs only when asked for (it can weaken the protection).
    model = shutil.copy(onnx_path, tmp_path / "m.onnx")
    shutil.copy(onnx_path, tmp_path / "m.int8.onnx")
    assert choose_backend("cpu", model).path.name == "m.onnx" and "INT8" not in choose_backend("cpu", model).reason
    assert choose_backend("cpu", model, precision="int8").path.name == "m.int8.onnx"
    assert "INT8" in choose_backend("cpu", model, precision="int8").reason


def test_tensorrt_backend_refuses_cleanly_or_matches_onnxruntime(onnx_path, evm_crops) -> None:
    from vcam.engine.inference import tensorrt_backend

    if not tensorrt_backend.available():
        with pytest.raises(ModelError, match="TensorRT is not installed|cuda-python|no CUDA GPU"):
            tensorrt_backend.TensorRTBackend(onnx_path, "fp32")
        pytest.skip("no TensorRT + CUDA GPU here: the refusal path was checked")
    from vcam.export.parity import stream

    trt_model = StreamingModel(tensorrt_backend.TensorRTBackend(onnx_path, "fp32"))
    ort_model = StreamingModel(OrtBackend(onnx_path))
    assert np.abs(stream(ort_model, evm_crops[:10]) - stream(trt_model, evm_crops[:10])).max() < 1e-3


def test_torch_backend_matches_onnxruntime(ae, onnx_path, evm_crops) -> None:
    from vcam.export.parity import stream
    from vcam.export.torch_backend import TorchBackend

    ort_model = StreamingModel(OrtBackend(onnx_path))
    torch_model = StreamingModel(TorchBackend(ae, trained=False))
    assert np.abs(stream(ort_model, evm_crops[:10]) - stream(torch_model, evm_crops[:10])).max() < 1e-4


@pytest.mark.slow
def test_int8_export_keeps_contract_and_quality(onnx_path, evm_crops, tmp_path) -> None:
    from vcam.export.parity import precision_psnr
    from vcam.export.quantize import quantize_streaming

    int8 = quantize_streaming(onnx_path, tmp_path / "int8.onnx", evm_crops[:32])
    fp32_model, int8_model = StreamingModel(OrtBackend(onnx_path)), StreamingModel(OrtBackend(int8))
    assert int8_model.info.metadata["vcam.precision"] == "int8"
    assert int8_model.info.metadata["vcam.weights_sha256"] == fp32_model.info.metadata["vcam.weights_sha256"]
    assert precision_psnr(onnx_path, int8, evm_crops[32:]) > 40.0  # frames not used for calibration


def test_exported_weights_read_back_exactly(ae, onnx_path, tmp_path) -> None:
    """``init_from`` can start from an exported model: the weights read back from the streaming
    (2-D step layout) and the windowed file are the exported ones, and a changed weight is refused."""
    windowed = export_windowed(ae, tmp_path / "w.onnx", trained=False)
    for path in (onnx_path, windowed):
        back = from_onnx(path).state_dict()
        assert all(torch.equal(back[k], v) for k, v in ae.state_dict().items())
    model = onnx.load(str(onnx_path))
    weight = next(i for i in model.graph.initializer if len(i.dims) == 4)
    weight.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(weight) * 1.001, weight.name))
    onnx.save(model, str(tmp_path / "changed.onnx"))
    with pytest.raises(ValueError, match="do not match"):
        from_onnx(tmp_path / "changed.onnx")
