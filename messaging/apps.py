from django.apps import AppConfig
from django.db.models.signals import post_save


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from backoffice.models import ReverbAccount

        from . import contributions
        from .defaults import give_new_account_a_floor

        contributions.add_all()

        post_save.connect(
            give_new_account_a_floor, sender=ReverbAccount, dispatch_uid="messaging.default_floor"
        )
