"""Prometheus metrics, defined once here and updated by the engine, the pools and the routers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ITEMS_SCORED = Counter("referee_items_scored_total", "Item scores computed, per reward.", ["reward"])
SCORE_ERRORS = Counter(
    "referee_score_errors_total", "Item scores that came back null, per reward and kind.", ["reward", "kind"]
)
REWARD_LATENCY = Histogram(
    "referee_reward_seconds",
    "Time to compute one reward over one request's batch.",
    ["reward"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
REQUEST_LATENCY = Histogram(
    "referee_request_seconds",
    "End-to-end request latency, per endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
BATCH_ITEMS = Histogram(
    "referee_batch_items", "Items per request.", buckets=(1, 8, 32, 64, 128, 256, 512, 1024, 4096, 16384)
)
WORKER_POOL_SIZE = Gauge(
    "referee_worker_pool_size", "Live worker processes, per pool.", ["pool"], multiprocess_mode="livesum"
)
WORKER_RESTARTS = Counter(
    "referee_worker_restarts_total", "Worker processes replaced, per pool and reason.", ["pool", "reason"]
)
SANDBOX_RUNS = Counter(
    "referee_sandbox_runs_total",
    "Programs run by /v1/execute, per backend and status.",
    ["backend", "status"],
)
RM_BATCH_SIZE = Histogram(
    "referee_rm_batch_size", "Items per reward-model batch.", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
RM_QUEUE_WAIT = Histogram(
    "referee_rm_queue_wait_seconds",
    "Time an item waited for its reward-model batch.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
RM_TOKENS_PER_SECOND = Gauge(
    "referee_rm_tokens_per_second",
    "Generated tokens per second of the last batch.",
    multiprocess_mode="liveall",
)

JUDGE_REQUESTS = Counter(
    "referee_judge_requests_total",
    "HTTP requests to the judge model, per outcome (ok, rate_limited, server_error, timeout, "
    "connection_error, client_error, malformed); retries count again.",
    ["outcome"],
)
JUDGE_LATENCY = Histogram(
    "referee_judge_request_seconds",
    "Latency of one judge request, per outcome.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
JUDGE_CACHE_HITS = Counter(
    "referee_judge_cache_hits_total",
    "Judge prompts answered from the cache or by an identical one in flight.",
)
