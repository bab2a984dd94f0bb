"""Prometheus metrics: what an operator graphs and alerts on (served at `GET /metrics`)."""

from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "liquidbook_webhook_deliveries_total",
    "Webhook deliveries received, by event and outcome.",
    ["event", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "liquidbook_webhook_seconds",
    "Time from receiving a delivery to answering it.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
HANDLER_ERRORS = Counter(
    "liquidbook_handler_errors_total", "Handlers that raised, by event.", ["event"]
)
JOBS = Counter(
    "liquidbook_jobs_total", "Jobs finished, by function and outcome.", ["job", "outcome"]
)
JOB_SECONDS = Histogram(
    "liquidbook_job_seconds",
    "Job run time, by function.",
    ["job"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)

REDELIVERIES = Counter(
    "liquidbook_redeliveries_total",
    "Missed webhook deliveries the recovery asked GitHub to send again, by outcome "
    "(requested: GitHub accepted; refused: GitHub answered an error).",
    ["outcome"],
)


def record_outcome(job: str, outcome: str) -> None:
    """Count a finished job by outcome."""
    JOBS.labels(job=job, outcome=outcome).inc()
