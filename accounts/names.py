"""A person's name as the panel records it: a given name and a family name.

Members the panel creates (an organization's first owner, a person invited by an admin) carry
both, because identity providers match and check people by them: Okta's SCIM spec test reads the
first user of `GET /Users?count=1&startIndex=1` and requires `name.givenName` and
`name.familyName` (https://developer.okta.com/docs/guides/scim-provisioning-integration-test/).
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.exceptions import InvalidInput

# Member.full_name holds the formatted name, the shortest of the columns a name is kept in.
MAX_FORMATTED_LENGTH = 200


def _collapse(value: str) -> str:
    """Trim and collapse runs of whitespace: "  Ada   King " is "Ada King"."""
    return " ".join((value or "").split())


@dataclass(frozen=True)
class PersonName:
    given: str
    family: str

    @property
    def formatted(self) -> str:
        """SCIM `name.formatted` (RFC 7643 §4.1.1), in the Western order the two parts came in."""
        return f"{self.given} {self.family}"


def person_name(*, given: str, family: str) -> PersonName:
    """A complete name from its two parts, or a message that says which part is missing."""
    name = PersonName(given=_collapse(given), family=_collapse(family))
    if not name.given and not name.family:
        raise InvalidInput("Enter a given name and a family name.")
    if not name.given:
        raise InvalidInput("Enter a given name as well as the family name.")
    if not name.family:
        raise InvalidInput("Enter a family name as well as the given name.")
    if len(name.formatted) > MAX_FORMATTED_LENGTH:
        raise InvalidInput(f"The name is longer than {MAX_FORMATTED_LENGTH} characters.")
    return name


def split_full_name(full_name: str) -> PersonName:
    """ "Ada Lovelace" is given "Ada", family "Lovelace"; the first word is the given name and
    the rest the family name ("Ludwig van Beethoven": "Ludwig", "van Beethoven").

    One word is refused rather than guessed at: pass the two parts separately instead.
    """
    words = _collapse(full_name).split(" ")
    if len(words) < 2:
        raise InvalidInput(
            f"{_collapse(full_name)!r} is not a given and a family name. Write both "
            '("Ada Lovelace"), or pass the two parts separately.'
        )
    return person_name(given=words[0], family=" ".join(words[1:]))


def name_from_full_name(full_name: str) -> PersonName | None:
    """The two parts of a stored full name, or None when it has fewer than two words."""
    try:
        return split_full_name(full_name)
    except InvalidInput:
        return None
