"""GET /v1/models and /v1/models/{id}: OpenAI's format for Bearer clients, Gemini's for Gemini clients."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import openai
import pytest
from openai.types import Model

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import DEFAULT_MODELS, Behavior, FakeConfig, Rule
from tests.conftest import CLIENT_TOKEN, FakeFactory, ProxyFactory, RunningProxy
from tests.integration.openai_sdk import async_client, sync_client

ALIASES = {"gpt-4o": "gemini-2.5-flash", "gpt-4o-mini": "gemini-2.5-flash-lite"}


@pytest.fixture
async def aliased(proxy_factory: ProxyFactory, fake: RunningFake) -> RunningProxy:
    """A proxy with two model aliases configured."""
    return await proxy_factory(upstream={"base_url": fake.url}, models={"aliases": ALIASES})


class TestOpenAIFormat:
    async def test_list_has_upstream_models_then_aliases(self, aliased: RunningProxy) -> None:
        """The list holds every upstream model by bare id, then each alias."""
        async with async_client(aliased) as client:
            page = await client.models.list()
        ids = [model.id for model in page.data]
        assert ids == [*DEFAULT_MODELS, *ALIASES]
        assert all(model.owned_by == "google" and model.object == "model" for model in page.data)

    async def test_get_model_and_alias(self, aliased: RunningProxy) -> None:
        """A model is found by id, and an alias answers under its own name."""

        def retrieve() -> tuple[Model, Model]:
            with sync_client(aliased) as client:
                return client.models.retrieve("gemini-2.5-pro"), client.models.retrieve("gpt-4o")

        model, alias = await asyncio.to_thread(retrieve)
        assert model.id == "gemini-2.5-pro"
        assert alias.id == "gpt-4o"

    async def test_unknown_model_is_not_found(self, proxy: RunningProxy) -> None:
        """An id neither listed nor known upstream raises NotFoundError with model_not_found."""
        async with async_client(proxy) as client:
            with pytest.raises(openai.NotFoundError) as raised:
                await client.models.retrieve("gemini-0-nonexistent")
        assert raised.value.code == "model_not_found"

    async def test_list_follows_upstream_pages(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """An upstream list longer than one page (50) is read to its end."""
        extra = tuple(f"gemini-extra-{i}" for i in range(60))
        fake = await fake_factory(FakeConfig(models=(*DEFAULT_MODELS, *extra)))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with async_client(proxy) as client:
            page = await client.models.list()
            model = await client.models.retrieve("gemini-extra-59")
        assert [m.id for m in page.data] == [*DEFAULT_MODELS, *extra]
        assert model.id == "gemini-extra-59"

    async def test_model_missing_from_the_cached_list_is_asked_for_upstream(
        self, proxy: RunningProxy, fake: RunningFake
    ) -> None:
        """A model the cached list does not show is looked up upstream by id before a 404."""
        async with async_client(proxy) as client:
            await client.models.list()
            fake.state.config = replace(fake.state.config, models=(*DEFAULT_MODELS, "gemini-new"))
            model = await client.models.retrieve("gemini-new")
        assert model.id == "gemini-new"
        assert fake.state.requests_by_method["models.list"] == 1
        assert fake.state.requests_by_method["models.get"] == 1

    async def test_list_is_cached(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """Within models_cache_s the upstream list is fetched once for many requests."""
        async with async_client(proxy) as client:
            for _ in range(3):
                await client.models.list()
            await client.models.retrieve("gemini-2.5-flash")
        assert fake.state.requests_by_method["models.list"] == 1

    async def test_cache_off(self, proxy_factory: ProxyFactory, fake: RunningFake) -> None:
        """models_cache_s: 0 fetches the list for every request."""
        proxy = await proxy_factory(upstream={"base_url": fake.url}, openai={"models_cache_s": 0})
        async with async_client(proxy) as client:
            await client.models.list()
            await client.models.list()
        assert fake.state.requests_by_method["models.list"] == 2

    async def test_upstream_failure_is_an_openai_error(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Every key rejected while listing: an OpenAI-format 503, not Gemini's error body."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.INVALID_KEY),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with async_client(proxy) as client:
            with pytest.raises(openai.InternalServerError) as raised:
                await client.models.list()
        assert raised.value.status_code == 503 and raised.value.type == "server_error"

    async def test_root_base_url(self, proxy: RunningProxy) -> None:
        """A client whose base URL is the server root lists models at /models."""
        async with async_client(proxy, path="") as client:
            page = await client.models.list()
        assert "gemini-2.5-flash" in [model.id for model in page.data]


class TestGeminiClientsOnTheSamePaths:
    @pytest.mark.parametrize(
        ("path", "headers"),
        [
            ("/v1/models", {"x-goog-api-key": CLIENT_TOKEN}),
            (f"/v1/models?key={CLIENT_TOKEN}", {}),
        ],
    )
    async def test_list_in_gemini_format(
        self, proxy: RunningProxy, path: str, headers: dict[str, str]
    ) -> None:
        """x-goog-api-key or ?key= on /v1/models gets Gemini's {"models": [...]}."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(proxy.url + path, headers=headers) as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert "data" not in body
        assert "models/gemini-2.5-flash" in [model["name"] for model in body["models"]]

    async def test_get_in_gemini_format(self, proxy: RunningProxy) -> None:
        """x-goog-api-key on /v1/models/{id} gets Gemini's model object."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                proxy.url + "/v1/models/gemini-2.5-flash", headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert body["name"] == "models/gemini-2.5-flash"
        assert "supportedGenerationMethods" in body

    async def test_bearer_client_gets_openai_format(self, proxy: RunningProxy) -> None:
        """The same path with Authorization: Bearer gets OpenAI's list."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                proxy.url + "/v1/models", headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}
            ) as response,
        ):
            body = await response.json()
        assert body["object"] == "list" and body["data"][0]["object"] == "model"
