"""The m2m_auth application: registers its system checks, and its OpenAPI extension when drf-spectacular is there."""

from django.apps import AppConfig


class M2MAuthConfig(AppConfig):
    name = "m2m_auth"
    verbose_name = "Service-to-service authentication"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks

        # drf-spectacular finds extensions by import; m2m_auth does not need it otherwise.
        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            return
        from . import schema  # noqa: F401 - registers the OpenAPI extension
