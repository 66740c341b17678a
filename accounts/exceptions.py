"""Domain errors raised by account services; views, commands and SCIM adapters translate them."""


class AccountsError(Exception):
    """Base class: the message is safe to show to the person who made the request."""


class InvalidInput(AccountsError):
    pass


class AlreadyExists(AccountsError):
    pass


class LastOwner(InvalidInput):
    """The change would leave the organization without an active owner, locked out of its panel.

    A subclass of `InvalidInput` so every caller that shows domain errors shows this one too; the
    SCIM layer tells it apart to answer `400 mutability` (RFC 7644 §3.12) instead of invalidValue.
    """
