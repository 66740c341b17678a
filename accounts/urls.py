from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("account/", views.account, name="account"),
    path("organization/switch/", views.organization_switch, name="organization_switch"),
    path("users/", views.user_list, name="user_list"),
    path("users/<int:member_id>/invite/", views.member_invite, name="member_invite"),
    path(
        "users/<int:member_id>/invitation/revoke/",
        views.member_invitation_revoke,
        name="member_invitation_revoke",
    ),
    path("groups/", views.group_list, name="group_list"),
    path("activity/", views.activity, name="activity"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
