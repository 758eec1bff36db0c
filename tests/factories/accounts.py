from __future__ import annotations

from typing import Any

import factory

from backoffice.models import ReverbAccount
from tests.conftest import EMULATOR_API_URL, EMULATOR_TOKEN


class AccountFactory(factory.django.DjangoModelFactory):
    """A Reverb account pointing at the in-process emulator (use with the `emulator` fixture).

    AccountFactory(token="...") sets another token; token="" leaves none.
    """

    class Meta:
        model = ReverbAccount
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"shop-{n}")
    api_url = EMULATOR_API_URL
    currency = "USD"

    @factory.post_generation
    def token(obj: ReverbAccount, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.set_token(EMULATOR_TOKEN if extracted is None else extracted)
        if create:
            obj.save(update_fields=["token_encrypted"])
