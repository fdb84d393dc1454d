"""Client credential lookup and token matching (pure logic: mocked requests only)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from gemini_proxy.auth import ANONYMOUS, ClientAuthenticator, find_client_credential
from gemini_proxy.errors import Unauthorized


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/v1beta/models", {"x-goog-api-key": "hdr"}, "hdr"),
        ("/v1beta/models?key=qry", {}, "qry"),
        ("/v1beta/models?alt=sse&key=qry", {}, "qry"),
        ("/v1beta/models", {"Authorization": "Bearer  tok "}, "tok"),
        ("/v1beta/models", {"Authorization": "bearer tok"}, "tok"),
        # the header wins over the query, and the query over Bearer
        ("/v1beta/models?key=qry", {"x-goog-api-key": "hdr", "Authorization": "Bearer tok"}, "hdr"),
        ("/v1beta/models?key=qry", {"Authorization": "Bearer tok"}, "qry"),
        # an empty value is no credential; the next place is looked at
        ("/v1beta/models?key=", {"Authorization": "Bearer tok"}, "tok"),
        ("/v1beta/models?apikey=other", {}, None),
        ("/v1beta/models", {"Authorization": "Basic dXNlcg=="}, None),
        ("/v1beta/models", {"Authorization": "Bearer   "}, None),
        ("/v1beta/models", {}, None),
    ],
)
def test_find_client_credential(path: str, headers: dict[str, str], expected: str | None) -> None:
    request = make_mocked_request("GET", path, headers=headers)
    assert find_client_credential(request) == expected


def test_authenticate_returns_the_matching_token_name() -> None:
    auth = ClientAuthenticator([("alice", "tok-a"), ("bob", "tok-b")], allow_unauthenticated=False)
    assert auth.authenticate("tok-b") == "bob"
    assert auth.authenticate("tok-a") == "alice"


@pytest.mark.parametrize("credential", [None, "", "tok-", "tok-a ", "TOK-A"])
def test_authenticate_rejects_missing_or_wrong(credential: str | None) -> None:
    auth = ClientAuthenticator([("alice", "tok-a")], allow_unauthenticated=True)
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(credential)
    assert "tok-a" not in str(caught.value)


def test_open_only_when_allowed_and_no_token_configured() -> None:
    assert ClientAuthenticator([], allow_unauthenticated=True).authenticate(None) == ANONYMOUS
    with pytest.raises(Unauthorized):
        ClientAuthenticator([], allow_unauthenticated=False).authenticate("anything")
