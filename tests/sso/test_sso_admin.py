"""Saving an organization's single sign-on against the real OpenID Provider on loopback: discovery
confirms the issuer on every save, the secret is sealed, and it appears in no audit row, log line
or page."""

from __future__ import annotations

import logging

import pytest

from accounts import twofactor as tf
from accounts.models import AuditLogEntry
from integrations import sso
from integrations.models import SsoConnection
from tests.conftest import signed_in_client
from tests.factories import OwnerFactory
from tests.sso.conftest import ENTRA_A, OKTA, TENANT_A
from tests.sso.provider import TestProvider

pytestmark = [pytest.mark.sso, pytest.mark.django_db]

SECRET = "s3cr3t~value.that-must-never-leak-0123456789"


def save(owner, op: TestProvider, **overrides):
    values = {
        "organization": owner.organization,
        "by": owner,
        "provider": "okta",
        "issuer_or_tenant": op.issuer(OKTA),
        "client_id": "0oa1okta-client",
        "client_secret": SECRET,
        "secret_expires_on": None,
        **overrides,
    }
    return sso.sso_connection_save(**values)


def test_saving_confirms_the_issuer_seals_the_secret_and_audits_without_it(op, caplog):
    # given
    owner = OwnerFactory()
    caplog.set_level(logging.DEBUG)
    # when
    row = save(owner, op)
    # then
    assert row.issuer == op.issuer(OKTA)
    assert row.client_secret_sealed != SECRET
    assert tf.open_secret(row.client_secret_sealed) == SECRET.encode()
    entry = AuditLogEntry.objects.get(action="sso_connection.created")
    assert entry.actor_label == owner.email
    assert entry.after["issuer"] == op.issuer(OKTA)
    assert entry.after["client_secret"] == "stored (never shown again)"
    assert SECRET not in str(entry.before) + str(entry.after)
    assert SECRET not in caplog.text
    assert sso.sso_client_config(row).client_secret == SECRET


def test_an_entra_issuer_url_records_its_tenant(op):
    owner = OwnerFactory()
    row = save(owner, op, provider="entra-id", issuer_or_tenant=op.issuer(ENTRA_A))
    assert (row.issuer, row.entra_tenant_id) == (op.issuer(ENTRA_A), TENANT_A)
    assert sso.sso_client_config(row).entra_tenant_id == TENANT_A


def test_an_issuer_whose_metadata_names_another_is_refused(op):
    # given the provider's issuer, typed with another host name for the same address
    owner = OwnerFactory()
    typo = op.issuer(OKTA).replace("127.0.0.1", "localhost")
    # when / then
    with pytest.raises(sso.SsoInputError, match="not the issuer the identity provider names"):
        save(owner, op, issuer_or_tenant=typo)
    assert not SsoConnection.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_an_issuer_that_does_not_answer_is_refused(op):
    owner = OwnerFactory()
    with pytest.raises(sso.SsoInputError, match="did not answer"):
        save(owner, op, issuer_or_tenant=op.issuer("/no-such-issuer"))
    assert not SsoConnection.objects.exists()


def test_a_trailing_slash_takes_the_providers_own_form(op):
    owner = OwnerFactory()
    row = save(owner, op, issuer_or_tenant=op.issuer(OKTA) + "/")
    assert row.issuer == op.issuer(OKTA)


def test_a_blank_secret_keeps_the_sealed_one_and_a_new_one_is_audited_as_replaced(op):
    # given a tested connection
    owner = OwnerFactory()
    first = save(owner, op)
    SsoConnection.objects.filter(pk=first.pk).update(tested_at=first.created_at)
    # when saved again with a blank secret and nothing else changed
    kept = save(owner, op, client_secret="")
    # then nothing changed, nothing audited, still tested
    assert kept.client_secret_sealed == first.client_secret_sealed
    assert kept.tested_at is not None
    assert AuditLogEntry.objects.filter(action="sso_connection.updated").count() == 0
    # when a new client id and secret are entered
    replaced = save(owner, op, client_id="0oa2other", client_secret="another-secret-value")
    # then
    assert tf.open_secret(replaced.client_secret_sealed) == b"another-secret-value"
    assert replaced.tested_at is None  # that test proved the previous configuration
    entry = AuditLogEntry.objects.get(action="sso_connection.updated")
    assert entry.before == {"client_id": "0oa1okta-client"}
    assert entry.after == {"client_id": "0oa2other", "client_secret": "replaced"}


def test_an_owner_saves_from_the_page_and_sees_the_state_never_the_secret(op):
    # given
    owner = OwnerFactory()
    client = signed_in_client(owner)
    # when
    response = client.post(
        "/integrations/okta/sso/",
        {
            "issuer": op.issuer(OKTA),
            "client_id": "0oa1okta-client",
            "client_secret": SECRET,
            "secret_expires_on": "",
        },
        follow=True,
    )
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="sso-summary"' in page
    assert "On, optional" not in page and "Set up, off" in page
    assert SECRET not in page
    assert SsoConnection.objects.get().provider == "okta"


def test_a_refused_save_shows_the_reason_next_to_the_field_and_keeps_nothing(op):
    owner = OwnerFactory()
    response = signed_in_client(owner).post(
        "/integrations/okta/sso/",
        {
            "issuer": op.issuer("/nowhere"),
            "client_id": "x",
            "client_secret": SECRET,
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "did not answer" in page
    assert SECRET not in page
    assert not SsoConnection.objects.exists()
