"""The OpenAPI files are valid OpenAPI 3.1 and document exactly the routes the app serves."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate

from gemini_proxy.app import create_app
from gemini_proxy.routes import admin, dashboard
from tests.conftest import make_settings
from tests.contract.openapi import ADMIN_API, PROXY_API, admin_contract, proxy_contract


def _app_routes(prefix: str) -> set[tuple[str, str]]:
    app = create_app(make_settings())
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(prefix) and route.method != "HEAD":
            routes.add((route.method, path))
    return routes


class TestContractFiles:
    @pytest.mark.parametrize("path", [ADMIN_API, PROXY_API], ids=lambda p: p.name)
    def test_is_valid_openapi_31(self, path: object) -> None:
        """Each file passes the OpenAPI 3.1 validator."""
        spec = yaml.safe_load(path.read_text())  # type: ignore[attr-defined]
        assert spec["openapi"].startswith("3.1")
        validate(spec)

    def test_admin_contract_matches_the_admin_routes(self) -> None:
        """Every admin route is documented and every documented admin operation is served.

        The dashboard's static files under ``/admin/ui`` are a page, not part of the API.
        """
        documented = {(op.method, op.template) for op in admin_contract().operations()}
        api = {(m, p) for m, p in _app_routes("/admin/") if not p.startswith(dashboard.PREFIX)}
        assert api == documented
        assert {(method, path) for method, path, _ in admin.ROUTES} == documented

    def test_proxy_contract_matches_the_served_routes(self) -> None:
        """Documented proxy operations are served, and every served /v1 and ops route is documented.

        Native Gemini paths are served by the ``/v1beta`` catch-all; ``*`` routes only answer 405.
        """
        documented = {(op.method, op.template) for op in proxy_contract().operations()}
        served = _app_routes("/")
        assert ("*", "/v1beta/{tail}") in served
        for method, template in documented:
            if not template.startswith("/v1beta/"):
                assert (method, template) in served, f"{method} {template} is documented, not served"
        exact = {
            (m, p)
            for m, p in served
            if m != "*" and (p.startswith("/v1/") or p in ("/healthz", "/readyz", "/metrics"))
        }
        assert exact <= documented, f"served, not documented: {sorted(exact - documented)}"

    def test_every_admin_operation_needs_the_token(self) -> None:
        """The admin contract declares the bearer scheme globally and no operation opts out."""
        spec = admin_contract().spec
        assert spec["security"] == [{"adminToken": []}]
        assert spec["components"]["securitySchemes"]["adminToken"] == {
            "type": "http",
            "scheme": "bearer",
            "description": spec["components"]["securitySchemes"]["adminToken"]["description"],
        }
        for template, item in spec["paths"].items():
            for method, operation in item.items():
                if method in ("get", "post", "delete"):
                    assert "security" not in operation, f"{method} {template} overrides security"
                    assert "401" in operation["responses"], f"{method} {template} lacks 401"

    def test_paths_use_one_parameter_name_for_keys(self) -> None:
        """Key paths name their parameter key_id, as the routes do."""
        names = {m for t in admin_contract().spec["paths"] for m in re.findall(r"\{([^}]+)\}", t)}
        assert names == {"key_id"}
