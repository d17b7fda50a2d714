"""GPU inventory and utilisation through NVML.

``pynvml`` (the ``nvidia-ml-py`` distribution) is optional here: its import is
guarded and the module attribute is ``None`` when it is missing.  Without the
module, or without an NVIDIA driver, the failure is logged and every query
answers an empty dict.
"""

import atexit
import logging
from typing import Dict

from pydantic import BaseModel

logger = logging.getLogger(__name__)


try:  # optional: without it (or without a driver) every query answers an empty dict
    import pynvml
except ImportError:  # pragma: no cover - depends on the environment
    pynvml = None


def _nvml_error():
    """The exception class NVML calls raise (module looked up at call time, so it can be patched)."""
    return getattr(pynvml, "NVMLError", Exception)


class GPUBaseInfo(BaseModel):
    """Identity and memory of one GPU."""

    id: str
    name: str
    memory_total: int
    memory_free: int


class GPUComputeInfo(GPUBaseInfo):
    """GPU identity plus its CUDA compute capability."""

    major: int
    minor: int


class GPUUtilizationInfo(GPUBaseInfo):
    """GPU identity plus current compute and memory utilisation (percent)."""

    utilization_compute: int
    utilization_memory: int


class GPUInfo(GPUComputeInfo, GPUUtilizationInfo):
    """Everything known about one GPU."""

    pass


# Upstream logs an ERROR whenever a server is made on a machine without NVML. No GPU is not an
# error: the first failure in a process is said at INFO, later ones at DEBUG.
_nvml_failure_said = False


def _say_nvml_failure(reason: str) -> None:
    global _nvml_failure_said
    level = logging.DEBUG if _nvml_failure_said else logging.INFO
    _nvml_failure_said = True
    logger.log(level, "Failed to initialize NVML: %s (no NVIDIA GPU here? GPU information stays empty)", reason)


class HardwareInfo:
    """Reads GPU information from NVML (initialised on construction, shut down at exit)."""

    def __init__(self):
        self._initialized = False
        self._initialize_nvml()
        atexit.register(self._shutdown_nvml)

    def _initialize_nvml(self) -> None:
        if self._initialized:
            return
        if pynvml is None:
            _say_nvml_failure("pynvml is not installed")
            return
        try:
            pynvml.nvmlInit()
        except _nvml_error() as e:
            _say_nvml_failure(str(e))
            return
        self._initialized = True
        logger.info("NVML initialized successfully.")

    def _shutdown_nvml(self) -> None:
        if not self._initialized:
            return
        try:
            pynvml.nvmlShutdown()
            self._initialized = False
            logger.info("NVML shutdown successfully.")
        except _nvml_error() as e:
            logger.error(f"Failed to shutdown NVML: {e}")

    def get_cuda_info(self) -> Dict[int, GPUInfo]:
        """Describe every visible GPU, keyed by device index.

        Empty (with a warning) when NVML is not initialised; an NVML error part
        way through returns the devices read so far.
        """
        devices: Dict[int, GPUInfo] = {}
        if not self._initialized:
            logger.warning("NVML is not initialized. Cannot retrieve CUDA device information.")
            return devices

        nvml = pynvml
        try:
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = nvml.nvmlDeviceGetUUID(handle)
                name = nvml.nvmlDeviceGetName(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                rates = nvml.nvmlDeviceGetUtilizationRates(handle)
                devices[index] = GPUInfo(
                    id=uuid,
                    name=name,
                    memory_total=memory.total,
                    memory_free=memory.free,
                    major=major,
                    minor=minor,
                    utilization_compute=rates.gpu,
                    utilization_memory=rates.memory,
                )
        except _nvml_error() as e:
            logger.warning(f"Failed to retrieve CUDA device information: {e}")
        return devices

    def get_gpu_compute_info(self) -> Dict[int, GPUComputeInfo]:
        """Identity, memory and compute capability of every GPU."""
        # The per-GPU record holds every field; each view keeps its own (pydantic drops the rest).
        return {index: GPUComputeInfo.model_validate(info.model_dump()) for index, info in self.get_cuda_info().items()}

    def log_gpu_compute_info(self):
        """Log one line per GPU (or that there is none)."""
        devices = self.get_gpu_compute_info()
        if not devices:
            logger.info("No CUDA devices available.")
            return
        logger.info("CUDA devices available:")
        for index, info in devices.items():
            logger.info(f"Device {index}: {info}")

    def get_gpu_utilization_stats(self) -> Dict[int, GPUUtilizationInfo]:
        """Identity, memory and current utilisation of every GPU."""
        return {index: GPUUtilizationInfo.model_validate(info.model_dump())
                for index, info in self.get_cuda_info().items()}
