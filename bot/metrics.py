"""Every Prometheus metric the bot exports, in one registry served at `/metrics` (bot.health).

Labels are bounded: outcomes, safety categories, API method names, SQL verbs — never channel,
user or message ids. The queue's numbers are not copied into metrics: `QueueCollector` reads
`Generator.stats()` at each scrape, the same `QueueStats` that `/gpt2 status` prints, so both
always agree. Everything else is recorded where it happens with a one-line call.

The platform adapters record PLATFORM_API_ERRORS and PLATFORM_RATE_LIMITED (Slack where every
Web API failure and 429 passes, Discord from aiohttp's request trace) and GATEWAY_RECONNECTS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from bot.inference.types import QueueStats

__all__ = [
    "BATCH_SIZE",
    "BUILD_INFO",
    "DB_QUERY_SECONDS",
    "FIRST_TOKEN_SECONDS",
    "GATEWAY_RECONNECTS",
    "OUTCOMES",
    "PLATFORM_API_ERRORS",
    "PLATFORM_RATE_LIMITED",
    "QUEUE",
    "QUEUE_WAIT_SECONDS",
    "REGISTRY",
    "REPLIES",
    "REPLY_SECONDS",
    "SAFETY_ACTIONS",
    "QueueCollector",
    "record_reply",
    "record_safety",
    "sql_verb",
]

REGISTRY = CollectorRegistry()
for _collector in (ProcessCollector, PlatformCollector, GCCollector):  # process_*, python_* metrics
    _collector(registry=REGISTRY)

# Seconds: from a fast CPU reply to a request that waits out the default 120 s timeout.
_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
_QUERY_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

OUTCOMES = ("chat", "busy", "timeout", "error", "refusal")
_SQL_VERBS = frozenset({"select", "insert", "update", "delete"})

BUILD_INFO = Gauge("gpt2bot_build_info", "always 1; the version is a label", ["version"], registry=REGISTRY)

# --- replies (bot.handler) ----------------------------------------------------------------
REPLIES = Counter(
    "gpt2bot_replies",
    "answers to chat messages, by outcome: chat, busy, timeout, error, refusal",
    ["outcome"],
    registry=REGISTRY,
)
REPLY_SECONDS = Histogram(
    "gpt2bot_reply_seconds",
    "from a chat message reaching the bot to its answer being handed to the platform",
    ["outcome"],
    buckets=_SECONDS,
    registry=REGISTRY,
)

# --- inference (bot.inference.queue) ------------------------------------------------------
QUEUE_WAIT_SECONDS = Histogram(
    "gpt2bot_queue_wait_seconds",
    "time a request waited in the inference queue before decoding began",
    buckets=_SECONDS,
    registry=REGISTRY,
)
FIRST_TOKEN_SECONDS = Histogram(
    "gpt2bot_time_to_first_token_seconds",
    "from a request entering the inference queue to its first generated text",
    buckets=_SECONDS,
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "gpt2bot_batch_size",
    "requests decoded together, per engine step",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)

# --- safety (bot.safety) ------------------------------------------------------------------
SAFETY_ACTIONS = Counter(
    "gpt2bot_safety_actions",
    "safety decisions other than allow, by category, direction (input/output) and action",
    ["category", "direction", "action"],
    registry=REGISTRY,
)

# --- storage (storage.database) -----------------------------------------------------------
DB_QUERY_SECONDS = Histogram(
    "gpt2bot_db_query_seconds",
    "database statement time, by SQL verb",
    ["verb"],
    buckets=_QUERY_SECONDS,
    registry=REGISTRY,
)

# --- platforms (recorded by adapters.slack_web and adapters.discord_trace / adapters.discord) ---
PLATFORM_API_ERRORS = Counter(
    "gpt2bot_platform_api_errors",
    "platform API calls that failed, by platform and API method (e.g. chat.update, POST /channels/{id}/messages)",
    ["platform", "method"],
    registry=REGISTRY,
)
PLATFORM_RATE_LIMITED = Counter(
    "gpt2bot_platform_rate_limited",
    "platform API calls answered 429 (rate limited), by platform and API method",
    ["platform", "method"],
    registry=REGISTRY,
)
GATEWAY_RECONNECTS = Counter(
    "gpt2bot_gateway_reconnects",
    "gateway or socket connections re-established after a drop, by platform",
    ["platform"],
    registry=REGISTRY,
)

for _outcome in OUTCOMES:  # every outcome is exported from the start, at 0
    REPLIES.labels(_outcome)
    REPLY_SECONDS.labels(_outcome)


def record_reply(outcome: str, seconds: float) -> None:
    """One chat message answered: `outcome` is one of OUTCOMES."""
    REPLIES.labels(outcome).inc()
    REPLY_SECONDS.labels(outcome).observe(seconds)


def record_safety(categories: Iterable[str], direction: str, action: str) -> None:
    """One safety decision other than allow, counted once per category it names."""
    for category in categories:
        SAFETY_ACTIONS.labels(category, direction, action.lower()).inc()


def sql_verb(statement: str) -> str:
    """The label for a SQL statement: its first word if a common verb, else 'other'."""
    verb = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else ""
    return verb if verb in _SQL_VERBS else "other"


class QueueCollector:
    """Reads the generator's `QueueStats` at each scrape: the numbers `/gpt2 status` shows."""

    def __init__(self) -> None:
        self._stats: Callable[[], QueueStats] | None = None

    def watch(self, stats: Callable[[], QueueStats] | None) -> None:
        """Export these stats (None: none; the bot has one generator at a time)."""
        self._stats = stats

    def collect(self) -> Sequence[Metric]:
        if self._stats is None:
            return []
        s = self._stats()
        gauges = {
            "gpt2bot_queue_waiting": ("requests waiting for the inference engine", s.waiting),
            "gpt2bot_queue_running": ("requests being decoded", s.running),
            "gpt2bot_queue_limit": ("inference.max_queue: waiting requests beyond this are answered busy", s.max_queue),
            "gpt2bot_batch_limit": ("most requests decoded together (max_batch fitted to memory)", s.max_batch),
            "gpt2bot_largest_batch": ("largest batch decoded since start", s.largest_batch),
        }
        counters = {
            "gpt2bot_generations": ("generations completed", s.completed),
            "gpt2bot_queue_rejected": ("requests refused because the queue was full", s.rejected),
            "gpt2bot_generated_tokens": ("tokens generated (rate() of this is tokens per second)", s.generated_tokens),
            "gpt2bot_prompt_tokens": ("prompt tokens admitted to the engine", s.prompt_tokens),
            "gpt2bot_prefix_cache_reused_tokens": ("prompt tokens taken from the prefix cache", s.reused_tokens),
        }
        metrics: list[Metric] = [GaugeMetricFamily(name, doc, value=value) for name, (doc, value) in gauges.items()]
        metrics += [CounterMetricFamily(name, doc, value=value) for name, (doc, value) in counters.items()]
        return metrics


QUEUE = QueueCollector()
REGISTRY.register(QUEUE)
