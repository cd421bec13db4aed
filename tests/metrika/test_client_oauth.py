import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from ordersync.metrika import (
    MetrikaClient,
    MetrikaServerError,
    MetrikaTransportError,
    OAuthError,
    YandexOAuthClient,
    pkce_pair,
)
from tests.metrika.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    OWN,
    REDIRECT_URI,
    raw_request,
)

SCOPES = ["metrika:read", "metrika:offline_data"]


def consent(emulator, oauth, *, decision="allow", login="agency", **kwargs):
    """Submit the emulator's allow/deny form; return the redirect's query."""
    url = oauth.authorize_url(
        redirect_uri=kwargs.pop("redirect_uri", REDIRECT_URI),
        scope=kwargs.pop("scope", SCOPES),
        state=kwargs.pop("state", "csrf-state-123"),
        **kwargs,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    status, headers, _ = raw_request(
        emulator.url,
        "POST",
        "/authorize",
        form={**query, "decision": decision, "login": login},
    )
    assert status == 302
    location = urlsplit(headers["Location"])
    return location, {k: v[0] for k, v in parse_qs(location.query).items()}


def test_authorize_url_carries_pkce_and_state(oauth):
    url = oauth.authorize_url(
        redirect_uri=REDIRECT_URI,
        scope=SCOPES,
        state="s1",
        code_challenge="abc",
        force_confirm=True,
    )

    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"] == ["metrika:read metrika:offline_data"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["force_confirm"] == ["yes"]
    assert "client_secret" not in url and CLIENT_SECRET not in url


def test_authorize_page_offers_allow_and_deny(emulator, oauth):
    url = oauth.authorize_url(redirect_uri=REDIRECT_URI, scope=SCOPES, state="s")

    status, _, body = raw_request(emulator.url, "GET", url[len(emulator.url) :])

    page = body.decode()
    assert status == 200
    assert "OrderSync tests" in page and "metrika:offline_data" in page
    assert 'value="allow"' in page and 'value="deny"' in page


def test_authorize_with_unknown_client_shows_an_error_page(emulator):
    status, _, body = raw_request(
        emulator.url, "GET", "/authorize?response_type=code&client_id=nope"
    )

    assert status == 400 and b"Unknown client_id" in body


def test_code_flow_with_pkce_gives_tokens_and_login(emulator, oauth):
    verifier, challenge = pkce_pair()
    location, query = consent(emulator, oauth, code_challenge=challenge)

    tokens = oauth.exchange_code(query["code"], code_verifier=verifier)

    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert query["state"] == "csrf-state-123"
    assert tokens.token_type == "bearer"
    assert tokens.scope == ("metrika:read", "metrika:offline_data")
    assert tokens.expires_in == 365 * 86400 and tokens.expires_at is not None
    assert oauth.account_info(tokens.access_token).login == "agency"
    assert MetrikaClient(emulator.url, tokens.access_token).counter(OWN).id == OWN


def test_deny_redirects_with_access_denied_and_state(emulator, oauth):
    _, query = consent(emulator, oauth, decision="deny")

    assert query == {
        "error": "access_denied",
        "error_description": "The user denied access",
        "state": "csrf-state-123",
    }


def test_unregistered_redirect_uri_falls_back_to_the_registered_one(emulator, oauth):
    location, _ = consent(emulator, oauth, redirect_uri="http://evil.example/cb")

    assert location.netloc == "127.0.0.1:9"


def test_wrong_pkce_verifier_is_invalid_grant(emulator, oauth):
    _, challenge = pkce_pair()
    _, query = consent(emulator, oauth, code_challenge=challenge)

    with pytest.raises(OAuthError) as caught:
        oauth.exchange_code(query["code"], code_verifier="wrong-verifier")

    assert (caught.value.error, caught.value.status) == ("invalid_grant", 400)
    assert not caught.value.transient


def test_missing_pkce_verifier_is_invalid_grant(emulator, oauth):
    _, challenge = pkce_pair()
    _, query = consent(emulator, oauth, code_challenge=challenge)

    with pytest.raises(OAuthError) as caught:
        oauth.exchange_code(query["code"])

    assert caught.value.error == "invalid_grant"


def test_code_is_single_use(emulator, oauth):
    _, query = consent(emulator, oauth)
    oauth.exchange_code(query["code"])

    with pytest.raises(OAuthError) as caught:
        oauth.exchange_code(query["code"])

    assert caught.value.error == "invalid_grant"
    assert caught.value.message == "Code has already been used"


def test_code_expires_after_ten_minutes(emulator, oauth, admin):
    _, query = consent(emulator, oauth)
    admin.advance_clock(601)

    with pytest.raises(OAuthError) as caught:
        oauth.exchange_code(query["code"])

    assert caught.value.message == "Code has expired"


def test_code_that_is_not_seven_digits_is_bad_verification_code(oauth):
    with pytest.raises(OAuthError) as caught:
        oauth.exchange_code("abc")

    assert caught.value.error == "bad_verification_code"


def test_wrong_client_secret_is_invalid_client(emulator):
    oauth = YandexOAuthClient(emulator.url, CLIENT_ID, "wrong")

    with pytest.raises(OAuthError) as caught:
        oauth.refresh("1:whatever")

    assert caught.value.error == "invalid_client"


def test_refresh_rotates_the_refresh_token(emulator, oauth):
    _, query = consent(emulator, oauth)
    first = oauth.exchange_code(query["code"])

    second = oauth.refresh(first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert second.scope is None
    assert MetrikaClient(emulator.url, second.access_token).counter(OWN).id == OWN
    with pytest.raises(OAuthError) as caught:
        oauth.refresh(first.refresh_token)
    assert caught.value.error == "invalid_grant"


def test_revoked_account_cannot_refresh_or_read_info(emulator, oauth, admin):
    _, query = consent(emulator, oauth)
    tokens = oauth.exchange_code(query["code"])
    admin.revoke(login="agency")

    with pytest.raises(OAuthError) as refresh_error:
        oauth.refresh(tokens.refresh_token)
    with pytest.raises(OAuthError) as info_error:
        oauth.account_info(tokens.access_token)

    assert refresh_error.value.error == "invalid_grant"
    assert (info_error.value.error, info_error.value.status) == ("invalid_token", 401)


def test_token_endpoint_503_is_transient(oauth, admin):
    admin.add_fault("status", status=503, endpoint="token")

    with pytest.raises(MetrikaServerError) as caught:
        oauth.refresh("1:whatever")

    assert caught.value.transient


def test_token_endpoint_dropped_is_transport_error(oauth, admin):
    admin.add_fault("drop_before_body", endpoint="token")

    with pytest.raises(MetrikaTransportError):
        oauth.refresh("1:whatever")


def test_implicit_flow_puts_the_token_in_the_fragment(emulator):
    status, headers, _ = raw_request(
        emulator.url,
        "POST",
        "/authorize",
        form={
            "response_type": "token",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "decision": "allow",
            "login": "agency",
        },
    )

    fragment = parse_qs(urlsplit(headers["Location"]).fragment)
    assert status == 302
    assert fragment["access_token"][0].startswith("y0_")
    assert fragment["token_type"] == ["bearer"]


def test_secrets_never_appear_in_reprs_errors_or_logs(
    emulator, oauth, caplog, attempts
):
    caplog.set_level(logging.DEBUG)
    _, query = consent(emulator, oauth)
    tokens = oauth.exchange_code(query["code"])
    refreshed = oauth.refresh(tokens.refresh_token)
    errors = []
    for call in (
        lambda: oauth.refresh(tokens.refresh_token),
        lambda: oauth.exchange_code(query["code"]),
        lambda: oauth.account_info(tokens.access_token + "x"),
    ):
        with pytest.raises(OAuthError) as caught:
            call()
        errors.append(caught.value)

    secrets = [
        CLIENT_SECRET,
        tokens.access_token,
        tokens.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
    ]
    texts = [repr(tokens), repr(refreshed), repr(oauth), caplog.text]
    texts += [repr(record) for record in attempts]
    texts += [f"{e} {e!r} {vars(e)!r}" for e in errors]
    for secret in secrets:
        assert all(secret not in text for text in texts)
    assert len(attempts) == 5
