from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Listed in INSTALLED_APPS for its one management command, `bench`; it has no models."""

    name = "bench"
    verbose_name = "Bench"
