"""The analysis worker process: one locked run (read, analyse, write, publish) or a watch loop."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from analytics.errors import AnalysisInputError
from analytics.pipeline import AnalysisParams, analyse
from engage import keys
from engage.analysis import export as analysis_export
from engage.analysis.inputs import Fingerprint, InputReader, fingerprint
from engage.analysis.store import AnalysisStore
from engage.errors import Conflict
from engage.tasks import TaskSet

log = logging.getLogger("engage.analysis")

Document = dict[str, Any]
Progress = Callable[[str, float], None]
LOCK_TTL = 120  # seconds; renewed every LOCK_TTL / 4 while a run holds it
READ_SHARE, ANALYSE_SHARE = 0.3, 0.4  # of the progress bar; writing takes the rest
DEFAULT_PARAMS = AnalysisParams(invalid_amounts="drop")
_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
          "return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end")
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")


class AnalysisBusy(Conflict):
    """Another worker is running the analysis; try again when it has finished."""

    code = "analysis_busy"
    retriable = True


@dataclass(frozen=True)
class RunReport:
    """What one pass did: a new version, or why it was skipped."""

    version: int | None
    skipped: bool = False
    reason: str = ""
    incremental: bool = False
    summary: Document = field(default_factory=dict)
    counts: Document = field(default_factory=dict)
    seconds: Document = field(default_factory=dict)
    pruned: tuple[int, ...] = ()

    def describe(self) -> str:
        """A human summary: counts, rules found, tier sizes, time."""
        if self.skipped or self.version is None:
            return f"analysis skipped: {self.reason}"
        s, c = self.summary, self.counts
        people, ledger = s["customers"], s["transactions"]
        rules = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in s["rules"].items())
        tiers = "  ".join(f"{k}={n:,}" for k, n in s["tiers"].items())
        t = self.seconds
        lines = [
            f"analysis version {self.version} published",
            f"  input:     {c['customers']:,} customers, {c['transactions']:,} transactions "
            f"({'new ones only' if self.incremental else 'all'} read), {c['products']} products",
            f"  cleansing: {people['kept']:,} customers kept, {people['merged']:,} duplicates "
            f"merged, {people['unreachable']:,} unreachable; {ledger['kept']:,} "
            f"transactions used",
            f"  rules:     {rules}",
            f"  tiers:     {tiers}  ({s['reachable']:,} reachable)",
            f"  time:      {t['total']:.1f} s (read {t['read']:.1f} s, analyse "
            f"{t['analyse']:.1f} s, write {t['write']:.1f} s)",
        ]
        if self.pruned:
            lines.append(f"  pruned:    versions {', '.join(map(str, self.pruned))}")
        return "\n".join(lines)


def _staged(progress: Progress | None, start: float, share: float) -> Progress | None:
    """Maps a sub-task's 0..1 progress into [start, start + share] of the whole run."""
    if progress is None:
        return None
    outer = progress
    return lambda stage, done: outer(stage, start + share * done)


class AnalysisWorker:
    """Runs the analysis against MongoDB and publishes versions through ``AnalysisStore``."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis, *,
                 worker_id: str, params: AnalysisParams = DEFAULT_PARAMS,
                 store: AnalysisStore | None = None, lock_ttl: int = LOCK_TTL) -> None:
        self.db = db
        self.redis = redis
        self.worker_id = worker_id
        self.params = params
        self.store = store or AnalysisStore(db, redis)
        self.reader = InputReader(db)
        self.lock_ttl = lock_ttl

    async def fingerprint(self) -> Fingerprint:
        raw = await self.redis.get(keys.ANALYSIS_DATA_VERSION)
        return await fingerprint(self.db, int(raw or 0))

    @asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        """Holds ``engage:analysis:lock`` (SET NX EX, renewed) for the duration of a run."""
        token = f"{self.worker_id}:{uuid.uuid4().hex}"
        if not await self.redis.set(keys.ANALYSIS_LOCK, token, nx=True, ex=self.lock_ttl):
            holder = await self.redis.get(keys.ANALYSIS_LOCK)
            raise AnalysisBusy(holder=str(holder or "").split(":")[0])

        async def renew() -> None:
            try:
                kept = await self.redis.eval(_RENEW, 1, keys.ANALYSIS_LOCK, token,
                                             str(self.lock_ttl))
            except RedisError as exc:
                log.warning("analysis lock not renewed", extra={"error": str(exc)})
                return
            if not kept:
                log.warning("analysis lock lost; another worker may start a run")

        # The worker process's own task set, for as long as the lock is held (the first
        # renewal right away is harmless: it only extends the fresh lock).
        renewer = TaskSet()
        renewer.every(self.lock_ttl / 4, renew, name="analysis-lock")
        try:
            yield
        finally:
            await renewer.close()
            try:
                await self.redis.eval(_RELEASE, 1, keys.ANALYSIS_LOCK, token)
            except RedisError as exc:  # the lock expires by itself
                log.warning("analysis lock not released", extra={"error": str(exc)})

    async def run_once(self, progress: Progress | None = None, *,
                       force: bool = True) -> RunReport:
        """One analysis run under the lock. Without ``force`` it is skipped when the inputs
        are those of the version already served. Raises ``AnalysisBusy`` when locked."""
        async with self.lock():
            seen = await self.fingerprint()
            if not force and await self.store.served_fingerprint() == seen.as_dict():
                await self.reader.prime(seen)
                return RunReport(version=None, skipped=True, reason="no data change")
            version = await self.store.begin(dataclasses.asdict(self.params), seen.as_dict(),
                                             self.worker_id)
            try:
                return await self._run(version, seen, progress)
            except BaseException as exc:
                with suppress(PyMongoError, RedisError):
                    await asyncio.shield(self.store.fail(version, f"{type(exc).__name__}: "
                                                                  f"{exc}"))
                raise

    async def _run(self, version: int, seen: Fingerprint,
                   progress: Progress | None) -> RunReport:
        log.info("analysis started", extra={"version": version, "inputs": seen.as_dict(),
                                            "worker": self.worker_id})
        started = time.perf_counter()
        if progress is not None:
            progress("reading", 0.0)
        loaded = await self.reader.read(seen)
        read_s = time.perf_counter() - started
        on_stage = _staged(progress, READ_SHARE, ANALYSE_SHARE)
        result = await asyncio.to_thread(analyse, loaded.inputs, self.params, on_stage)
        analyse_s = time.perf_counter() - started - read_s
        write_progress = _staged(progress, READ_SHARE + ANALYSE_SHARE,
                                 1 - READ_SHARE - ANALYSE_SHARE)
        if write_progress is not None:
            write_progress("writing", 0.0)
        rules = await asyncio.to_thread(analysis_export.rule_documents, result, version)
        await self.store.write_rules(version, rules)
        total = len(result.customer_index) + len(result.customers.merges)
        await self.store.write_customers(
            version, analysis_export.customer_documents(result, loaded, version), total,
            None if write_progress is None else lambda done: write_progress("writing", done))
        report = await asyncio.to_thread(analysis_export.report, result, loaded, version,
                                         datetime.now(UTC))
        write_s = time.perf_counter() - started - read_s - analyse_s
        seconds = {"read": round(read_s, 3), "analyse": round(analyse_s, 3),
                   "write": round(write_s, 3), "total": round(time.perf_counter() - started, 3)}
        summary = result.summary()
        pruned = await self.store.publish(version, report=report, summary=summary,
                                          counts=loaded.counts, seconds=seconds)
        if progress is not None:
            progress("done", 1.0)
        log.info("analysis published", extra={
            "version": version, "worker": self.worker_id, "seconds": seconds,
            "rules": summary["rules"], "tiers": summary["tiers"],
            "incremental_read": loaded.incremental,
            "pruned": pruned})
        return RunReport(version=version, incremental=loaded.incremental, summary=summary,
                         counts=loaded.counts, seconds=seconds, pruned=tuple(pruned))

    async def watch(self, interval: float, stop: asyncio.Event,
                    on_run: Callable[[RunReport], None] | None = None) -> None:
        """Until ``stop``: every ``interval`` seconds, rerun when the inputs changed (counts,
        newest purchase, data-version counter); restore Redis hot parts if they were lost.
        Backend errors are logged and retried with a capped backoff."""
        delay = interval
        while not stop.is_set():
            try:
                await self.store.rewarm()
                report = await self.run_once(force=False)
                if report.skipped:
                    log.debug("analysis skipped", extra={"reason": report.reason})
                if on_run is not None:
                    on_run(report)
                delay = interval
            except AnalysisBusy as exc:
                log.info("analysis skipped: another worker holds the lock",
                         extra={"holder": exc.details.get("holder", "")})
                delay = interval
            except AnalysisInputError as exc:
                delay = interval
                log.error("analysis refused its input", extra={"code": exc.code,
                                                                "error": str(exc)})
            except (PyMongoError, RedisError, OSError) as exc:
                delay = min(max(delay * 2, 1.0), max(interval, 60.0))
                log.warning("analysis pass failed; retrying",
                            extra={"error": f"{type(exc).__name__}: {exc}", "retry_in": delay})
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
