from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401 - registers the checks and connects the receivers
