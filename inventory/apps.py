from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory from other channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backoffice.sync.reconcile import register_page_checker

        from . import drift

        register_page_checker("listings", drift.stock_drift)
