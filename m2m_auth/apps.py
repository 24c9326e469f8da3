"""The m2m_auth application: registers its system checks at start-up."""

from django.apps import AppConfig


class M2MAuthConfig(AppConfig):
    name = "m2m_auth"
    verbose_name = "Service-to-service authentication"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks
