from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete, post_save


def check_domain_verification_nameservers(**kwargs: Any) -> list[checks.CheckMessage]:
    """A malformed DOMAIN_VERIFICATION_NAMESERVERS stops `migrate`, `check` and the dev server at
    start, not an owner's "Check now" later."""
    from django.conf import settings

    from integrations.domains import _nameservers

    try:
        _nameservers(settings.DOMAIN_VERIFICATION_NAMESERVERS)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="integrations.E001")]
    return []


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        checks.register(check_domain_verification_nameservers)
        from nordpass_admin import checks as scale_out

        checks.register(scale_out.check_shared_cache, scale_out.TAG)
        from accounts.models import Organization
        from integrations import credential_cache
        from integrations.models import ScimToken

        # Any saved or deleted organization or token ends the cached verifications of its tenant.
        for signal in (post_save, post_delete):
            signal.connect(credential_cache.organization_changed, sender=Organization)
            signal.connect(credential_cache.token_changed, sender=ScimToken)
