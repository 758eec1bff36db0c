from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from . import hooks  # noqa: F401  (connects the receivers of mirror writes)
