"""Reading our OpenAPI files and checking real responses against them (jsonschema 2020-12)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
ADMIN_API = CONTRACTS / "admin-api.yaml"
PROXY_API = CONTRACTS / "proxy-api.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
_URI = "urn:contract"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    template: str

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


class Contract:
    """One OpenAPI document: its operations, and a validator for each documented response."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.spec: dict[str, Any] = yaml.safe_load(path.read_text())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_URI, resource)
        # Most specific template first: more literal characters wins.
        templates = sorted(self.spec["paths"], key=lambda t: -len(re.sub(r"\{[^}]+\}", "", t)))
        self._patterns = [(self._regex(t), t) for t in templates]

    @staticmethod
    def _regex(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", template)
        body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{body}$")

    def operations(self) -> list[Operation]:
        return [
            Operation(method.upper(), template)
            for template, item in self.spec["paths"].items()
            for method in METHODS
            if method in item
        ]

    def template_for(self, path: str) -> str:
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template
        raise AssertionError(f"{path} is not documented in {self.path.name}")

    def operation(self, method: str, path: str) -> tuple[Operation, dict[str, Any]]:
        template = self.template_for(path)
        item = self.spec["paths"][template]
        if method.lower() not in item:
            raise AssertionError(f"{method} {template} is not documented in {self.path.name}")
        return Operation(method.upper(), template), item[method.lower()]

    def _response_pointer(self, method: str, path: str, status: int) -> str:
        operation, spec = self.operation(method, path)
        responses = spec["responses"]
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            raise AssertionError(f"{operation.name} does not document status {status}")
        response = responses[key]
        if "$ref" in response:
            return str(response["$ref"]).removeprefix("#")
        return f"/paths/{_escape(operation.template)}/{method.lower()}/responses/{key}"

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.spec
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> Any:
        """Raise AssertionError unless the response is documented and its body fits the schema.

        Returns the decoded JSON body (or the text for other media types).
        """
        pointer = self._response_pointer(method, path, status)
        response = self._resolve(pointer)
        media = content_type.split(";", 1)[0].strip()
        content = response.get("content", {})
        if media not in content:
            raise AssertionError(
                f"{method} {path} -> {status}: media type {media!r} not documented ({sorted(content)})"
            )
        if media != "application/json":
            return body.decode()
        data = orjson.loads(body)
        schema = {"$ref": f"{_URI}#{pointer}/content/{_escape(media)}/schema"}
        validator = Draft202012Validator(
            schema, registry=self._registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            details = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
            raise AssertionError(f"{method} {path} -> {status} breaks the contract: {details}")
        return data


@cache
def admin_contract() -> Contract:
    return Contract(ADMIN_API)


@cache
def proxy_contract() -> Contract:
    return Contract(PROXY_API)
