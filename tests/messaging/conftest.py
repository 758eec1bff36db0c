from tests.orders.helpers import other_shop, shop  # noqa: F401
