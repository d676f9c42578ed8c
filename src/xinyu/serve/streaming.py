"""Run a blocking reply stream for an async web server: fair queueing and disconnect cancellation.

Generation happens in a worker thread (backends are blocking); pieces cross to the event loop
through an ``asyncio.Queue``. Requests wait for a slot in FIFO order (``asyncio.Semaphore`` wakes
waiters first come, first served) sized by the backend's ``max_concurrency``: 1 for local models,
whose streams would only contend for the same cores (llama.cpp serialises anyway), more for remote
engines that batch. A request whose client disconnects stops waiting, or stops its generation after
the current token: the worker closes the reply stream, which closes the backend's generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio

Disconnected = Callable[[], Awaitable[bool]]


class ClientGone(Exception):
    """The client disconnected while its request waited or streamed."""


class Slots:
    """A FIFO gate of ``size`` concurrent generations, with a count of waiting requests."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._semaphore: asyncio.Semaphore | None = None
        self.waiting = 0
        self.running = 0

    def _sem(self) -> asyncio.Semaphore:
        # Created lazily inside the server's event loop.
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.size)
        return self._semaphore

    async def acquire(self, disconnected: Disconnected, poll_s: float) -> None:
        """Wait for a slot; raise :class:`ClientGone` if the client leaves first."""
        sem = self._sem()
        task = asyncio.ensure_future(sem.acquire())
        self.waiting += 1
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=poll_s)
                if done:
                    break
                if await disconnected():
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
                    else:  # acquired in the meantime: give it back
                        sem.release()
                    raise ClientGone
        except asyncio.CancelledError:
            if task.done() and not task.cancelled():
                sem.release()
            else:
                task.cancel()
            raise
        finally:
            self.waiting -= 1
        self.running += 1

    def release(self) -> None:
        """Free a slot."""
        self.running -= 1
        self._sem().release()


async def pump(
    make: Callable[[], Iterator[str]],
    disconnected: Disconnected,
    poll_s: float = 0.25,
    on_cancel: Callable[[Any], None] | None = None,
) -> AsyncIterator[str]:
    """Iterate a blocking iterator in a worker thread, yielding its pieces on the event loop.

    Args:
        make: Builds the iterator (called in the worker thread).
        disconnected: ``await disconnected()`` is True once the client has gone.
        poll_s: How often to ask while no piece arrives.
        on_cancel: Called in the worker with the iterator when the stream is cancelled; default
            closes it (``.close()``), which stops the backend.

    Raises:
        ClientGone: The client disconnected (generation has been stopped).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: tuple[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has shut down; nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        iterator = None
        try:
            iterator = make()
            for piece in iterator:
                if cancel.is_set():
                    break
                put(("piece", piece))
        except BaseException as exc:
            put(("error", exc))
        finally:
            if iterator is not None and cancel.is_set():
                (on_cancel or _close)(iterator)
            put(("end", None))

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            while True:
                done, _ = await asyncio.wait({getter}, timeout=poll_s)
                if done:
                    break
                if await disconnected():
                    getter.cancel()
                    raise ClientGone
            kind, value = getter.result()
            if kind == "piece":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        cancel.set()
        # Wait for the worker so the backend has stopped before the slot is released; shielded
        # because Starlette cancels the whole response task when the client disconnects.
        with anyio.CancelScope(shield=True):
            await worker


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
