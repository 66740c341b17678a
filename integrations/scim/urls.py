"""SCIM routes under a Tenant URL: django-scim2's layout (and its `scim:` names), our views.

Mounted at `scim/v2/<tenant id>/`. Paths tolerate a trailing slash and a doubled slash, which
identity providers produce when the admin pastes the Tenant URL with a trailing `/`, and endpoint
names in any letter case (`/users`, `/serviceproviderconfig`): RFC 7644 §3.2 spells them one way,
but clients and their test suites write them as they like, and a 404 there is a user who is never
provisioned. Resource ids keep their exact form.
"""

import re

from django.urls import re_path

from integrations.scim import views

app_name = "scim"

ID = r"(?:/+(?P<uuid>[^/]+))?/*$"


def name(word: str) -> str:
    """`word` in any letter case, as a regex that still reverses to `word` as written.

    Not `(?i:...)`: Django's URL reverser drops such a group, so `Location` URLs would lose the
    endpoint name. A character class reverses to its first character, the one written here.
    """
    return "".join(f"[{c}{c.swapcase()}]" if c.isalpha() else re.escape(c) for c in word)


urlpatterns = [
    re_path(r"^(?:/*)$", views.NotSupportedView.as_view(), name="root"),
    re_path(r"^(?:/*)" + name(".search") + r"/*$", views.RootSearchView.as_view(), name="search"),
    re_path(
        r"^(?:/*)" + name("Users") + r"/+" + name(".search") + r"/*$",
        views.UserSearchView.as_view(),
        name="users-search",
    ),
    re_path(r"^(?:/*)" + name("Users") + ID, views.UsersView.as_view(), name="users"),
    re_path(
        r"^(?:/*)" + name("Groups") + r"/+" + name(".search") + r"/*$",
        views.GroupSearchView.as_view(),
        name="groups-search",
    ),
    re_path(r"^(?:/*)" + name("Groups") + ID, views.GroupsView.as_view(), name="groups"),
    re_path(r"^(?:/*)" + name("Me") + ID, views.NotSupportedView.as_view(), name="me"),
    re_path(r"^(?:/*)" + name("Bulk") + r"/*$", views.NotSupportedView.as_view(), name="bulk"),
    re_path(
        r"^(?:/*)" + name("ServiceProviderConfig") + r"[sS]?/*$",
        views.ServiceProviderConfigView.as_view(),
        name="service-provider-config",
    ),
    re_path(
        r"^(?:/*)" + name("ResourceTypes") + ID,
        views.ResourceTypesView.as_view(),
        name="resource-types",
    ),
    re_path(r"^(?:/*)" + name("Schemas") + ID, views.SchemasView.as_view(), name="schemas"),
    # Any character, line breaks too: a path with an encoded line break (`%0A`) is still a SCIM
    # path and gets the SCIM 404 body, not the panel's HTML page. (No (?s) flag: the URL
    # resolver cannot reverse it.)
    re_path(r"^[\s\S]*$", views.UnknownEndpointView.as_view(), name="unknown"),
]
