"""Tests of the state stores (``gemini_proxy.store``)."""
