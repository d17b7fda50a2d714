"""Pydantic (v2) request and response models of the PyTrickle HTTP API.

``StreamStartRequest`` is the body of ``POST /stream/start`` (and
``/live-video-to-video``); ``StreamParamsUpdateRequest`` is the body of
``POST /stream/params``.  Both apply the same parameter conversions: width and
height together as positive ints, ``max_framerate`` as an int in 1..60 and
``detect_out_resolution`` as a bool.
"""

from typing import Any, Dict, Optional

from pydantic import BaseModel, Field, field_validator

from .utils.hardware import GPUComputeInfo, GPUUtilizationInfo

_TRUE_STRINGS = ("true", "1", "yes")
_FALSE_STRINGS = ("false", "0", "no")


class StreamStartRequest(BaseModel):
    """Body of a stream start request (trickle channel URLs plus initial params).

    Only ``gateway_request_id`` is required; unknown top-level keys are ignored.
    """

    subscribe_url: Optional[str] = Field(default=None, description="URL for subscribing to input video stream")
    publish_url: Optional[str] = Field(default=None, description="URL for publishing output video stream")
    control_url: Optional[str] = Field(default=None, description="URL for control channel communication")
    events_url: Optional[str] = Field(default=None, description="URL for events channel communication")
    data_url: Optional[str] = Field(default=None, description="URL for publishing text/data output via data channel")
    gateway_request_id: str = Field(..., description="Unique identifier for the stream request")
    params: Optional[Dict[str, Any]] = Field(
        default=None,
        description="Dynamic parameters object with string field names and any values",
    )

    @field_validator("params")
    @classmethod
    def validate_optional_params_dict(cls, value):
        """Run the shared parameter conversions once pydantic has checked the dict type."""
        if value is None:
            return value
        # A ValueError raised here is reported by pydantic as "Value error, ...".
        return StreamParamsUpdateRequest.validate_params(value)


class StreamParamsUpdateRequest(BaseModel):
    """Flat parameter update: any string key with any value becomes a field.

    ``model_validate`` runs :meth:`validate_params` on dict input first, so its
    problems surface as a plain ``ValueError``.  The constructor does not.
    """

    model_config = {"extra": "allow"}

    @classmethod
    def validate_params(cls, v):
        """Check a params dict and return a converted copy (``None`` passes through)."""
        if v is None:
            return v
        if not isinstance(v, dict):
            raise ValueError("Params must be a dictionary")
        for key in v.keys():
            if not isinstance(key, str):
                raise ValueError(f"All field names must be strings, got {type(key)} for key: {key}")
        v = cls._convert_dimensions(v)
        v = cls._convert_framerate(v)
        v = cls._convert_detect_out_resolution(v)
        return v

    @classmethod
    def _convert_dimensions(cls, params_dict: dict) -> dict:
        """Require width and height together and turn both into positive ints."""
        converted = params_dict.copy()
        present = [k for k in ("width", "height") if k in converted]
        if not present:
            return converted
        if len(present) != 2:
            raise ValueError("Both 'width' and 'height' must be provided together")
        try:
            for key in ("width", "height"):
                number = int(converted[key])
                if number <= 0:
                    raise ValueError(key)
                converted[key] = number
        except (ValueError, TypeError):
            # Unconvertible and non-positive values share one message.
            raise ValueError("Width and height must be valid integers or integer strings")
        return converted

    @classmethod
    def _convert_framerate(cls, params_dict: dict) -> dict:
        """Turn ``max_framerate`` into an int between 1 and 60."""
        converted = params_dict.copy()
        if "max_framerate" not in converted:
            return converted
        try:
            fps = int(converted["max_framerate"])
        except (ValueError, TypeError):
            raise ValueError("max_framerate must be a valid integer")
        if fps <= 0:
            raise ValueError("max_framerate must be a positive integer")
        if fps > 60:
            raise ValueError("max_framerate cannot exceed 60 FPS")
        converted["max_framerate"] = fps
        return converted

    @classmethod
    def _convert_detect_out_resolution(cls, params_dict: dict) -> dict:
        """Turn ``detect_out_resolution`` into a bool.

        True (the encoder's default) means the output size follows the first
        processed frame; False means the output keeps the input width/height.
        """
        converted = params_dict.copy()
        if "detect_out_resolution" not in converted:
            return converted
        raw = converted["detect_out_resolution"]
        if isinstance(raw, bool):
            flag = raw
        elif isinstance(raw, str):
            lowered = raw.lower()
            if lowered in _TRUE_STRINGS:
                flag = True
            elif lowered in _FALSE_STRINGS:
                flag = False
            else:
                raise ValueError("detect_out_resolution must be a boolean value")
        elif isinstance(raw, int):
            flag = bool(raw)
        else:
            raise ValueError("detect_out_resolution must be a boolean value")
        converted["detect_out_resolution"] = flag
        return converted

    @classmethod
    def model_validate(cls, obj):
        """Apply :meth:`validate_params` to dict input, then validate with pydantic."""
        if isinstance(obj, dict):
            obj = cls.validate_params(obj)
        return super().model_validate(obj)


class StreamResponse(BaseModel):
    """Generic result of a stream operation."""

    status: str = Field(..., description="Operation status (success/error)")
    message: str = Field(..., description="Human-readable message")
    request_id: Optional[str] = Field(default=None, description="Stream request ID")
    config: Optional[dict] = Field(default=None, description="Stream configuration details")


class StreamStatusResponse(BaseModel):
    """Stream status summary."""

    processing_active: bool = Field(..., description="Whether stream processing is active")
    stream_count: int = Field(..., description="Number of active streams")
    message: Optional[str] = Field(default=None, description="Status message")
    current_stream: Optional[dict] = Field(default=None, description="Current stream details")
    all_streams: Optional[dict] = Field(default=None, description="All active streams")


class HealthCheckResponse(BaseModel):
    """Health check answer."""

    status: str = Field(..., description="Service health status")
    service: str = Field(..., description="Service name")
    version: str = Field(..., description="Service version")
    stream_manager_ready: Optional[bool] = Field(default=None, description="Whether stream manager is ready")
    error: Optional[str] = Field(default=None, description="Error message if unhealthy")


class ServiceInfoResponse(BaseModel):
    """Service description."""

    service: str = Field(..., description="Service name")
    version: str = Field(..., description="Service version")
    description: str = Field(..., description="Service description")
    capabilities: list = Field(..., description="List of service capabilities")
    endpoints: dict = Field(..., description="Available API endpoints")


class HealthStatus(BaseModel):
    """Pipeline health as reported by the state tracker."""

    status: str = Field(..., description="Health status (LOADING, IDLE, OK, ERROR)")
    error_message: Optional[str] = Field(default=None, description="Error message if status is ERROR")
    pipeline_ready: bool = Field(default=False, description="Whether processing pipeline is ready")
    active_streams: int = Field(default=0, description="Number of active streams")
    startup_complete: bool = Field(default=False, description="Whether startup is complete")
    additional_info: Optional[Dict[str, Any]] = Field(default=None, description="Additional status information")


class Version(BaseModel):
    """Answer of ``GET /version``."""

    pipeline: str = "byoc"
    model_id: str = Field(..., description="Model identifier")
    version: str = Field(..., description="Version string")


class HardwareInformation(BaseModel):
    """Answer of ``GET /hardware/info``."""

    pipeline: str
    model_id: str
    gpu_info: Dict[int, GPUComputeInfo]


class HardwareStats(BaseModel):
    """Answer of ``GET /hardware/stats``."""

    pipeline: str
    model_id: str
    gpu_stats: Dict[int, GPUUtilizationInfo]
