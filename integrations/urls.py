from django.urls import path

from integrations import views

urlpatterns = [
    # Before "<slug:slug>/", which would take "deprovision-guard" or "domains" for a provider.
    path(
        "deprovision-guard/", views.deprovision_guard_overview, name="integration_deprovision_guard"
    ),
    path(
        "deprovision-guard/settings/",
        views.deprovision_guard_settings,
        name="integration_deprovision_guard_settings",
    ),
    path(
        "deprovision-guard/<int:hold_id>/",
        views.deprovision_hold_detail,
        name="integration_deprovision_hold",
    ),
    path(
        "deprovision-guard/<int:hold_id>/<slug:decision>/",
        views.deprovision_hold_decide,
        name="integration_deprovision_decide",
    ),
    path("domains/", views.email_domains, name="integration_email_domains"),
    path("domains/add/", views.email_domain_add, name="integration_email_domain_add"),
    path(
        "domains/<int:domain_id>/check/",
        views.email_domain_check,
        name="integration_email_domain_check",
    ),
    path(
        "domains/<int:domain_id>/remove/",
        views.email_domain_remove,
        name="integration_email_domain_remove",
    ),
    path("", views.integration_list, name="integration_list"),
    path("<slug:slug>/", views.integration_detail, name="integration_detail"),
    path("<slug:slug>/credentials/", views.credentials_issue, name="integration_credentials"),
    path(
        "<slug:slug>/credentials/regenerate/",
        views.credentials_regenerate,
        name="integration_regenerate",
    ),
    path("<slug:slug>/credentials/revoke/", views.credentials_revoke, name="integration_revoke"),
    path("<slug:slug>/sso/", views.sso_save, name="integration_sso_save"),
    path("<slug:slug>/sso/policy/", views.sso_policy, name="integration_sso_policy"),
    path("<slug:slug>/sso/remove/", views.sso_remove, name="integration_sso_remove"),
]
