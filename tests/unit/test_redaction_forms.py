"""Credential forms the shared redaction (errors and logs alike) must hide."""

from __future__ import annotations

import pytest

from portacloud.logging_redaction import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", "Authorization: ***"),
        ("secret=abc token=xyz", "secret=*** token=***"),
        ("password: hunter2", "password: ***"),
        ('{"secret": "s3", "Token": "t"}', '{"secret": "***", "Token": "***"}'),
        ("MAC '" + "A" * 43 + "=' is not", "MAC '***' is not"),
    ],
)
def test_credential_forms_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_continuation_token_is_not_a_credential() -> None:
    assert redact("ContinuationToken=keep") == "ContinuationToken=keep"
