"""pytrickle.state: PipelineState and StreamState (spec section 14.1-14.2)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pytrickle.state import PipelineState, StreamState


def test_pipeline_state_values():
    assert [(s.name, s.value) for s in PipelineState] == [
        ("LOADING", "LOADING"), ("IDLE", "IDLE"), ("OK", "OK"), ("ERROR", "ERROR")]


async def test_initial_state():
    s = StreamState()
    assert s.state is PipelineState.LOADING
    for ev in (s.running_event, s.shutdown_event, s.error_event):
        assert isinstance(ev, asyncio.Event) and not ev.is_set()
    assert s.active_client is False and s.active_streams == 0 and s.startup_complete is False
    assert s.running is False and s.pipeline_ready is False and s.is_error() is False
    assert s.get_state() == {"status": "LOADING", "pipeline_ready": False,
                             "shutdown_initiated": False, "error": False}
    assert s.get_pipeline_state() == {
        "status": "LOADING", "state": "LOADING", "error_message": None, "pipeline_ready": False,
        "active_streams": 0, "startup_complete": False, "pipeline_state": "LOADING",
        "additional_info": {}}


@pytest.mark.parametrize("target", [PipelineState.LOADING, PipelineState.IDLE, PipelineState.OK])
async def test_non_error_states_set_running(target):
    s = StreamState()
    s.set_state(target)
    assert s.state is target
    assert s.running_event.is_set() and s.running is True
    assert s.pipeline_ready is (target in (PipelineState.IDLE, PipelineState.OK))


async def test_error_state_and_clear(caplog):
    s = StreamState()
    s.set_startup_complete()
    assert s.state is PipelineState.IDLE
    with caplog.at_level(logging.ERROR, logger="pytrickle.state"):
        s.set_error("model exploded")
    assert "Stream state: ERROR - model exploded" in caplog.text
    assert "Error occurred from state IDLE, call stack:" in caplog.text
    assert "State transition: IDLE → ERROR" in caplog.text
    assert s.state is PipelineState.ERROR
    assert s.is_error() and s.shutdown_event.is_set() and s.error_event.is_set()
    assert s.running is False and s.pipeline_ready is False
    assert s.get_state()["status"] == "ERROR"
    assert s.get_state()["shutdown_initiated"] is True and s.get_state()["error"] is True
    s.set_active_client(True)
    assert s.get_pipeline_state()["status"] == "ERROR"  # error wins over activity
    s.set_active_client(False)

    with caplog.at_level(logging.INFO, logger="pytrickle.state"):
        s.clear_error()
    assert "Stream state: ERROR cleared, returning to LOADING" in caplog.text
    assert s.state is PipelineState.LOADING
    assert not s.error_event.is_set() and not s.shutdown_event.is_set()
    assert s.startup_complete is True
    # (docs/compatibility.md Q36): the two reports disagree after clear_error with startup_complete still True.
    assert s.get_state()["status"] == "IDLE"
    assert s.get_pipeline_state()["status"] == "LOADING"
    assert s.get_pipeline_state()["pipeline_state"] == "LOADING"


async def test_clear_error_without_error_is_noop():
    s = StreamState()
    s.set_state(PipelineState.OK)
    s.clear_error()
    assert s.state is PipelineState.OK


async def test_set_startup_complete_only_moves_from_loading():
    s = StreamState()
    s.set_state(PipelineState.OK)
    s.set_startup_complete()
    assert s.state is PipelineState.OK and s.startup_complete is True
    s2 = StreamState()
    s2.set_startup_complete()
    assert s2.state is PipelineState.IDLE
    assert s2.get_pipeline_state()["status"] == "IDLE"
    assert s2.get_state()["status"] == "IDLE"


async def test_status_from_activity():
    s = StreamState()
    s.update_active_streams(2)
    assert s.active_streams == 2
    assert s.get_state()["status"] == "OK" and s.get_pipeline_state()["status"] == "OK"
    s.update_active_streams(-4)
    assert s.active_streams == 0
    s.update_active_streams("3")
    assert s.active_streams == 3
    s.update_active_streams(0)
    s.set_active_client(True)
    assert s.active_client is True
    assert s.get_pipeline_state()["status"] == "OK"
    assert s.get_pipeline_state()["active_streams"] == 0


async def test_unknown_state_warns(caplog):
    s = StreamState()
    with caplog.at_level(logging.WARNING, logger="pytrickle.state"):
        s.set_state("IDLE")
    assert "Unknown PipelineState enum: IDLE" in caplog.text
    assert s.state is PipelineState.LOADING


async def test_update_component_health_has_no_effect(caplog):
    s = StreamState()
    with caplog.at_level(logging.DEBUG, logger="pytrickle.state"):
        s.update_component_health("subscriber", {"error": "boom"})
    assert "Component subscriber reported error (normal): boom" in caplog.text
    assert s.is_error() is False and s.state is PipelineState.LOADING


async def test_running_requires_no_shutdown():
    s = StreamState()
    s.set_state(PipelineState.IDLE)
    assert s.running
    s.shutdown_event.set()
    assert not s.running
