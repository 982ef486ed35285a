"""Podium's Prometheus metrics, read when /metrics is scraped.

Runs execute in whichever process took them (a web process with the embedded
worker, or `runworker` processes with no HTTP at all), so what concerns runs,
sandboxes, pools and checks is read from the database, where every process
writes it: the figures are the deployment's, whichever web process answers.
What only a process knows is its own: open websockets by kind
(`ops.sockets`), followers per talk (`config.fanout`), and the event loop's
lag (`ops.looplag`).
"""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from config.fanout import fanout_groups
from rooms.models import PoolSandbox, Room
from sandbox.models import CheckRecord, Run, Sandbox

FIRST_OUTPUT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RUN_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
CREATE_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
TALK_PREFIX = "talk."  # deck.groups.talk_group


def _histogram(name: str, documentation: str, rows, field: str, buckets: tuple[float, ...]) -> HistogramMetricFamily:
    """A histogram of the millisecond column `field` of `rows`, in seconds, counted in one query."""
    known = rows.filter(**{f"{field}__isnull": False})
    counts = known.aggregate(
        total=Count("pk"),
        sum_ms=Sum(field),
        **{f"le{i}": Count("pk", filter=Q(**{f"{field}__lte": bound * 1000})) for i, bound in enumerate(buckets)},
    )
    cumulative = [(repr(bound), counts[f"le{index}"]) for index, bound in enumerate(buckets)]
    return HistogramMetricFamily(
        name,
        documentation,
        buckets=[*cumulative, ("+Inf", counts["total"])],
        sum_value=(counts["sum_ms"] or 0) / 1000,
    )


class PodiumCollector:
    """The deployment's figures from the database, and this process's followers, at each scrape."""

    def describe(self):
        # What the registry asks when the collector is added; nothing, so no database is read at start-up
        # (the registry then skips its duplicate-name check for these figures).
        return []

    def collect(self):
        yield from self._runs()
        yield from self._sandboxes()
        yield from self._rooms()
        yield from self._followers()

    def _runs(self):
        started = CounterMetricFamily("podium_runs_started", "Runs whose code started, by kind.", labels=["kind"])
        for row in Run.objects.filter(started_at__isnull=False).values("kind").annotate(n=Count("pk")):
            started.add_metric([row["kind"]], row["n"])
        yield started
        finished = CounterMetricFamily(
            "podium_runs_finished", "Runs that ended, by status and kind.", labels=["status", "kind"]
        )
        for row in Run.objects.filter(finished_at__isnull=False).values("status", "kind").annotate(n=Count("pk")):
            finished.add_metric([row["status"], row["kind"]], row["n"])
        yield finished
        waiting = GaugeMetricFamily(
            "podium_runs_active", "Runs queued (the workers' backlog) or running.", labels=["status"]
        )
        active = dict(Run.objects.filter(status__in=Run.ACTIVE).values_list("status").annotate(n=Count("pk")))
        for status in Run.ACTIVE:
            waiting.add_metric([status], active.get(status, 0))
        yield waiting
        yield _histogram(
            "podium_run_first_output_seconds",
            "From the click on Run to the run's first output reaching the pages.",
            Run.objects.all(),
            "first_output_ms",
            FIRST_OUTPUT_BUCKETS,
        )
        yield _histogram(
            "podium_run_duration_seconds",
            "How long runs ran, from the start of their code to their end.",
            Run.objects.filter(finished_at__isnull=False),
            "duration_ms",
            RUN_BUCKETS,
        )
        checks = GaugeMetricFamily(
            "podium_checks", "The latest answer of each attendee's step checks.", labels=["result"]
        )
        done = dict(CheckRecord.objects.values_list("done").annotate(n=Count("pk")))
        checks.add_metric(["passed"], done.get(True, 0))
        checks.add_metric(["failed"], done.get(False, 0))
        yield checks

    def _sandboxes(self):
        states = GaugeMetricFamily("podium_sandboxes", "Attendees' sandboxes, by state.", labels=["state"])
        counted = dict(Sandbox.objects.values_list("status").annotate(n=Count("pk")))
        for state in Sandbox.Status.values:
            states.add_metric([state], counted.get(state, 0))
        yield states
        yield _histogram(
            "podium_sandbox_create_seconds",
            "How long the backend took to make a sandbox.",
            Sandbox.objects.all(),
            "create_ms",
            CREATE_BUCKETS,
        )

    def _rooms(self):
        size = GaugeMetricFamily("podium_pool_size", "The warm pool size each open room asked for.", labels=["room"])
        ready = GaugeMetricFamily(
            "podium_pool_ready", "Sandboxes ready in each open room's warm pool.", labels=["room"]
        )
        pooled = dict(
            PoolSandbox.objects.filter(sandbox__status=Sandbox.Status.READY, room__closed_at__isnull=True)
            .values_list("room__code")
            .annotate(n=Count("pk"))
        )
        for code, pool_size in Room.objects.filter(closed_at__isnull=True).values_list("code", "pool_size"):
            size.add_metric([code], pool_size)
            ready.add_metric([code], pooled.get(code, 0))
        yield size
        yield ready

    def _followers(self):
        followers = GaugeMetricFamily(
            "podium_followers", "Sockets of this process following each talk.", labels=["talk"]
        )
        for group, count in sorted(fanout_groups(TALK_PREFIX).items()):
            followers.add_metric([group.removeprefix(TALK_PREFIX)], count)
        yield followers


_registered = False


def metrics_register() -> None:
    """Add the collector to prometheus_client's registry, once per process."""
    global _registered
    if not _registered:
        REGISTRY.register(PodiumCollector())
        _registered = True
