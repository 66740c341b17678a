from django.urls import path

from integrations import views

urlpatterns = [
    # Before "<slug:slug>/", which would take "deprovision-guard" for a provider.
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
    path("", views.integration_list, name="integration_list"),
    path("<slug:slug>/", views.integration_detail, name="integration_detail"),
    path("<slug:slug>/credentials/", views.credentials_issue, name="integration_credentials"),
    path(
        "<slug:slug>/credentials/regenerate/",
        views.credentials_regenerate,
        name="integration_regenerate",
    ),
    path("<slug:slug>/credentials/revoke/", views.credentials_revoke, name="integration_revoke"),
]
