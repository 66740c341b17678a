from __future__ import annotations

import pytest

from accounts.audit import Actor
from integrations import services
from tests.factories import OwnerFactory
from tests.faults.servers import Tenant


@pytest.fixture
def tenant(transactional_db) -> Tenant:
    """An organization with a SCIM token, committed so that server processes see it."""
    owner = OwnerFactory(organization__name="Contoso", full_name="Olga Owner")
    issued = services.scim_token_issue(organization=owner.organization, actor=Actor.system("tests"))
    return Tenant(owner.organization, issued.secret)
