"""SCIM routes under a Tenant URL: django-scim2's layout (and its `scim:` names), our views.

Mounted at `scim/v2/<tenant id>/`. Paths tolerate a trailing slash and a doubled slash, which
identity providers produce when the admin pastes the Tenant URL with a trailing `/`.
"""

from django.urls import re_path

from integrations.scim import views

app_name = "scim"

ID = r"(?:/+(?P<uuid>[^/]+))?/*$"

urlpatterns = [
    re_path(r"^(?:/*)$", views.NotSupportedView.as_view(), name="root"),
    re_path(r"^(?:/*)\.search/*$", views.RootSearchView.as_view(), name="search"),
    re_path(r"^(?:/*)Users/+\.search/*$", views.UserSearchView.as_view(), name="users-search"),
    re_path(r"^(?:/*)Users" + ID, views.UsersView.as_view(), name="users"),
    re_path(r"^(?:/*)Groups/+\.search/*$", views.GroupSearchView.as_view(), name="groups-search"),
    re_path(r"^(?:/*)Groups" + ID, views.GroupsView.as_view(), name="groups"),
    re_path(r"^(?:/*)Me" + ID, views.NotSupportedView.as_view(), name="me"),
    re_path(r"^(?:/*)Bulk/*$", views.NotSupportedView.as_view(), name="bulk"),
    re_path(
        r"^(?:/*)ServiceProviderConfigs?/*$",
        views.ServiceProviderConfigView.as_view(),
        name="service-provider-config",
    ),
    re_path(r"^(?:/*)ResourceTypes" + ID, views.ResourceTypesView.as_view(), name="resource-types"),
    re_path(r"^(?:/*)Schemas" + ID, views.SchemasView.as_view(), name="schemas"),
    # Any character, line breaks too: a path with an encoded line break (`%0A`) is still a SCIM
    # path and gets the SCIM 404 body, not the panel's HTML page. (No (?s) flag: the URL
    # resolver cannot reverse it.)
    re_path(r"^[\s\S]*$", views.UnknownEndpointView.as_view(), name="unknown"),
]
