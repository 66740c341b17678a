from django.urls import path

from integrations import views

urlpatterns = [
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
