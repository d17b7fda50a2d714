"""pytrickle.utils.hardware: GPU models and HardwareInfo without a usable NVML."""

from __future__ import annotations

import importlib
import logging
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest





hardware = importlib.import_module("pytrickle.utils.hardware")


def _nvml_really_works() -> bool:
    if hardware.pynvml is None:
        return False
    try:
        hardware.pynvml.nvmlInit()
        hardware.pynvml.nvmlShutdown()
        return True
    except Exception:
        return False


def test_models():
    info = hardware.GPUInfo(id="GPU-1", name="H100", memory_total=80, memory_free=70, major=9,
                            minor=0, utilization_compute=5, utilization_memory=6)
    assert isinstance(info, hardware.GPUComputeInfo)
    assert isinstance(info, hardware.GPUUtilizationInfo)
    assert set(hardware.GPUComputeInfo.model_fields) == {"id", "name", "memory_total", "memory_free", "major", "minor"}
    assert set(hardware.GPUUtilizationInfo.model_fields) == {
        "id", "name", "memory_total", "memory_free", "utilization_compute", "utilization_memory"}


@pytest.mark.skipif(_nvml_really_works(), reason="this machine has a working NVML")
def test_no_nvml_gives_empty_dicts(caplog):
    caplog.set_level(logging.INFO, logger="pytrickle")
    hw = hardware.HardwareInfo()
    assert hw._initialized is False
    assert hw.get_cuda_info() == {}
    assert hw.get_gpu_compute_info() == {}
    assert hw.get_gpu_utilization_stats() == {}
    hw.log_gpu_compute_info()
    hw._shutdown_nvml()  # harmless when never initialised
    text = caplog.text
    assert "Failed to initialize NVML" in text
    assert "NVML is not initialized. Cannot retrieve CUDA device information." in text
    assert "No CUDA devices available." in text


def test_without_pynvml_module(monkeypatch):
    monkeypatch.setattr(hardware, "pynvml", None)
    hw = hardware.HardwareInfo()
    assert hw.get_cuda_info() == {}
    assert hw.get_gpu_utilization_stats() == {}


class _FakeNVMLError(Exception):
    pass


def _fake_nvml(count=2, fail_at=None):
    nvml = MagicMock()
    nvml.NVMLError = _FakeNVMLError
    nvml.nvmlDeviceGetCount.return_value = count
    nvml.nvmlDeviceGetHandleByIndex.side_effect = lambda i: f"h{i}"

    def uuid(handle):
        if fail_at is not None and handle == f"h{fail_at}":
            raise _FakeNVMLError("boom")
        return f"GPU-{handle}"

    nvml.nvmlDeviceGetUUID.side_effect = uuid
    nvml.nvmlDeviceGetName.side_effect = lambda h: f"Card {h}"
    nvml.nvmlDeviceGetMemoryInfo.return_value = SimpleNamespace(total=1000, free=600)
    nvml.nvmlDeviceGetCudaComputeCapability.return_value = (8, 6)
    nvml.nvmlDeviceGetUtilizationRates.return_value = SimpleNamespace(gpu=40, memory=12)
    return nvml


def test_with_fake_nvml(monkeypatch):
    monkeypatch.setattr(hardware, "pynvml", _fake_nvml())
    hw = hardware.HardwareInfo()
    assert hw._initialized
    compute = hw.get_gpu_compute_info()
    assert list(compute) == [0, 1]
    assert compute[1].model_dump() == {"id": "GPU-h1", "name": "Card h1", "memory_total": 1000,
                                       "memory_free": 600, "major": 8, "minor": 6}
    stats = hw.get_gpu_utilization_stats()
    assert stats[0].model_dump() == {"id": "GPU-h0", "name": "Card h0", "memory_total": 1000,
                                     "memory_free": 600, "utilization_compute": 40, "utilization_memory": 12}
    hw._shutdown_nvml()
    assert hw._initialized is False


def test_nvml_error_mid_way_keeps_earlier_devices(monkeypatch, caplog):
    monkeypatch.setattr(hardware, "pynvml", _fake_nvml(count=3, fail_at=1))
    hw = hardware.HardwareInfo()
    assert list(hw.get_cuda_info()) == [0]
    assert "Failed to retrieve CUDA device information: boom" in caplog.text
    hw._shutdown_nvml()  # while the fake is still installed (the atexit hook runs later)


def test_init_error_is_said_once_at_info_never_as_an_error(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="pytrickle")
    nvml = _fake_nvml()
    nvml.nvmlInit.side_effect = _FakeNVMLError("no driver")
    monkeypatch.setattr(hardware, "pynvml", nvml)
    monkeypatch.setattr(hardware, "_nvml_failure_said", False)
    hw = hardware.HardwareInfo()
    assert hw._initialized is False
    assert hw.get_cuda_info() == {}
    hardware.HardwareInfo()  # every StreamServer makes one
    said = [(r.levelno, r.getMessage()) for r in caplog.records if "Failed to initialize NVML" in r.getMessage()]
    assert [level for level, _ in said] == [logging.INFO, logging.DEBUG]
    assert "Failed to initialize NVML: no driver" in said[0][1]
