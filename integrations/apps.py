from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from accounts.models import Organization
        from integrations import credential_cache
        from integrations.models import ScimToken

        # Any saved or deleted organization or token ends the cached verifications of its tenant.
        for signal in (post_save, post_delete):
            signal.connect(credential_cache.organization_changed, sender=Organization)
            signal.connect(credential_cache.token_changed, sender=ScimToken)
