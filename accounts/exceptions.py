"""Domain errors raised by account services; views, commands and SCIM adapters translate them."""


class AccountsError(Exception):
    """Base class: the message is safe to show to the person who made the request."""


class InvalidInput(AccountsError):
    pass


class AlreadyExists(AccountsError):
    pass
