"""Micro-batching: group concurrent requests for one model into one session run.

Each `MicroBatcher` owns a pending list and one worker task in the running
event loop. A group closes when it contains `max_batch` rows or when
`max_wait_s` has passed since its first request arrived. The group's rows
are concatenated along axis 0, run once in a thread pool, and split back
per request.
"""

import asyncio
import dataclasses
import logging

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class _Pending:
    rows: np.ndarray
    future: asyncio.Future


class MicroBatcher:
    """Group concurrent calls of `function` into batches.

    Args:
        name: how log messages refer to this batcher, for example
            `"embedder/embed"`.
        function: called with one (N, ...) array in a worker thread; returns
            an (N, ...) array with one row per input row.
        max_batch: the maximum rows per call. One request with more rows
            than this is run alone, and the wrapper splits it in chunks.
        max_wait_s: how long the first request of a group waits for others,
            in seconds.
        executor: the `concurrent.futures.Executor` that runs `function`.
            None uses the event loop's default executor.
    """

    def __init__(self, name, function, max_batch, max_wait_s, executor=None):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1. Received: {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be zero or positive. Received: {max_wait_s}")
        self.name = name
        self.function = function
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.executor = executor
        self.calls = 0
        self._loop = None
        self._pending = []
        self._arrived = None
        self._worker = None

    def _bind(self, loop):
        # A test client may run each request in a fresh event loop, and
        # asyncio objects belong to the loop that made them.
        if self._loop is loop and self._worker is not None and not self._worker.done():
            return
        self._loop = loop
        self._pending = []
        self._arrived = asyncio.Event()
        self._worker = loop.create_task(self._run_forever(), name=f"batcher {self.name}")

    async def submit(self, rows):
        """Run `function` on `rows` as part of a group and return this request's rows.

        Args:
            rows: an (N, ...) array with N >= 1.

        Returns:
            The (N, ...) rows of the function's output that belong to `rows`.

        Raises:
            Whatever `function` raises for these rows alone.
        """
        loop = asyncio.get_running_loop()
        self._bind(loop)
        pending = _Pending(rows=rows, future=loop.create_future())
        self._pending.append(pending)
        self._arrived.set()
        return await pending.future

    async def close(self):
        """Cancel the worker task; pending requests get a CancelledError."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        for pending in self._pending:
            if not pending.future.done():
                pending.future.cancel()
        self._pending = []
        self._worker = None

    async def _run_forever(self):
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            if not self._pending:
                continue
            await self._wait_for_group()
            group = self._take_group()
            await self._run_group(group)
            if self._pending:
                self._arrived.set()

    async def _wait_for_group(self):
        """Wait until the pending rows reach max_batch or max_wait_s has passed."""
        deadline = self._loop.time() + self.max_wait_s
        while sum(len(pending.rows) for pending in self._pending) < self.max_batch:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take_group(self):
        """Remove and return the oldest requests that fit in max_batch rows (at least one)."""
        group = [self._pending.pop(0)]
        rows = len(group[0].rows)
        while self._pending and rows + len(self._pending[0].rows) <= self.max_batch:
            pending = self._pending.pop(0)
            group.append(pending)
            rows += len(pending.rows)
        return group

    async def _run_group(self, group):
        group = [pending for pending in group if not pending.future.cancelled()]
        if not group:
            return
        try:
            batch = np.concatenate([pending.rows for pending in group], axis=0)
            outputs = await self._call(batch)
        except Exception as error:
            if len(group) == 1:
                _set_exception(group[0].future, error)
                return
            # One request's rows made the whole group fail. Running each
            # request alone gives the error to that request only.
            logger.info(
                "%s: a group of %d requests failed (%s); running them one by one.",
                self.name,
                len(group),
                error,
            )
            for pending in group:
                try:
                    _set_result(pending.future, await self._call(pending.rows))
                except Exception as single_error:
                    _set_exception(pending.future, single_error)
            return

        start = 0
        for pending in group:
            stop = start + len(pending.rows)
            _set_result(pending.future, outputs[start:stop])
            start = stop

    async def _call(self, batch):
        self.calls += 1
        return await self._loop.run_in_executor(self.executor, self.function, batch)


def _set_result(future, value):
    if not future.done():
        future.set_result(value)


def _set_exception(future, error):
    if not future.done():
        future.set_exception(error)
