from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from backoffice.background import webhooks
from backoffice.pages import inbox, sync_log

urlpatterns = [
    # Admin-look pages outside ModelAdmin go before admin/ (whose catch-all would claim them).
    path("admin/sync-log/", admin.site.admin_view(sync_log.sync_log), name="sync_log"),
    path("admin/inbox/", admin.site.admin_view(inbox.inbox), name="cs_inbox"),
    path("admin/", admin.site.urls),
    path("api/", include("inventory.urls")),
    path("webhooks/reverb/<str:secret>/", webhooks.receive, name="reverb_webhook"),
    # Uploaded listing photos, public for Reverb to fetch (listings/urls.py).
    path(f"{settings.MEDIA_URL.strip('/')}/", include("listings.urls")),
]

handler403 = "backoffice.pages.render.permission_denied"
