"""Basic credentials, ttl_s, and HS256 tokens with sub/iat/exp and no leeway."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from backend_helpers import unsigned_token

from agent_backend.auth import (
    InvalidCredentials,
    InvalidToken,
    InvalidTTL,
    bearer_token,
    check_password,
    issue_token,
    parse_basic,
    parse_ttl,
    verify_token,
)

SECRET = "auth-unit-tests-secret-of-32-bytes-or-more"
OTHER_SECRET = "another-secret-that-is-also-32-bytes-long"


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_basic_credentials_parse_into_user_and_password() -> None:
    assert parse_basic(basic(b"alice:s3cret")) == ("alice", "s3cret")
    assert parse_basic(basic(b"a.b_c-1:pw:with:colons")) == ("a.b_c-1", "pw:with:colons")
    assert parse_basic("basic " + base64.b64encode(b"bob:").decode()) == ("bob", "")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        basic(b"no-colon"),
        basic(b":empty-user"),
        basic(b"bad user:pw"),
        basic(b"x" * 65 + b":pw"),
        basic("ünïcode:pw".encode()),
        "Basic " + base64.b64encode(b"\xff\xfe:pw").decode(),
    ],
)
def test_malformed_credentials_are_invalid(header: str | None) -> None:
    with pytest.raises(InvalidCredentials):
        parse_basic(header)


def test_a_user_id_of_64_allowed_characters_is_valid() -> None:
    assert parse_basic(basic(b"x" * 64 + b":pw"))[0] == "x" * 64


def test_passwords_compare_exactly_and_none_configured_admits_nobody() -> None:
    assert check_password("pw", "pw")
    assert not check_password("pw ", "pw")
    assert not check_password("", None)


@pytest.mark.parametrize(
    ("values", "ttl"), [(None, 3600), ([], 3600), (["1"], 1), (["3600"], 3600), (["060"], 60)]
)
def test_ttl_defaults_to_an_hour_and_accepts_1_to_3600(values: list[str] | None, ttl: int) -> None:
    assert parse_ttl(values) == ttl


@pytest.mark.parametrize(
    "values", [["0"], ["3601"], ["-1"], ["1.5"], ["abc"], [""], ["1", "2"], [" 5"], ["9" * 20]]
)
def test_bad_ttl_values_are_refused(values: list[str]) -> None:
    with pytest.raises(InvalidTTL):
        parse_ttl(values)


def test_issued_tokens_carry_sub_iat_exp_and_verify() -> None:
    now = time.time()
    issued = issue_token("alice", SECRET, 60, now)
    assert issued.as_dict()["token_type"] == "Bearer"
    assert issued.expires_in == 60
    claims = jwt.decode(issued.access_token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["iat"] <= now < claims["iat"] + 1
    assert now + 60 <= claims["exp"] < now + 61
    assert jwt.get_unverified_header(issued.access_token)["alg"] == "HS256"
    assert verify_token(issued.access_token, SECRET) == "alice"


def test_a_token_lives_at_least_its_ttl() -> None:
    issued = issue_token("alice", SECRET, 1, 1000.999)
    claims = jwt.decode(
        issued.access_token,
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["exp"] - 1000.999 >= 1


def forge(claims: dict[str, object], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        forge(
            {"sub": "alice", "iat": int(time.time()), "exp": int(time.time()) + 60}, OTHER_SECRET
        ),
        forge({"sub": "alice", "iat": int(time.time()) - 120, "exp": int(time.time()) - 1}),
        forge({"sub": "alice", "iat": int(time.time())}),
        forge({"sub": "alice", "exp": int(time.time()) + 60}),
        forge({"iat": int(time.time()), "exp": int(time.time()) + 60}),
        forge({"sub": "bad user", "iat": int(time.time()), "exp": int(time.time()) + 60}),
        forge(
            {"sub": "alice", "iat": int(time.time()), "exp": int(time.time()) + 60},
            SECRET * 2,
            "HS512",
        ),
        "not.a.token",
        "",
    ],
    ids=[
        "wrong-secret",
        "expired",
        "no-exp",
        "no-iat",
        "no-sub",
        "bad-sub",
        "hs512",
        "garbage",
        "empty",
    ],
)
def test_bad_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(token, SECRET)


def test_an_unsigned_alg_none_token_is_invalid() -> None:
    token = unsigned_token({"sub": "alice", "iat": int(time.time()), "exp": int(time.time()) + 60})
    with pytest.raises(InvalidToken):
        verify_token(token, SECRET)


def test_expiry_has_no_leeway() -> None:
    now = int(time.time())
    token = forge({"sub": "alice", "iat": now - 10, "exp": now})
    with pytest.raises(InvalidToken):
        verify_token(token, SECRET)


def test_the_bearer_header_wins_over_the_query_parameter() -> None:
    assert bearer_token("Bearer abc", ["xyz"]) == "abc"
    assert bearer_token("bearer  abc ", None) == "abc"
    assert bearer_token(None, ["xyz"]) == "xyz"


@pytest.mark.parametrize(
    ("header", "query"),
    [(None, None), ("Basic abc", None), ("Bearer", None), (None, [""]), (None, ["a", "b"])],
)
def test_a_missing_or_malformed_bearer_token_is_invalid(
    header: str | None, query: list[str] | None
) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(header, query)
