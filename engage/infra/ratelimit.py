"""Token-bucket rate limiting and refusal windows (pure: the caller passes the clock)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` tokens per second refill up to ``burst``; each event takes ``cost``."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate and burst must be positive")
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are enough; refill first by elapsed time."""
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens will be available."""
        missing = cost - self.tokens
        return max(0.0, missing / self.rate)


@dataclass
class RefusalWindow:
    """Counts refusals over a sliding window: more than ``limit`` within ``window`` seconds is a
    flood. Accepted events in between change nothing, so interleaving valid events cannot
    hide a flood; only the newest ``limit + 1`` times are kept, so memory stays bounded."""

    limit: int
    window: float
    times: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.window <= 0:
            raise ValueError("limit and window must be positive")

    def refuse(self, now: float) -> bool:
        """Record one refusal at ``now``; True when the window now holds more than ``limit``."""
        self.times.append(now)
        if len(self.times) > self.limit + 1:
            self.times.popleft()
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        return len(self.times) > self.limit
