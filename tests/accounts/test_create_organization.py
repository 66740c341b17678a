from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditLogEntry, Member, Organization, User
from tests.factories import DEFAULT_PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-long-and-unusual-passphrase"


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_organization", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_creates_organization_and_active_owner_who_can_sign_in(client):
    # when
    output = run(
        "--name",
        "Acme Corp",
        "--owner-email",
        "Owner@Acme.test",
        "--owner-name",
        "Olu Owner",
        "--owner-password",
        GOOD_PASSWORD,
    )
    # then
    organization = Organization.objects.get(slug="acme-corp")
    owner = Member.objects.get(organization=organization)
    assert (owner.role, owner.status, owner.source) == ("owner", "active", "panel")
    assert owner.user.check_password(GOOD_PASSWORD)
    assert "Created organization 'Acme Corp'" in output
    assert client.login(username="owner@acme.test", password=GOOD_PASSWORD)
    actions = set(
        AuditLogEntry.objects.filter(organization=organization).values_list("action", flat=True)
    )
    assert actions == {"organization.created", "member.created"}


def test_prompts_for_the_password_when_it_is_left_out(monkeypatch):
    # given: a person typing the same password twice at the prompt
    answers = iter([GOOD_PASSWORD, GOOD_PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    # when
    run("--name", "Prompted", "--owner-email", "p@example.com", "--owner-name", "Olu Owner")
    # then
    assert User.objects.get(email="p@example.com").check_password(GOOD_PASSWORD)


def test_mismatched_prompted_passwords_fail(monkeypatch):
    answers = iter([GOOD_PASSWORD, GOOD_PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        run("--name", "Prompted", "--owner-email", "p@example.com", "--owner-name", "Olu Owner")
    assert not Organization.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "--name",
                "  ",
                "--owner-email",
                "a@example.com",
                "--owner-name",
                "Olu Owner",
                "--owner-password",
                GOOD_PASSWORD,
            ],
            "needs a name",
        ),
        (
            [
                "--name",
                "Ok",
                "--owner-email",
                "not-an-email",
                "--owner-name",
                "Olu Owner",
                "--owner-password",
                GOOD_PASSWORD,
            ],
            "not a valid email",
        ),
        (
            [
                "--name",
                "Ok",
                "--owner-email",
                "a@example.com",
                "--owner-name",
                "Olu Owner",
                "--owner-password",
                "short",
            ],
            "too short",
        ),
        (
            [
                "--name",
                "Ok",
                "--owner-email",
                "a@example.com",
                "--owner-name",
                "Olu Owner",
                "--owner-password",
                "password1234",
            ],
            "too common",
        ),
        (
            [
                "--name",
                "!!!",
                "--owner-email",
                "a@example.com",
                "--owner-name",
                "Olu Owner",
                "--owner-password",
                GOOD_PASSWORD,
            ],
            "letter or digit",
        ),
    ],
)
def test_invalid_input_is_a_clear_error_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_duplicate_name_in_any_case_is_refused():
    OrganizationFactory(name="Acme", slug="acme")
    with pytest.raises(CommandError, match="already exists"):
        run(
            "--name",
            "ACME",
            "--slug",
            "acme-2",
            "--owner-email",
            "a@example.com",
            "--owner-name",
            "Olu Owner",
            "--owner-password",
            GOOD_PASSWORD,
        )
    assert Organization.objects.count() == 1


def test_duplicate_slug_is_refused():
    OrganizationFactory(name="Acme", slug="acme")
    with pytest.raises(CommandError, match="slug 'acme' already exists"):
        run(
            "--name",
            "Acme Two",
            "--slug",
            "acme",
            "--owner-email",
            "a@example.com",
            "--owner-name",
            "Olu Owner",
            "--owner-password",
            GOOD_PASSWORD,
        )


def test_a_reserved_short_name_is_refused():
    # "callback" would make the organization's sign-in address /sso/callback/, the redirect URI
    with pytest.raises(CommandError, match="'callback' is reserved"):
        run(
            "--name",
            "Callback",
            "--owner-email",
            "a@example.com",
            "--owner-name",
            "Olu Owner",
            "--owner-password",
            GOOD_PASSWORD,
        )
    assert not Organization.objects.exists()


def test_existing_account_becomes_owner_with_its_own_password():
    # given
    user = UserFactory(email="multi@example.com")
    # when
    run(
        "--name",
        "Second Co",
        "--owner-email",
        "MULTI@example.com",
        "--owner-name",
        "Olu Owner",
        "--no-input",
    )
    # then
    member = Member.objects.get(organization__slug="second-co")
    assert member.user == user and member.role == "owner"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_for_an_existing_account_is_refused_not_ignored():
    UserFactory(email="multi@example.com")
    with pytest.raises(CommandError, match="already has an account"):
        run(
            "--name",
            "Second Co",
            "--owner-email",
            "multi@example.com",
            "--owner-name",
            "Olu Owner",
            "--owner-password",
            GOOD_PASSWORD,
        )
    assert not Organization.objects.exists()


def test_new_owner_without_password_and_no_prompt_fails():
    with pytest.raises(CommandError, match="--owner-password is required"):
        run(
            "--name",
            "Quiet",
            "--owner-email",
            "q@example.com",
            "--owner-name",
            "Olu Owner",
            "--no-input",
        )


def test_command_exits_non_zero_from_the_shell(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": "true"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
    args = [
        sys.executable,
        "manage.py",
        "create_organization",
        "--name",
        "X",
        "--owner-email",
        "bad",
        "--owner-name",
        "Olu Owner",
    ]
    result = subprocess.run(
        [*args, "--owner-password", GOOD_PASSWORD], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "'bad' is not a valid email address." in result.stderr
    assert "Traceback" not in result.stderr


# --- the owner's name ----------------------------------------------------------------------------


def owner_names(slug: str) -> tuple[str, str, str, str, str]:
    member = Member.objects.get(organization__slug=slug)
    return (
        member.given_name,
        member.family_name,
        member.formatted_name,
        member.full_name,
        member.user.full_name,
    )


@pytest.mark.parametrize(
    ("name_args", "expected"),
    [
        (["--owner-name", "Ada Lovelace"], ("Ada", "Lovelace")),
        (["--owner-name", "  Ada   King  Lovelace "], ("Ada", "King Lovelace")),
        (["--owner-name", "Ludwig van Beethoven"], ("Ludwig", "van Beethoven")),
        (
            ["--owner-given-name", " Mary  Ann ", "--owner-family-name", "Smith"],
            ("Mary Ann", "Smith"),
        ),
    ],
)
def test_owner_name_is_split_into_given_and_family_name(name_args, expected):
    # when
    output = run(
        "--name", "Named", "--owner-email", "o@example.com", "--owner-password", GOOD_PASSWORD,
        "--no-input", *name_args,
    )  # fmt: skip
    # then
    given, family = expected
    formatted = f"{given} {family}"
    assert owner_names("named") == (given, family, formatted, formatted, formatted)
    assert f"Owner:   {formatted} <o@example.com>" in output
    created = AuditLogEntry.objects.get(action="member.created")
    assert created.after["name"] == formatted


@pytest.mark.parametrize(
    ("name_args", "message"),
    [
        (["--owner-name", "Plato"], "--owner-name: 'Plato' is not a given and a family name"),
        (["--owner-name", "   "], "--owner-name: '' is not a given and a family name"),
        (
            ["--owner-name", "Ada Lovelace", "--owner-given-name", "Ada"],
            "Pass either --owner-name or --owner-given-name and --owner-family-name, not both.",
        ),
        (["--owner-given-name", "Ada"], "--owner-given-name needs --owner-family-name too."),
        (["--owner-family-name", "Lovelace"], "--owner-family-name needs --owner-given-name too."),
        (
            ["--owner-given-name", "Ada", "--owner-family-name", " "],
            "Enter a family name as well as the given name.",
        ),
    ],
)
def test_an_incomplete_or_conflicting_owner_name_is_a_clear_error(name_args, message):
    with pytest.raises(CommandError) as raised:
        run(
            "--name", "Named", "--owner-email", "o@example.com", "--owner-password",
            GOOD_PASSWORD, "--no-input", *name_args,
        )  # fmt: skip
    assert str(raised.value).startswith(message)
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_no_input_without_an_owner_name_fails_with_the_way_to_pass_it():
    with pytest.raises(CommandError) as raised:
        run(
            "--name", "Quiet", "--owner-email", "q@example.com", "--owner-password",
            GOOD_PASSWORD, "--no-input",
        )  # fmt: skip
    assert str(raised.value) == (
        "The owner's name is required when the command cannot prompt: pass "
        '--owner-name "Ada Lovelace", or --owner-given-name and --owner-family-name.'
    )
    assert not Organization.objects.exists()


def test_prompts_for_the_owner_name_then_the_password(monkeypatch):
    # given: a person answering each prompt in turn
    prompts: list[str] = []
    names = iter(["  Grace ", "Brewster  Hopper"])
    passwords = iter([GOOD_PASSWORD, GOOD_PASSWORD])

    def ask_name(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(names)

    def ask_password(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(passwords)

    monkeypatch.setattr("builtins.input", ask_name)
    monkeypatch.setattr("getpass.getpass", ask_password)
    # when
    run("--name", "Prompted", "--owner-email", "grace@example.com")
    # then
    assert prompts == [
        "Owner's given name: ",
        "Owner's family name: ",
        "Owner password: ",
        "Owner password (again): ",
    ]
    assert owner_names("prompted")[:3] == ("Grace", "Brewster Hopper", "Grace Brewster Hopper")
    assert User.objects.get(email="grace@example.com").check_password(GOOD_PASSWORD)


def test_an_empty_prompted_name_fails_and_creates_nothing(monkeypatch):
    answers = iter(["Grace", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="Enter a family name as well as the given name"):
        run("--name", "Prompted", "--owner-email", "grace@example.com")
    assert not Organization.objects.exists()


def test_an_existing_account_brings_its_name(monkeypatch):
    # given: an account named in another organization; nothing may be asked
    UserFactory(email="multi@example.com", full_name="Katherine  Johnson")
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("prompted"))
    # when
    run("--name", "Second Co", "--owner-email", "multi@example.com", "--no-input")
    # then
    assert owner_names("second-co")[:3] == ("Katherine", "Johnson", "Katherine Johnson")


def test_an_existing_account_without_a_full_name_needs_one():
    UserFactory(email="multi@example.com", full_name="Kat")
    with pytest.raises(CommandError, match="The owner's name is required"):
        run("--name", "Second Co", "--owner-email", "multi@example.com", "--no-input")
    assert not Organization.objects.exists()


def test_make_runs_demo_organization_has_a_named_owner(settings, tmp_path):
    # given
    settings.VAR_DIR = tmp_path
    # when
    call_command("bootstrap_demo", stdout=StringIO())
    # then
    owner = Member.objects.get(organization__name="Demo Company")
    assert (owner.role, owner.given_name, owner.family_name, owner.formatted_name) == (
        "owner",
        "Dana",
        "Demo",
        "Dana Demo",
    )
