from django.urls import path, re_path

from accounts import sso_views, views, views_twofactor

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("account/", views.account, name="account"),
    path("account/name/", views.account_name, name="account_name"),
    path("account/two-factor/setup/", views_twofactor.two_factor_setup, name="two_factor_setup"),
    path(
        "account/two-factor/replace/", views_twofactor.two_factor_replace, name="two_factor_replace"
    ),
    path(
        "account/two-factor/recovery-codes/",
        views_twofactor.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path(
        "account/two-factor/disable/", views_twofactor.two_factor_disable, name="two_factor_disable"
    ),
    path("organization/switch/", views.organization_switch, name="organization_switch"),
    path(
        "organization/security/",
        views_twofactor.organization_security,
        name="organization_security",
    ),
    path("users/", views.user_list, name="user_list"),
    path("users/invite/", views.member_add, name="member_add"),
    path("users/<int:member_id>/", views.member_detail, name="member_detail"),
    path("users/<int:member_id>/role/", views.member_role, name="member_role"),
    re_path(
        r"^users/(?P<member_id>[0-9]+)/(?P<action>suspend|reactivate|remove)/$",
        views.member_action,
        name="member_action",
    ),
    path("users/<int:member_id>/invite/", views.member_invite, name="member_invite"),
    path(
        "users/<int:member_id>/invitation/revoke/",
        views.member_invitation_revoke,
        name="member_invitation_revoke",
    ),
    path("groups/", views.group_list, name="group_list"),
    path("groups/<int:group_id>/", views.group_detail, name="group_detail"),
    path("groups/<int:group_id>/admin/", views.group_admin_mapping, name="group_admin_mapping"),
    path("activity/", views.activity, name="activity"),
    path("activity/audit.csv", views.activity_csv, name="activity_csv"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("sso/callback/", sso_views.sso_callback, name="sso_callback"),
    path("sso/<slug:organization>/", sso_views.sso_start, name="sso_start"),
    path("sso/<slug:organization>/test/", sso_views.sso_test, name="sso_test"),
]
