from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from . import api

urlpatterns = [
    path("v1/stock/", api.StockView.as_view(), name="api_stock"),
    path("v1/shipments/", api.ShipmentsView.as_view(), name="api_shipments"),
    path("v1/listings/", api.ListingsView.as_view(), name="api_listings"),
    path("v1/orders/", api.OrdersView.as_view(), name="api_orders"),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="api_schema",
    ),
]
