"""The listings app's public URLs, outside the admin: uploaded photos for Reverb to fetch (found by their
random name only). Mounted by backoffice/urls.py at MEDIA_URL."""

from django.urls import re_path

from . import photos

urlpatterns = [
    re_path(rf"^{photos.FOLDER}/(?P<name>{photos.NAME_PATTERN})$", photos.serve, name="listing_photo"),
]
