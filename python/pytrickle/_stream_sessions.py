"""The streams a StreamServer is running, by id (docs/many_streams.md).

A session is kept after its stream ended by itself, as upstream keeps ``current_client``
(docs/compatibility.md Q12), so that the orchestrator's stop for it still succeeds; it no longer
counts against ``max_streams``, a start with its id replaces it, and at most ``max_streams`` ended
sessions are remembered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .api import StreamStartRequest
from .client import TrickleClient


@dataclass
class StreamSession:
    """One stream of the server: its client, its start request and the task running it."""

    stream_id: str
    client: TrickleClient
    params: Optional[StreamStartRequest]  # None only for a client assigned to current_client by hand
    task: Optional[asyncio.Task] = None
    ended: bool = False
    # Params updates of one stream apply in order; other streams' updates do not wait on them.
    param_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def describe(self) -> Dict[str, object]:
        """The stream as /stream/status lists it (never its URLs' secrets beyond what upstream shows)."""
        return {"running": not self.ended and self.client.running,
                "gateway_request_id": self.params.gateway_request_id if self.params is not None else None}

    def busy(self) -> bool:
        """Running, or still starting (the client sets running only once its channels are up)."""
        return self.client.running or (self.task is not None and not self.task.done())


class StreamSessions:
    def __init__(self, max_streams: int):
        self.max_streams = max_streams
        self._by_id: Dict[str, StreamSession] = {}

    @property
    def many(self) -> bool:
        return self.max_streams > 1

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> List[StreamSession]:
        return list(self._by_id.values())

    def get(self, stream_id: str) -> Optional[StreamSession]:
        return self._by_id.get(stream_id)

    def latest(self) -> Optional[StreamSession]:
        """The most recently started stream (the one upstream's ``current_client`` would be)."""
        return next(reversed(self._by_id.values()), None)

    def live(self) -> List[StreamSession]:
        return [session for session in self._by_id.values() if not session.ended]

    def live_count(self) -> int:
        return len(self.live())

    def add(self, session: StreamSession) -> None:
        if not self.many:
            self._by_id.clear()  # the one slot: an ended stream is replaced
        self._by_id.pop(session.stream_id, None)  # (an ended one: the caller refuses a live one)
        self._by_id[session.stream_id] = session

    def clear(self) -> None:
        self._by_id.clear()

    def remove(self, session: StreamSession) -> None:
        if self._by_id.get(session.stream_id) is session:
            del self._by_id[session.stream_id]

    def ended(self, session: StreamSession) -> None:
        """The session's stream is over: its slot is free; the oldest ended sessions are forgotten."""
        session.ended = True
        finished = [s for s in self._by_id.values() if s.ended]
        for old in finished[:max(0, len(finished) - self.max_streams)]:
            self.remove(old)
