"""Keys that may be taken once: a form's single-use token, a creation of one SKU under way (issue 16 item 5).

A row's existence is the lock: the database's unique index decides which of two concurrent requests wins,
whatever the database (no select_for_update needed, so SQLite and PostgreSQL behave alike)."""

from __future__ import annotations

from django.db import models


class OnceKey(models.Model):
    key = models.CharField(max_length=200, unique=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # Where what the first submit made can be seen (a listing's page), for the second submit's message.
    result_url = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = "single-use key"

    def __str__(self) -> str:
        return self.key
