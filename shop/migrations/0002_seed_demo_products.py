"""Demo products, so that a fresh shop has something to sell. Idempotent: existing SKUs are kept as they are."""

from decimal import Decimal

from django.db import migrations

DEMO_PRODUCTS = [
    ("TS-KB-01", "Mechanical keyboard", "Tenkeyless, hot-swappable switches, USB-C.", "89.00"),
    ("TS-MS-01", "Wireless mouse", "Silent clicks, 70 days on one charge.", "34.90"),
    ("TS-MN-27", "27-inch monitor", "2560x1440, 144 Hz, height-adjustable stand.", "279.00"),
    ("TS-HS-01", "USB-C headset", "Closed-back, detachable microphone.", "59.50"),
    ("TS-DK-01", "Laptop dock", "Two displays, Ethernet, 100 W charging.", "129.00"),
    ("TS-CB-02", "USB-C cable, 2 m", "240 W, braided.", "12.90"),
]


def seed(apps, schema_editor):
    Product = apps.get_model("shop", "Product")
    for sku, name, description, price in DEMO_PRODUCTS:
        Product.objects.get_or_create(
            sku=sku, defaults={"name": name, "description": description, "price": Decimal(price)}
        )


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
