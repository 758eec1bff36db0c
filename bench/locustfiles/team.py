"""The `team` scenario's Locust users (run by `bench --goals team`, see bench/goals/team.py): a team of twenty
on the back office, each a Manager member of the shop logged in through the admin login form.

TEAM_DATA names a JSON file the seeding worker wrote: the users' names and password, the integration's
API key, and ids to open (orders, listings, conversations, negotiations) and SKUs to push.
"""

from __future__ import annotations

import json
import os
import random
import re
import uuid
from typing import Any

from locust import HttpUser, between, task
from team_forms import first_choice, form_fields  # beside this file: Locust puts its folder on sys.path

DATA: dict[str, Any] = json.loads(open(os.environ["TEAM_DATA"]).read())  # noqa: SIM115 - read once
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
USERS = iter(DATA["users"])


class Staff(HttpUser):
    """A staff member: logs in once through the admin login form (CSRF and session cookie), then works."""

    abstract = True
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.username = next(USERS)
        page = self.client.get("/admin/login/?next=/admin/", name="login form")
        token = CSRF_RE.search(page.text)
        with self.client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "username": self.username,
                "password": DATA["password"],
                "next": "/admin/",
            },
            headers={"Referer": f"{self.host}/admin/login/"},
            name="login",
            catch_response=True,
        ) as answer:
            if answer.url is None or "/admin/login/" in answer.url:
                answer.failure(f"{self.username} not logged in")

    def open(self, url: str, name: str) -> Any:
        with self.client.get(url, name=name, catch_response=True) as answer:
            if answer.status_code != 200 or "/admin/login/" in (answer.url or ""):
                answer.failure(f"HTTP {answer.status_code} at {answer.url}")
            return answer


class Clerk(Staff):
    fixed_count = 7

    @task(4)
    def shipping_queue(self) -> None:
        self.open("/admin/orders/order/queue/", "shipping queue")

    @task(3)
    def order_page(self) -> None:
        self.open(f"/admin/orders/order/{random.choice(DATA['orders'])}/change/", "order page")

    @task(2)
    def orders_to_ship(self) -> None:
        self.open("/admin/orders/order/?status__exact=paid", "orders: status paid")

    @task(1)
    def order_search(self) -> None:
        self.open(f"/admin/orders/order/?q={random.choice(DATA['order_numbers'])}", "orders: search number")


class CustomerService(Staff):
    fixed_count = 6

    @task(4)
    def inbox(self) -> None:
        self.open("/admin/inbox/", "inbox")

    @task(2)
    def offers(self) -> None:
        self.open("/admin/messaging/negotiation/inbox/", "offers inbox")

    @task(2)
    def conversation(self) -> None:
        pk = random.choice(DATA["conversations"])
        self.open(f"/admin/messaging/conversation/{pk}/thread/", "conversation thread")

    @task(2)
    def offer(self) -> None:
        self.open(f"/admin/messaging/negotiation/{random.choice(DATA['negotiations'])}/offer/", "offer page")

    @task(1)
    def conversations(self) -> None:
        self.open("/admin/messaging/conversation/", "conversations list")


class Bookkeeper(Staff):
    fixed_count = 1

    @task(3)
    def report(self) -> None:
        self.open(f"/admin/payouts/payout/reconciliation/?{DATA['last_30_days']}", "payouts report")

    @task(1)
    def payouts(self) -> None:
        self.open("/admin/payouts/payout/", "payouts list")

    @task(1)
    def line_items(self) -> None:
        self.open("/admin/payouts/payoutlineitem/", "payout line items list")


class Manager(Staff):
    fixed_count = 4

    @task(3)
    def search_sku(self) -> None:
        self.open(f"/admin/listings/listing/?q={random.choice(DATA['skus'])}", "listings: search SKU")

    @task(2)
    def search_title(self) -> None:
        words = f"guitar+model+{random.randint(1, 999)}"
        self.open(f"/admin/listings/listing/?q={words}", "listings: search title")

    @task(2)
    def listing_page(self) -> None:
        self.open(f"/admin/listings/listing/{random.choice(DATA['listings'])}/change/", "listing page")

    @task(1)
    def edit(self) -> None:
        url = f"/admin/listings/listing/{random.choice(DATA['listings'])}/edit/"
        page = self.open(url, "listing edit form")
        if page.status_code != 200:
            return
        fields = form_fields(page.text)
        fields["title"] = f"{fields.get('title', 'Guitar')[:60]} ({random.randint(1, 9999)})"
        fields["price"] = fields.get("price") or "1499.00"  # the seeded listings have no price or condition
        fields["condition"] = fields.get("condition") or first_choice(page.text, "condition")
        with self.client.post(
            url, data=fields, name="listing edit save", catch_response=True, allow_redirects=False
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"HTTP {answer.status_code}: the edit was not saved")


class Integration(HttpUser):
    """The shop's stock system: a batch of 50 SKUs every second or two through the stock API."""

    fixed_count = 2
    wait_time = between(1, 2)

    @task
    def push_stock(self) -> None:
        # 0 or 1: the seeded listings are used gear, which Reverb holds one of at most
        rows = [{"sku": sku, "quantity": random.randint(0, 1)} for sku in random.sample(DATA["skus"], 50)]
        with self.client.put(
            "/api/v1/stock/",
            json={"items": rows},
            headers={"Authorization": f"Bearer {DATA['api_key']}", "Idempotency-Key": uuid.uuid4().hex},
            name="/api/v1/stock/",
            catch_response=True,
        ) as answer:
            if answer.status_code != 200 or answer.json().get("refused"):
                answer.failure(f"HTTP {answer.status_code}: {answer.text[:200]}")
