"""gemini-proxy: a pool of Gemini API keys behind one OpenAI- and Gemini-compatible endpoint."""

from __future__ import annotations

__version__ = "0.1.0"
