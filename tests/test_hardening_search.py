"""Hardening of the expensive routes (issue 11): a pasted text never reaches the store, pasted
texts and exports are limited per key, and request bodies are parsed strictly."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from matcher import (
    DocumentEncoder,
    EntityKind,
    Store,
    erase,
    issue_key,
    ledger_path,
    set_password,
)
from matcher.text import content_hash
from service.app import create_app
from tests.conftest import add_user

SEARCHES = ("/api/v1/search/partners", "/api/v1/search/calls", "/api/v1/search/projects")
PASTED = " ".join(
    f"Sentence {i} of a pasted abstract describes AAV capsid variant number {i * 7919} "
    f"for subretinal delivery in cohort {i}."
    for i in range(40)
)
"""A pasted text of unique sentences, long enough to be cut into several chunks."""


def stored_vectors(settings) -> int:
    with sqlite3.connect(settings.db_path) as db:
        count: int = db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    return count


def assert_error(response, status):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    return error


@pytest.fixture
def client(settings, embedder):
    headers = add_user(settings.database, "u.biz", "bizdev")
    with TestClient(create_app(settings, embedder), headers=headers) as c:
        yield c


# ---------------------------------------------------------------------- a pasted text


def test_a_search_writes_nothing_to_the_store(client, settings):
    before = stored_vectors(settings)
    for url in SEARCHES:
        response = client.post(url, json={"text": PASTED, "k": 2})
        assert response.status_code == 200, response.text
        assert response.json()["matches"][0]["reasons"]["sentences"]["query"] in PASTED
    assert stored_vectors(settings) == before


def test_pasting_an_erased_projects_abstract_puts_nothing_back(settings, embedder):
    with Store(settings.database) as store:
        encoder = DocumentEncoder(embedder, store)
        texts = [d.text for d in store.documents(EntityKind.PROJECT) if d.entity_id == "P-1"]
        hashes = [content_hash(u) for u in encoder.units(texts)]
        assert store.cached_vectors(embedder.name, hashes)
        ledger = ledger_path(settings.db_path)
        erase(store, encoder, settings.models_dir, "project", "P-1", "u.admin", ledger)
        assert not store.cached_vectors(embedder.name, hashes)
    headers = add_user(settings.database, "u.biz", "bizdev")
    with TestClient(create_app(settings, embedder), headers=headers) as client:
        for url in SEARCHES:
            for text in texts:
                assert client.post(url, json={"text": text}).status_code == 200
    with Store(settings.database) as store:
        assert not store.cached_vectors(embedder.name, hashes)


def test_the_encoder_keeps_texts_it_may_not_persist_in_a_bounded_memory(settings, embedder):
    with Store(settings.database) as store:
        encoder = DocumentEncoder(embedder, store, recent=3)
        before = stored_vectors(settings)
        first = encoder.encode([PASTED], sentences=True, persist=False)
        sentences = encoder.sentences(PASTED)
        vectors = encoder.vectors(sentences[:2], persist=False)
        assert stored_vectors(settings) == before
        assert len(encoder.recent) == 3
        assert abs(float(first[0] @ DocumentEncoder(embedder).encode([PASTED])[0]) - 1) < 1e-5
        assert abs(float(vectors[0] @ embedder.embed(sentences[:1])[0]) - 1.0) < 1e-5
        # Stored documents' texts keep using the store.
        encoder.vectors(["A stored sentence."])
        assert stored_vectors(settings) == before + 1


# ---------------------------------------------------------------------- per-key limit


def test_the_31st_search_in_a_minute_answers_429_while_another_key_is_served(settings, embedder):
    headers = add_user(settings.database, "u.biz", "bizdev")
    with Store(settings.database) as store:
        _, second_key = issue_key(store, "u.biz")
    other = add_user(settings.database, "u.other", "researcher")
    assert settings.expensive_per_minute == 30
    body = {"text": "AAV vector supply", "k": 1}
    with TestClient(create_app(settings, embedder), headers=headers) as client:
        for _ in range(30):
            assert client.post("/api/v1/search/projects", json=body).status_code == 200
        limited = client.post("/api/v1/search/partners", json=body)
        error = assert_error(limited, 429)
        assert error["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # The export is expensive too and spends the same budget.
        assert_error(client.get("/api/v1/export/projects?k=1"), 429)
        # Cheap routes are not limited.
        assert client.get("/api/v1/projects/P-1/partners?k=1").status_code == 200
        # Another key of the same user, and another user, are still served.
        second = {"Authorization": f"Bearer {second_key}"}
        assert client.post("/api/v1/search/calls", json=body, headers=second).status_code == 200
        assert client.post("/api/v1/search/partners", json=body, headers=other).status_code == 200


def test_the_export_is_limited_and_sessions_share_their_users_budget(settings, embedder):
    settings = replace(settings, expensive_per_minute=2)
    add_user(settings.database, "u.biz", "bizdev")
    with Store(settings.database) as store:
        set_password(store, "u.biz", "a long enough secret")
    login = {"username": "u.biz", "password": "a long enough secret"}
    with TestClient(create_app(settings, embedder)) as client:
        assert client.post("/auth/login", json=login).status_code == 200
        assert client.get("/api/v1/export/projects?k=1").status_code == 200
        client.cookies.clear()
        # A new session does not reset the count.
        assert client.post("/auth/login", json=login).status_code == 200
        assert client.get("/api/v1/export/projects?k=1").status_code == 200
        limited = client.get("/api/v1/export/projects?k=1")
        assert_error(limited, 429)
        assert "Retry-After" in limited.headers


def test_the_limit_is_documented(settings, embedder):
    schema = create_app(settings, embedder).openapi()
    for path, method in [(p, "post") for p in SEARCHES] + [("/api/v1/export/projects", "get")]:
        assert "rate_limited" in schema["paths"][path][method]["responses"]["429"]["description"]


# ---------------------------------------------------------------------- strict bodies


@pytest.mark.parametrize(
    "body",
    [
        {"text": "AAV vector supply", "k": "5"},
        {"text": "AAV vector supply", "k": 5.0},
        {"text": "AAV vector supply", "k": True},
        {"text": 5},
        {"text": "AAV vector supply", "include_ineligible": "true"},
        {"text": "AAV vector supply", "include_ineligible": 1},
        {"text": "AAV vector supply", "stage": 1},
    ],
)
def test_bodies_are_not_coerced(client, body):
    url = "/api/v1/search/calls"
    assert_error(client.post(url, json=body), 422)


def test_strict_bodies_still_take_their_enums(client):
    body = {"text": "AAV vector supply", "k": 2, "stage": "preclinical", "modality": "aav"}
    calls = {**body, "status": ["open"], "include_ineligible": True, "needs": ["gmp_manufacturing"]}
    assert client.post("/api/v1/search/calls", json=calls).status_code == 200
    partners = {**body, "kind": ["cdmo"]}
    assert client.post("/api/v1/search/partners", json=partners).status_code == 200


def test_duplicate_keys_are_refused(client, settings):
    with Store(settings.database) as store:
        set_password(store, "u.biz", "a long enough secret")
    twice = b'{"username": "u.biz", "password": "wrong", "password": "a long enough secret"}'
    json = {"content-type": "application/json"}
    login = client.post("/auth/login", content=twice, headers=json)
    error = assert_error(login, 422)
    assert "password" in error["message"]
    assert "set-cookie" not in login.headers
    nested = b'{"text": "AAV vector supply", "k": 1, "k": 2}'
    assert_error(client.post("/api/v1/search/projects", content=nested, headers=json), 422)
    once = b'{"username": "u.biz", "password": "a long enough secret"}'
    assert client.post("/auth/login", content=once, headers=json).status_code == 200
