from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory from other channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backoffice.sync.reconcile import register_page_checker
        from refunds.signals import return_approved

        from . import drift, plugins, returns

        register_page_checker("listings", drift.stock_drift)
        plugins.plug_in()
        return_approved.connect(returns.on_return_approved, dispatch_uid="inventory.restock_returned")
