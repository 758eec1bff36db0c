from tests.orders.helpers import shop  # noqa: F401
