"""Which Gemini method a request URL names, parsed by hand from the raw path.

The fake serves everything from one catch-all route: the model segment uses Google's
custom-method syntax (``models/gemini-2.5-flash:generateContent``), whose colon some
clients send as ``%3A``, which aiohttp's router patterns cannot express.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote


class ApiMethod(StrEnum):
    """The methods the fake implements (the values are what ``requests_by_method`` counts)."""

    GENERATE_CONTENT = "generateContent"
    STREAM_GENERATE_CONTENT = "streamGenerateContent"
    COUNT_TOKENS = "countTokens"
    EMBED_CONTENT = "embedContent"
    BATCH_EMBED_CONTENTS = "batchEmbedContents"
    LIST_MODELS = "models.list"
    GET_MODEL = "models.get"
    OPENAI_CHAT_COMPLETIONS = "openai.chat.completions"
    OPENAI_LIST_MODELS = "openai.models.list"
    OPENAI_GET_MODEL = "openai.models.get"
    OPENAI_EMBEDDINGS = "openai.embeddings"
    UNKNOWN = "unknown"


MODEL_METHODS = frozenset(
    {
        ApiMethod.GENERATE_CONTENT,
        ApiMethod.STREAM_GENERATE_CONTENT,
        ApiMethod.COUNT_TOKENS,
        ApiMethod.EMBED_CONTENT,
        ApiMethod.BATCH_EMBED_CONTENTS,
    }
)
OPENAI_METHODS = frozenset(
    {
        ApiMethod.OPENAI_CHAT_COMPLETIONS,
        ApiMethod.OPENAI_LIST_MODELS,
        ApiMethod.OPENAI_GET_MODEL,
        ApiMethod.OPENAI_EMBEDDINGS,
    }
)

_MODEL_METHOD = re.compile(r"^/(v1|v1beta)/(models|tunedModels)/([^:/]+?)(?::|%3[Aa])([A-Za-z]+)$")
_MODEL_RESOURCE = re.compile(r"^/(v1|v1beta)/(models|tunedModels)/([^:/]+)$")
_MODEL_LIST = re.compile(r"^/(v1|v1beta)/models/?$")
_OPENAI_MODEL = re.compile(r"^/v1beta/openai/models/(?:models/)?([^/]+)$")
_OPENAI_FIXED = {
    ("POST", "/v1beta/openai/chat/completions"): ApiMethod.OPENAI_CHAT_COMPLETIONS,
    ("GET", "/v1beta/openai/models"): ApiMethod.OPENAI_LIST_MODELS,
    ("POST", "/v1beta/openai/embeddings"): ApiMethod.OPENAI_EMBEDDINGS,
}


@dataclass(frozen=True)
class Route:
    """A resolved request: the method, the API version, and the model named in the URL if any."""

    api_method: ApiMethod
    version: str = "v1beta"
    collection: str = "models"
    model: str | None = None

    @property
    def resource(self) -> str:
        """The model's resource name as Google spells it in messages (``models/gemini-2.5-flash``)."""
        return f"{self.collection}/{self.model}"

    @property
    def is_openai(self) -> bool:
        """True for Google's OpenAI-compatible layer (Bearer auth, OpenAI shapes)."""
        return self.api_method in OPENAI_METHODS


def resolve_route(http_method: str, raw_path: str) -> Route | None:
    """The route ``http_method raw_path`` names, or None (which the fake answers with 404)."""
    if http_method == "POST":
        found = _MODEL_METHOD.match(raw_path)
        if found is not None:
            version, collection, model, name = found.groups()
            try:
                method = ApiMethod(name)
            except ValueError:
                return None
            if method not in MODEL_METHODS:
                return None
            return Route(method, version, collection, unquote(model))
    if http_method == "GET":
        found = _MODEL_LIST.match(raw_path)
        if found is not None:
            return Route(ApiMethod.LIST_MODELS, found.group(1))
        found = _MODEL_RESOURCE.match(raw_path)
        if found is not None:
            version, collection, model = found.groups()
            return Route(ApiMethod.GET_MODEL, version, collection, unquote(model))
        found = _OPENAI_MODEL.match(raw_path)
        if found is not None:
            return Route(ApiMethod.OPENAI_GET_MODEL, model=unquote(found.group(1)))
    fixed = _OPENAI_FIXED.get((http_method, raw_path))
    return Route(fixed) if fixed is not None else None
