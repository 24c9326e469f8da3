"""A customer's order end to end in a real browser, against the services running as processes and a
real Keycloak: the login is Keycloak's own login page, the notification goes over HTTP with the
shop's real service token, and the notification service's admin shows who sent it."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.stack import in_ci

try:
    from playwright.sync_api import expect
except ImportError:  # conftest's chromium_executable says how to install it
    if in_ci():
        raise
    pytest.skip("the Python package playwright is not installed (requirements-dev.txt)", allow_module_level=True)

pytestmark = pytest.mark.keycloak

PRODUCT = "Mechanical keyboard"  # seeded by shop/migrations/0002_seed_demo_products.py
DELIVERY_WAIT = 20.0  # seconds for the order's e-mail to show as sent


def test_customer_orders_and_the_notification_admin_shows_it_sent_by_shop_api(steps, stack, keycloak):
    page = steps.page
    customer_email = "demo@example.com"

    with steps.step("shop home"):
        page.goto(f"{stack.shop_origin}/")
        expect(page.get_by_role("heading", name="Products", exact=True)).to_be_visible()

    with steps.step("keycloak login page"):
        page.get_by_role("link", name="Log in", exact=True).click()
        page.wait_for_url(
            re.compile(re.escape(f"{keycloak.public_url}/realms/techstore/protocol/openid-connect/auth?"))
        )
        expect(page.locator("#kc-form-login")).to_be_visible()

    with steps.step("logged in"):
        page.locator("#username").fill("demo")
        page.locator("#password").fill(keycloak.secrets["KEYCLOAK_DEMO_PASSWORD"])
        page.locator("#kc-login").click()
        page.wait_for_url(f"{stack.shop_origin}/")
        expect(page.locator("header .who")).to_have_text(customer_email)

    with steps.step("added to cart"):
        card = page.locator(".card").filter(has=page.get_by_role("heading", name=PRODUCT, exact=True))
        card.get_by_label("Qty").fill("2")
        card.get_by_role("button", name="Add to cart").click()
        expect(page.locator(".messages .success")).to_have_text(f"Added 2 × {PRODUCT} to your cart.")

    with steps.step("cart"):
        page.get_by_role("navigation").get_by_role("link", name="Cart").click()
        expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody tr td").first).to_have_text(PRODUCT)
        expect(page.locator("tfoot")).to_contain_text("€178.00")

    with steps.step("order placed"):
        page.get_by_role("button", name="Place order").click()
        page.wait_for_url(f"{stack.shop_origin}/orders/")
        placed = page.locator(".messages .success")
        expect(placed).to_have_text(
            re.compile(r"^Thank you! Order \d+ is placed; a confirmation e-mail is on its way\.$")
        )
        order_id = re.search(r"Order (\d+)", placed.inner_text()).group(1)

    with steps.step("my orders: notification delivered"):
        page.get_by_role("navigation").get_by_role("link", name="My orders").click()
        order = page.locator(".card").filter(has=page.get_by_role("heading", name=re.compile(rf"^Order {order_id}\b")))
        expect(order).to_contain_text(f"2 × {PRODUCT}")
        badge = order.locator(".badge")
        deadline = time.monotonic() + DELIVERY_WAIT
        while badge.inner_text() != "sent" and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        expect(order).to_contain_text(f"Confirmation e-mail to {customer_email}:")
        expect(badge).to_have_text("sent")
        expect(badge).to_have_class(re.compile(r"\bdelivered\b"))

    with steps.step("notification admin login"):
        page.goto(f"{stack.notifications.url}/admin/")
        page.locator("#id_username").fill(stack.admin_username)
        page.locator("#id_password").fill(stack.admin_password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    with steps.step("notification admin: the order's notification"):
        page.locator("tr.model-notification th a").click()
        row = page.locator("#result_list tbody tr").filter(
            has=page.locator(".field-order_id", has_text=re.compile(rf"^{order_id}$"))
        )
        expect(row).to_have_count(1)
        expect(row.locator("td.field-sender")).to_have_text("shop-api")
        expect(row.locator("td.field-recipient")).to_have_text(customer_email)
        expect(row.locator("td.field-status")).to_have_text("Sent")

    assert steps.failed_responses == [], "requests to the services failed"
    assert steps.console_errors == [], "errors in the pages' consoles"
