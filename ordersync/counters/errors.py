"""Errors of the counters app; their messages are safe to show and hold no token."""


class CountersError(Exception):
    """Base error; ``str(error)`` is a translated message for the person."""


class TokenDecryptError(CountersError):
    """A stored token cannot be decrypted with the configured keys."""


class OAuthFlowError(CountersError):
    """The OAuth round trip failed: denied, forged or replayed state, bad code."""


class TokenCheckError(CountersError):
    """A token was refused by Yandex or lacks the rights OrderSync needs."""


class CounterImportError(CountersError):
    """A chosen counter cannot be added (unknown to the account, or view only)."""
