"""Compose interpolation (12-interpolation.md), form by form."""

from __future__ import annotations

import pytest

from portreg.importers.interpolate import InterpolationError, interpolate

ENV = {"SET": "53100", "EMPTY": "", "IP": "127.0.0.1"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$SET:80", "53100:80"),
        ("${SET}:80", "53100:80"),
        ("${UNSET}:80", ":80"),
        ("${UNSET:-8000}:80", "8000:80"),
        ("${EMPTY:-8000}:80", "8000:80"),
        ("${EMPTY-8000}:80", ":80"),
        ("${UNSET-8000}:80", "8000:80"),
        ("${SET:-8000}:80", "53100:80"),
        ("${SET:+9000}", "9000"),
        ("${EMPTY:+9000}", ""),
        ("${EMPTY+9000}", "9000"),
        ("${UNSET+9000}", ""),
        ("$$HOME", "$HOME"),
        ("$${SET}", "${SET}"),
        ("${UNSET:-${SET}}", "53100"),
        ("${UNSET:-${ALSO:-7000}}:70", "7000:70"),
        ("${X:-127.0.0.1:13306}:3306", "127.0.0.1:13306:3306"),
        ("${EXPOSE_PORT-:2283:2283}", ":2283:2283"),
        ("${SET:?needed}", "53100"),
        ("cost $5", "cost $5"),
    ],
)
def test_forms(text: str, value: str) -> None:
    assert interpolate(text, ENV).value == value


def test_variables_read_are_the_ones_that_decided() -> None:
    assert interpolate("${SET:-${INNER}}:$IP", ENV).variables == ("SET", "IP")
    assert interpolate("${UNSET:-${INNER:-1}}", ENV).variables == ("UNSET", "INNER")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?set it}", "set it"),
        ("${EMPTY:?set it}", "set it"),
        ("${UNSET?}", "is unset"),
        ("${", "invalid"),
        ("${SET:-80", "unclosed"),
        ("${SET!}", "invalid"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError, match=message):
        interpolate(text, ENV)


def test_question_on_empty_without_colon_is_fine() -> None:
    assert interpolate("${EMPTY?must be set}", ENV).value == ""
