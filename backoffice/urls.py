from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from backoffice.background import webhooks
from backoffice.pages import inbox, sync_log
from listings import photos

urlpatterns = [
    # Admin-look pages outside ModelAdmin go before admin/ (whose catch-all would claim them).
    path("admin/sync-log/", admin.site.admin_view(sync_log.sync_log), name="sync_log"),
    path("admin/inbox/", admin.site.admin_view(inbox.inbox), name="cs_inbox"),
    path("admin/", admin.site.urls),
    path("api/", include("inventory.urls")),
    path("webhooks/reverb/<str:secret>/", webhooks.receive, name="reverb_webhook"),
    # Uploaded listing photos, public for Reverb to fetch (found by their random name only).
    re_path(
        rf"^{settings.MEDIA_URL.strip('/')}/{photos.FOLDER}/(?P<name>{photos.NAME_PATTERN})$",
        photos.serve,
        name="listing_photo",
    ),
]

handler403 = "backoffice.pages.render.permission_denied"
