from django.contrib import admin
from django.urls import include, path

from backoffice import views, webhooks

urlpatterns = [
    # Admin-look pages outside ModelAdmin go before admin/ (whose catch-all would claim them).
    path("admin/sync-log/", admin.site.admin_view(views.sync_log), name="sync_log"),
    path("admin/", admin.site.urls),
    path("api/", include("inventory.urls")),
    path("webhooks/reverb/<str:secret>/", webhooks.receive, name="reverb_webhook"),
]
