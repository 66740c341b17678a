"""SCIM endpoints, built on django-scim2's view classes and routes.

django-scim2 provides the URL layout and the adapter/settings plumbing; these subclasses own what
the library leaves out or does in ways that do not scale: tenancy on every query, filters compiled
to ORM expressions (no raw SQL), COUNT and pagination in the database, attribute projection that
never loads a group's members when they are excluded, ETags with If-Match, PATCH with Entra's and
Okta's dialects, and RFC 7644 error bodies everywhere.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django_scim import views as scim_views
from django_scim.settings import scim_settings

from accounts.models import Group, GroupMembership, Member
from integrations.deprovision_guard import deprovision_withdraw
from integrations.scim.errors import (
    InvalidFilter,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NotFound,
    NotImplementedFeature,
    PreconditionFailed,
    ScimError,
)
from integrations.scim.filters import GROUP_FILTER, USER_FILTER, compile_filter
from integrations.scim.groups import GROUP_SCHEMA, ScimGroup, member_ids
from integrations.scim.params import ListParams, project
from integrations.scim.patch import apply_patch
from integrations.scim.responses import list_body, scim_response
from integrations.scim.tenancy import request_organization, tenant_base_location
from integrations.scim.users import USER_SCHEMA, ScimUser, atomic_guarded

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
JSON_TYPES = ("application/scim+json", "application/json")
REDACTED_KEYS = frozenset({"password", "secret", "token", "authorization"})


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "[redacted]" if str(key).lower() in REDACTED_KEYS else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _has_nul(value: Any) -> bool:
    """NUL cannot be stored in PostgreSQL text or JSON, so it is refused up front (400), never
    left to fail in the database (500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# A member's groups as a JSON array of {"id", "name"} in the member's own row (PostgreSQL): a
# correlated subquery on the membership's member index. Names come from the models.
_GROUP_REFS_SQL = (  # noqa: S608 - identifiers from the models, no input
    "SELECT COALESCE(json_agg(json_build_object('id', g.{scim_id}, 'name', g.{name})), '[]')"
    " FROM {memberships} gm JOIN {groups} g ON g.{group_pk} = gm.{group_fk}"
    " WHERE gm.{member_fk} = {members}.{member_pk}"
).format(
    scim_id=Group._meta.get_field("scim_id").column,
    name=Group._meta.get_field("display_name").column,
    memberships=GroupMembership._meta.db_table,
    groups=Group._meta.db_table,
    group_pk=Group._meta.pk.column,
    group_fk=GroupMembership._meta.get_field("group").column,
    member_fk=GroupMembership._meta.get_field("member").column,
    members=Member._meta.db_table,
    member_pk=Member._meta.pk.column,
)


class ScimView(scim_views.SCIMView):
    """Base of every SCIM endpoint: the project's middleware, then the method handler."""

    implemented = True

    @method_decorator(csrf_exempt)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # django-scim2's AUTH_CHECK_MIDDLEWARE hook (our ScimRequestMiddleware) wraps the call.
        wrapped = scim_settings.AUTH_CHECK_MIDDLEWARE(self.handle)
        response: HttpResponse = wrapped(request, *args, **kwargs)
        return response

    def handle(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.implemented:
            raise NotImplementedFeature("This endpoint is not supported by this service.")
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise ScimError(f"{request.method} is not allowed here.", status=405)
        kwargs.pop("tenant_id", None)
        response: HttpResponse = getattr(self, method)(request, *args, **kwargs)
        return response

    def read_json(self, request: HttpRequest) -> dict[str, Any]:
        """The request body as a JSON object, or a clear 4xx for anything else."""
        limit = settings.SCIM_MAX_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit:
            raise ScimError(f"The request body is larger than {limit} bytes.", status=413)
        content_type = (request.content_type or "").lower()
        if content_type and content_type not in JSON_TYPES:
            raise ScimError(
                f"Send the body as application/scim+json, not {content_type}.", status=415
            )
        try:
            raw = request.body
        except RawPostDataException:  # pragma: no cover - the body is read once, here
            raw = b""
        if len(raw) > limit:
            raise ScimError(f"The request body is larger than {limit} bytes.", status=413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidSyntax("The request body is not valid UTF-8.") from None
        if not text.strip():
            raise InvalidSyntax("The request body is empty.")
        try:
            body = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise InvalidSyntax("The request body is nested too deeply.") from None
        except ValueError as exc:
            raise InvalidSyntax(f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(body, dict):
            raise InvalidSyntax("The request body must be a JSON object.")
        if _has_nul(body):
            raise InvalidValue("Text in the request may not contain NUL (\\u0000) characters.")
        request.scim_body_text = json.dumps(_redact(body), ensure_ascii=False)  # type: ignore[attr-defined]
        return body


class ResourceView(ScimView):
    """Users and Groups share everything but their adapter, filter table and sort keys."""

    adapter_class: ClassVar[type[ScimUser] | type[ScimGroup]]
    model: ClassVar[type[Model]]
    core_urn: ClassVar[str]
    endpoint: ClassVar[str]
    noun: ClassVar[str]
    filter_table: ClassVar[Any]
    sort_fields: ClassVar[dict[str, str]]
    http_method_names: ClassVar[list[str]] = ["get", "post", "put", "patch", "delete"]

    # --- lookups ---------------------------------------------------------------------------

    def base_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Every query starts here: this organization only, removed members excluded."""
        filter_kwargs = self.get_extra_filter_kwargs(request)
        exclude_kwargs = self.get_extra_exclude_kwargs(request)
        return self.model.objects.filter(**filter_kwargs).exclude(**exclude_kwargs)  # type: ignore[attr-defined]

    def find(self, request: HttpRequest, resource_id: str) -> Any:
        try:
            scim_id = uuid.UUID(resource_id)
        except ValueError:
            raise NotFound(f"{self.noun.capitalize()} {resource_id[:64]!r} not found.") from None
        # No default ordering: a member's Meta ordering would join and sort by organization.
        obj = self.base_queryset(request).filter(scim_id=scim_id).order_by().first()
        if obj is None:
            raise NotFound(f"{self.noun.capitalize()} {resource_id[:64]!r} not found.")
        # The middleware already loaded the organization; reuse it instead of a second query.
        obj.organization = request_organization(request)
        request.scim_resource_type = self.adapter_class.resource_type  # type: ignore[attr-defined]
        request.scim_resource_id = str(scim_id)  # type: ignore[attr-defined]
        return obj

    def check_precondition(self, request: HttpRequest, adapter: Any) -> None:
        """If-Match (RFC 7644 §3.14): refuse to change a resource someone else changed."""
        expected = request.headers.get("If-Match")
        if not expected or expected.strip() == "*":
            return
        tags = {tag.strip() for tag in expected.split(",")}
        strong = adapter.etag.removeprefix("W/")
        if adapter.etag not in tags and strong not in tags:
            raise PreconditionFailed(
                f"The {self.noun} changed since you read it (current version {adapter.etag})."
            )

    # --- rendering ---------------------------------------------------------------------------

    def render_many(
        self, request: HttpRequest, objects: list[Any], params: ListParams
    ) -> list[Any]:
        return [
            project(
                self.adapter_class(obj, request=request).to_dict(), params, core_urn=self.core_urn
            )
            for obj in objects
        ]

    def render_one(self, request: HttpRequest, obj: Any, params: ListParams) -> dict[str, Any]:
        return self.render_many(request, [obj], params)[0]

    def resource_response(
        self, request: HttpRequest, obj: Any, *, status: int = 200, params: ListParams | None = None
    ) -> HttpResponse:
        params = params or ListParams.projection_only(request.GET)
        adapter = self.adapter_class(obj, request=request)
        response = scim_response(
            self.render_one(request, obj, params), status=status, etag=adapter.etag
        )
        response["Location"] = adapter.location
        return response

    # --- list and search -------------------------------------------------------------------

    def search_queryset(self, request: HttpRequest, params: ListParams) -> QuerySet[Any]:
        """This organization's resources matching the filter, in the requested stable order."""
        queryset = self.base_queryset(request)
        if params.filter:
            queryset = queryset.filter(compile_filter(params.filter, self.filter_table))
        ordering = ["pk"]
        if params.sort_by:
            field = self.sort_fields.get(
                params.sort_by.lower().removeprefix(self.core_urn.lower() + ":")
            )
            if field is None:
                raise InvalidValue(f"Cannot sort by {params.sort_by!r}.")
            ordering = [f"-{field}" if params.descending else field, "pk"]
        return queryset.order_by(*ordering)

    def with_page_data(self, queryset: QuerySet[Any], params: ListParams) -> QuerySet[Any]:
        """The page's query, with anything rendering needs fetched alongside (not the COUNT)."""
        return queryset

    def list_response(self, request: HttpRequest, params: ListParams) -> HttpResponse:
        queryset = self.search_queryset(request, params)
        start = params.start_index - 1
        page_query = self.with_page_data(queryset, params)
        if start == 0 and params.count:
            page = list(page_query[: params.count])
            # A first page that is not full holds every result, so no COUNT is needed:
            # Entra's userName lookups (0 or 1 result) cost one query less.
            total = len(page) if len(page) < params.count else queryset.count()
        else:
            total = queryset.count()
            # A startIndex past the last result is an empty page (RFC 7644 §3.4.2.4), answered
            # without a query: the database cannot take an OFFSET beyond its integer range.
            page = (
                list(page_query[start : start + params.count])
                if params.count and start < total
                else []
            )
        resources = self.render_many(request, page, params)
        request.scim_outcome = (  # type: ignore[attr-defined]
            f"Found {total} {self.noun}{'s' if total != 1 else ''}"
            + (f" for {params.filter[:120]}" if params.filter else "")
        )
        request.scim_resource_type = self.adapter_class.resource_type  # type: ignore[attr-defined]
        return scim_response(list_body(resources, total=total, start_index=params.start_index))

    # --- HTTP methods ----------------------------------------------------------------------

    def get(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            return self.list_response(request, ListParams.parse(request.GET))
        obj = self.find(request, uuid)
        adapter = self.adapter_class(obj, request=request)
        if request.headers.get("If-None-Match", "").strip() in (adapter.etag, "*"):
            return scim_response(None, status=304, etag=adapter.etag)
        request.scim_outcome = f"Read {self.noun} {self.label(obj)}"  # type: ignore[attr-defined]
        return self.resource_response(request, obj)

    def post(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        if uuid is not None:
            raise ScimError("POST goes to the collection, not to a resource.", status=405)
        body = self.read_json(request)
        new: Any = self.model(organization=request_organization(request))
        adapter = self.adapter_class(new, request=request)
        adapter.from_dict(body)
        with transaction.atomic():
            adapter.save()
        obj = adapter.obj
        request.scim_created = True  # type: ignore[attr-defined]
        request.scim_resource_type = self.adapter_class.resource_type  # type: ignore[attr-defined]
        request.scim_resource_id = str(obj.scim_id)  # type: ignore[attr-defined]
        request.scim_outcome = f"Created {self.noun} {self.label(obj)}"  # type: ignore[attr-defined]
        return self.resource_response(request, obj, status=201)

    def put(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            raise ScimError("PUT needs a resource id in the path.", status=405)
        obj = self.find(request, uuid)
        adapter = self.adapter_class(obj, request=request)
        self.check_precondition(request, adapter)
        body = self.read_json(request)
        sent_id = body.get("id")
        if sent_id is not None and str(sent_id) != str(obj.scim_id):
            raise Mutability("id cannot be changed.")
        adapter.from_dict(body)
        with atomic_guarded():  # the deprovisioning guard's 429 keeps its record
            before = self.snapshot(obj)
            adapter.save()
        request.scim_outcome = self.change_outcome(before, adapter.obj)  # type: ignore[attr-defined]
        return self.resource_response(request, adapter.obj)

    def delete(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            raise ScimError("DELETE needs a resource id in the path.", status=405)
        obj = self.find(request, uuid)
        adapter = self.adapter_class(obj, request=request)
        self.check_precondition(request, adapter)
        with atomic_guarded():  # the deprovisioning guard's 429 keeps its record
            adapter.delete()
        request.scim_outcome = f"Removed {self.noun} {self.label(obj)}"  # type: ignore[attr-defined]
        return scim_response(None, status=204)

    # --- outcome text ----------------------------------------------------------------------

    def label(self, obj: Any) -> str:
        return str(obj)

    def snapshot(self, obj: Any) -> dict[str, Any]:
        return {"version": obj.version}

    def change_outcome(self, before: dict[str, Any], obj: Any) -> str:
        if obj.version == before["version"]:
            return f"No change to {self.noun} {self.label(obj)}"
        return f"Updated {self.noun} {self.label(obj)}"


class UsersView(ResourceView, scim_views.UsersView):
    adapter_class = ScimUser
    model = Member
    core_urn = USER_SCHEMA
    endpoint = "Users"
    noun = "member"
    filter_table = USER_FILTER
    sort_fields: ClassVar[dict[str, str]] = {
        "id": "scim_id",
        "username": "user_name_key",
        "externalid": "external_id",
        "displayname": "display_name",
        "name.givenname": "given_name",
        "name.familyname": "family_name",
        "name.formatted": "formatted_name",
        "meta.created": "created_at",
        "meta.lastmodified": "updated_at",
    }

    def label(self, obj: Any) -> str:
        return str(obj.user_name)

    def with_page_data(self, queryset: QuerySet[Any], params: ListParams) -> QuerySet[Any]:
        # On PostgreSQL the users' groups come in the page's own SELECT (one round trip less
        # per lookup); other databases read them in render_many's second query.
        if connection.vendor != "postgresql" or not params.includes("groups", core_urn=USER_SCHEMA):
            return queryset
        return queryset.annotate(scim_group_refs=RawSQL(_GROUP_REFS_SQL, ()))  # noqa: S611

    def render_many(
        self, request: HttpRequest, objects: list[Any], params: ListParams
    ) -> list[Any]:
        groups_by_member: dict[int, list[dict[str, str]]] | None = None
        if getattr(request, "scim_created", False):
            # A user this request created belongs to no group yet (groups is read-only).
            groups_by_member = {obj.pk: [] for obj in objects}
        elif objects and params.includes("groups", core_urn=USER_SCHEMA):
            base = tenant_base_location(request)
            groups_by_member = {obj.pk: [] for obj in objects}
            if all(hasattr(obj, "scim_group_refs") for obj in objects):
                rows = [
                    (obj.pk, ref["id"], ref["name"])
                    for obj in objects
                    for ref in obj.scim_group_refs
                ]
            else:
                rows = list(
                    GroupMembership.objects.filter(member__in=objects).values_list(
                        "member_id", "group__scim_id", "group__display_name"
                    )
                )
            for member_id, group_id, name in rows:
                groups_by_member[member_id].append(
                    {"value": str(group_id), "$ref": f"{base}/Groups/{group_id}", "display": name}
                )
        return [
            project(
                ScimUser(obj, request=request).to_dict(
                    groups=groups_by_member.get(obj.pk) if groups_by_member is not None else None
                ),
                params,
                core_urn=USER_SCHEMA,
            )
            for obj in objects
        ]

    def snapshot(self, obj: Any) -> dict[str, Any]:
        return {"version": obj.version, "status": obj.status}

    def change_outcome(self, before: dict[str, Any], obj: Any) -> str:
        if before["status"] != obj.status:
            if obj.status == Member.Status.SUSPENDED:
                return f"Suspended member {obj.user_name}"
            return f"Reactivated member {obj.user_name}"
        return super().change_outcome(before, obj)

    def patch(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            raise ScimError("PATCH needs a resource id in the path.", status=405)
        obj = self.find(request, uuid)
        adapter = ScimUser(obj, request=request)
        self.check_precondition(request, adapter)
        body = self.read_json(request)
        current = adapter.current_document()
        if adapter.active_assigned:
            current["active"] = obj.scim_active
        result = apply_patch("User", current, body, resource_id=str(obj.scim_id))
        before = self.snapshot(obj)
        if result.changed:
            with atomic_guarded():  # the deprovisioning guard's 429 keeps its record
                adapter.apply(result.document, absent_active_is_unassigned=True)
        elif result.document.get("active") is True:
            # Nothing to change, but the provider says "active": a suspension or removal of this
            # member the guard is holding is withdrawn (apply does the same when it changes).
            deprovision_withdraw(member=obj)
        request.scim_outcome = self.change_outcome(before, adapter.obj)  # type: ignore[attr-defined]
        return self.resource_response(request, adapter.obj)


class GroupsView(ResourceView, scim_views.GroupsView):
    adapter_class = ScimGroup
    model = Group
    core_urn = GROUP_SCHEMA
    endpoint = "Groups"
    noun = "group"
    filter_table = GROUP_FILTER
    sort_fields: ClassVar[dict[str, str]] = {
        "id": "scim_id",
        "displayname": "display_name_key",
        "externalid": "external_id",
        "meta.created": "created_at",
        "meta.lastmodified": "updated_at",
    }

    def label(self, obj: Any) -> str:
        return str(obj.display_name)

    def render_many(
        self, request: HttpRequest, objects: list[Any], params: ListParams
    ) -> list[Any]:
        # Entra's group queries exclude members; then they are never read from the database.
        include_members = params.includes("members", core_urn=GROUP_SCHEMA)
        return [
            project(
                ScimGroup(obj, request=request).to_dict(include_members=include_members),
                params,
                core_urn=GROUP_SCHEMA,
            )
            for obj in objects
        ]

    def membership_outcome(self, before: dict[str, Any], adapter: ScimGroup) -> str:
        """ "Added 100 members to Sales", "Removed 1 member from Sales", or the generic line."""
        added = adapter.members_added
        removed = adapter.members_removed
        name = self.label(adapter.obj)

        def members(count: int) -> str:
            return f"{count} member{'s' if count != 1 else ''}"

        if added and removed:
            return f"Added {members(added)} to and removed {members(removed)} from group {name}"
        if added:
            return f"Added {members(added)} to group {name}"
        if removed:
            return f"Removed {members(removed)} from group {name}"
        return self.change_outcome(before, adapter.obj)

    def patch(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        if uuid is None:
            raise ScimError("PATCH needs a resource id in the path.", status=405)
        obj = self.find(request, uuid)
        adapter = ScimGroup(obj, request=request)
        self.check_precondition(request, adapter)
        body = self.read_json(request)
        result = apply_patch(
            "Group", adapter.current_document(), body, resource_id=str(obj.scim_id)
        )
        stored = {key: value for key, value in result.document.items() if key != "members"}
        replaced = (
            member_ids(result.members_replaced) if result.members_replaced is not None else None
        )
        before = self.snapshot(obj)
        with transaction.atomic():
            adapter.update(
                stored,
                add=member_ids(result.members_added),
                remove=list(result.members_removed),
                replace_members=replaced,
            )
        request.scim_outcome = self.membership_outcome(before, adapter)  # type: ignore[attr-defined]
        params = ListParams.projection_only(request.GET)
        if params.attributes or params.excluded:
            return self.resource_response(request, adapter.obj, params=params)
        # Entra ID expects 204 for group PATCH: echoing 50,000 members back would be wasteful.
        return scim_response(None, status=204)


class SearchView(ScimView):
    """POST {resource}/.search (RFC 7644 §3.4.3): the same query as GET, in a body."""

    http_method_names: ClassVar[list[str]] = ["post"]
    resource_view: ClassVar[type[ResourceView]]

    def read_search(self, request: HttpRequest) -> ListParams:
        body = self.read_json(request)
        schemas = body.get("schemas")
        if not isinstance(schemas, list) or SEARCH_REQUEST not in schemas:
            raise InvalidValue(f"A search request needs schemas [{SEARCH_REQUEST!r}].")
        return ListParams.parse(body)

    def post(self, request: HttpRequest) -> HttpResponse:
        view = self.resource_view()
        view.setup(request)
        return view.list_response(request, self.read_search(request))


class RootSearchView(SearchView):
    """POST /.search (RFC 7644 §3.4.3): one query across Users and Groups.

    The filter is applied to each resource type; a type for which it names no attribute
    contributes nothing (a filter valid for neither is a 400). Users come first, then Groups,
    each in its own stable order, and startIndex/count page through the combined list.
    """

    def post(self, request: HttpRequest) -> HttpResponse:
        params = self.read_search(request)
        parts: list[tuple[ResourceView, QuerySet[Any], int]] = []
        refusals: list[ScimError] = []
        for view_class in (UsersView, GroupsView):
            view = view_class()
            view.setup(request)
            try:
                queryset = view.search_queryset(request, params)
            except (InvalidFilter, InvalidValue) as refusal:
                refusals.append(refusal)
                continue
            parts.append((view, queryset, queryset.count()))
        if not parts:
            raise refusals[0]
        total = sum(count for _, _, count in parts)
        skip, room = params.start_index - 1, params.count
        resources: list[Any] = []
        for view, queryset, count in parts:
            if room <= 0:
                break
            if skip >= count:
                skip -= count
                continue
            page = list(queryset[skip : skip + room])
            skip, room = 0, room - len(page)
            resources += view.render_many(request, page, params)
        request.scim_outcome = f"Found {total} users and groups"  # type: ignore[attr-defined]
        return scim_response(list_body(resources, total=total, start_index=params.start_index))


class UserSearchView(SearchView):
    resource_view = UsersView


class GroupSearchView(SearchView):
    resource_view = GroupsView


class ServiceProviderConfigView(ScimView):
    http_method_names: ClassVar[list[str]] = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        from integrations.scim.discovery import ServiceProviderConfig

        return scim_response(ServiceProviderConfig(request).to_dict())


class ResourceTypesView(ScimView):
    http_method_names: ClassVar[list[str]] = ["get"]

    def get(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        types = {
            "User": ScimUser.resource_type_dict(request),
            "Group": ScimGroup.resource_type_dict(request),
        }
        if uuid is not None:
            if uuid not in types:
                raise NotFound(f"Resource type {uuid[:64]!r} not found.")
            return scim_response(types[uuid])
        resources = list(types.values())
        return scim_response(list_body(resources))


class SchemasView(ScimView):
    http_method_names: ClassVar[list[str]] = ["get"]

    def get(self, request: HttpRequest, uuid: str | None = None) -> HttpResponse:
        from integrations.scim.schema import schema_documents

        documents = schema_documents(tenant_base_location(request))
        if uuid is not None:
            match = next((doc for doc in documents if doc["id"] == uuid), None)
            if match is None:
                raise NotFound(f"Schema {uuid[:120]!r} not found.")
            return scim_response(match)
        return scim_response(list_body(documents))


class NotSupportedView(ScimView):
    """/Bulk and /Me: answered 501 with a SCIM error body."""

    implemented = False
    http_method_names: ClassVar[list[str]] = ["get", "post", "put", "patch", "delete"]


class UnknownEndpointView(ScimView):
    http_method_names: ClassVar[list[str]] = ["get", "post", "put", "patch", "delete"]

    def handle(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise NotFound("There is no such SCIM endpoint.")
