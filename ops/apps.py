from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operating Podium: health and readiness probes, Prometheus metrics, the event loop's lag, JSON logs."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ops"

    def ready(self) -> None:
        from ops.metrics import metrics_register

        metrics_register()
