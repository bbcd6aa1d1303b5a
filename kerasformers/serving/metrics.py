"""Prometheus metrics of one server (own registry, so several apps in one process never clash)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kerasformers_requests",
            "HTTP requests by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kerasformers_request_latency_seconds",
            "Request latency to the last byte.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "kerasformers_batch_size",
            "Rows per forward pass or decode loop.",
            ["queue"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kerasformers_queue_depth", "Requests waiting for a batch.", ["queue"], registry=self.registry
        )
        self.in_flight = Gauge(
            "kerasformers_in_flight_requests", "Requests being served now.", registry=self.registry
        )
        self.rejected = Counter(
            "kerasformers_rejected", "Requests refused by a limit.", ["reason"], registry=self.registry
        )
        self.active_rows = Gauge(
            "kerasformers_generation_active_rows",
            "Generation rows still decoding (cancelled rows leave at once).",
            registry=self.registry,
        )
        self.cancelled = Counter(
            "kerasformers_generation_cancelled",
            "Generation requests whose client went away.",
            registry=self.registry,
        )

    def render(self):
        return generate_latest(self.registry)
