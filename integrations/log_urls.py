"""The provisioning log, mounted at /activity/provisioning/ next to the audit log."""

from django.urls import path

from integrations import views

urlpatterns = [
    path("", views.provisioning_log, name="provisioning_log"),
    path("export.csv", views.provisioning_log_csv, name="provisioning_log_csv"),
    path("<int:entry_id>/", views.provisioning_log_entry, name="provisioning_log_entry"),
]
