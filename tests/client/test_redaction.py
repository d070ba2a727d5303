"""Secrets never survive redaction: registered values, and anything shaped like a secret."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from urllib.parse import quote

from test_framework.client.redaction import (
    MASK,
    redact,
    redact_text,
    redact_url,
    register_secret,
    register_secret_settings,
)
from test_framework.settings import load_settings
from test_framework.settings_table import SETTINGS

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


def fresh() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def test_a_registered_secret_is_masked_wherever_it_appears() -> None:
    secret = fresh()
    register_secret(secret)
    assert redact_text(f"login with {secret} failed; retry {secret}") == (
        f"login with {MASK} failed; retry {MASK}"
    )


def test_the_url_encoded_form_of_a_registered_secret_is_masked_too() -> None:
    secret = fresh() + "/+ &="
    register_secret(secret)
    assert redact_text("/x?p=" + quote(secret, safe="")) == f"/x?p={MASK}"


def test_very_short_values_are_not_registered_so_ordinary_words_survive() -> None:
    register_secret("ok")
    register_secret("token")
    register_secret(None)
    register_secret("")
    assert redact_text("status ok; token expired") == "status ok; token expired"


def test_a_jwt_is_masked_without_registration() -> None:
    assert redact_text(f"token {JWT} expired") == f"token {MASK} expired"


def test_token_and_password_query_parameters_are_masked() -> None:
    text = "wss://h/ws?token=abc.def&x=1 and /auth?password=hunter22#frag"
    assert redact_text(text) == f"wss://h/ws?token={MASK}&x=1 and /auth?password={MASK}#frag"


def test_bearer_and_basic_credentials_are_masked() -> None:
    basic = base64.b64encode(b"alice:s3cret-pass").decode()
    text = f"Authorization: Basic {basic}\nAuthorization: Bearer opaque-token-123"
    assert redact_text(text) == f"Authorization: Basic {MASK}\nAuthorization: Bearer {MASK}"


def test_json_fields_named_like_secrets_are_masked_in_text() -> None:
    text = json.dumps({"access_token": "opaque-value-1", "token_type": "Bearer", "password": "p"})
    assert json.loads(redact_text(text)) == {
        "access_token": MASK,
        "token_type": "Bearer",
        "password": MASK,
    }


def test_redact_walks_nested_values_and_masks_secret_keys() -> None:
    secret = fresh()
    register_secret(secret)
    value = {
        "frames": [{"text": f"hello {secret}"}, ("tuple", JWT)],
        "Access_Token": "opaque-value-2",
        "count": 3,
        "nested": {"password": "pw"},
    }
    assert redact(value) == {
        "frames": [{"text": f"hello {MASK}"}, ["tuple", MASK]],
        "Access_Token": MASK,
        "count": 3,
        "nested": {"password": MASK},
    }


def test_text_without_secrets_is_unchanged() -> None:
    text = '{"type": "agent_started", "run_id": "r-1", "seq": 1, "token_type": "Bearer"}'
    assert redact_text(text) == text


def test_the_password_in_a_urls_userinfo_is_masked_and_the_user_kept() -> None:
    text = "GET http://user:SuperSecret123@127.0.0.1:8080/health answered 404"
    assert redact_text(text) == f"GET http://user:{MASK}@127.0.0.1:8080/health answered 404"


def test_a_user_alone_in_userinfo_is_masked_as_it_may_be_a_token() -> None:
    assert redact_url("https://ghp_abcdef123@host/x") == f"https://{MASK}@host/x"


def test_userinfo_is_masked_up_to_the_authoritys_last_at_sign() -> None:
    # An unencoded '@' in a password: the host is what follows the last one.
    assert redact_url("wss://ci:p@ss@word@h:1/ws?x=1") == f"wss://ci:{MASK}@h:1/ws?x=1"


def test_userinfo_is_masked_inside_reprs_json_and_several_urls_in_one_text() -> None:
    text = json.dumps({"url": "ws://a:pw-one@h/ws"}) + " and repr('http://b:pw-two@h2/')"
    redacted = redact_text(text)
    assert "pw-one" not in redacted
    assert "pw-two" not in redacted
    assert f"ws://a:{MASK}@h/ws" in redacted
    assert f"http://b:{MASK}@h2/" in redacted


def test_urls_without_userinfo_and_at_signs_outside_an_authority_are_left_alone() -> None:
    text = "wss://staging.example.com:443/ws, https://h/users/@me, mail ci@example.com"
    assert redact_text(text) == text


def test_every_secret_setting_of_the_table_is_registered_from_the_settings(
    tmp_path: Path,
) -> None:
    values = {setting.env: fresh() for setting in SETTINGS if setting.secret}
    assert values, "the table marks STAGING_TEST_PASSWORD and STAGING_AUTH_TOKEN as secret"
    register_secret_settings(load_settings(tmp_path, environ=values).given)
    text = " ".join(values.values())
    assert redact_text(text) == " ".join([MASK] * len(values))
