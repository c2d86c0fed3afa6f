"""The Django app: applies settings to the engine and registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import setting_changed


class DjangoJobqueueConfig(AppConfig):
    name = "django_jobqueue"
    verbose_name = "Job queue"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the checks)

        apply_settings()
        setting_changed.connect(_on_setting_changed)


def apply_settings() -> None:
    """Parse JOBQUEUE again; give the engine its signing key (from SECRET_KEY unless set)
    and key prefix; forget the clients of the previous settings."""
    from .engine import keys, serializers
    from .integration import clients, settings

    settings.reset()
    clients.reset()
    loaded = settings.load()
    serializers.set_signing_key(loaded.signing_key)
    keys.set_prefix(loaded.key_prefix)


def _on_setting_changed(setting: str, **_: object) -> None:
    if setting in ("JOBQUEUE", "SECRET_KEY", "CACHES", "TIME_ZONE"):  # TIME_ZONE: PERIODIC
        apply_settings()
