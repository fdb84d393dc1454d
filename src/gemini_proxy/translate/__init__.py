"""Pure translation between the OpenAI API and Gemini's (protocol.md C, D).

No I/O, no clock, no randomness of its own: time, ids and caches are passed in.
The OpenAI route uses:

- requests: ``remote_media_urls``, ``chat_to_gemini`` -> ``GeminiChatCall``;
  ``embeddings_to_gemini`` -> ``EmbeddingCall``
- responses: ``gemini_to_chat``, ``ChatStreamTranslator`` (+ ``SSEDecoder``,
  ``encode_sse``, ``SSE_DONE``), ``gemini_to_embeddings``,
  ``gemini_models_to_openai``/``gemini_model_to_openai``
- errors: ``gemini_error_to_openai``, ``gemini_error_from_stream``
"""

from __future__ import annotations

from gemini_proxy.translate.chat_request import GeminiChatCall, chat_to_gemini, remote_media_urls
from gemini_proxy.translate.chat_response import gemini_to_chat
from gemini_proxy.translate.chat_stream import SSE_DONE, ChatStreamTranslator, encode_sse
from gemini_proxy.translate.embeddings import EmbeddingCall, embeddings_to_gemini, gemini_to_embeddings
from gemini_proxy.translate.errors import gemini_error_from_stream, gemini_error_to_openai
from gemini_proxy.translate.media import FetchedMedia, RemoteMediaRequired
from gemini_proxy.translate.model_names import resolve_model
from gemini_proxy.translate.models import gemini_model_to_openai, gemini_models_to_openai
from gemini_proxy.translate.options import IdSource, TranslateOptions, random_id_source
from gemini_proxy.translate.schema import clean_schema
from gemini_proxy.translate.signatures import SignatureCache
from gemini_proxy.translate.sse import SSEDecoder
from gemini_proxy.translate.thinking import ThinkingTable
from gemini_proxy.translate.usage import usage_to_openai

__all__ = [
    "SSE_DONE",
    "ChatStreamTranslator",
    "EmbeddingCall",
    "FetchedMedia",
    "GeminiChatCall",
    "IdSource",
    "RemoteMediaRequired",
    "SSEDecoder",
    "SignatureCache",
    "ThinkingTable",
    "TranslateOptions",
    "chat_to_gemini",
    "clean_schema",
    "embeddings_to_gemini",
    "encode_sse",
    "gemini_error_from_stream",
    "gemini_error_to_openai",
    "gemini_model_to_openai",
    "gemini_models_to_openai",
    "gemini_to_chat",
    "gemini_to_embeddings",
    "random_id_source",
    "remote_media_urls",
    "resolve_model",
    "usage_to_openai",
]
