from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from accounts import views as account_views
from accounts.views_twofactor import login_two_factor
from nordpass_admin import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus; 404 unless METRICS_TOKEN is presented (nordpass_admin/metrics.py).
    path("metrics", metrics.metrics_view, name="metrics"),
    path("login/", account_views.SignInView.as_view(), name="login"),
    path("login/code/", login_two_factor, name="login_two_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("activity/provisioning/", include("integrations.log_urls")),
    path("", include("accounts.urls")),
    path("integrations/", include("integrations.urls")),
    # The Tenant URL: {SITE_URL}/scim/v2/{tenant id}. The tenant is checked with the token.
    re_path(r"^scim/v2/(?P<tenant_id>[^/]*)/?", include("integrations.scim.urls")),
    # Email provider delivery webhooks (bounces, complaints), behind ANYMAIL_WEBHOOK_SECRET.
    path("anymail/", include("anymail.urls")),
    path("django-admin/", admin.site.urls),
]
