"""The SCIM 2.0 service provider (RFC 7643/7644), built over django-scim2's routes and hooks."""
