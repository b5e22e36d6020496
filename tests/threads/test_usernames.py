"""Usernames: NFKC + casefold before the uniqueness check, look-alike names refused (issue 14, item 5)."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from tests.threads.support import client_for, make_user
from threads.models import Profile
from threads.services.usernames import confusable_reason, username_key

pytestmark = pytest.mark.django_db

PASSWORD = "pl4ne-Tree-x"


def register(username: str):
    return client_for().post(
        "/api/auth/register",
        {"username": username, "email": "someone@example.com", "password": PASSWORD},
        format="json",
    )


@pytest.mark.parametrize("name", ["ＡＬＩＣＥ", "ALICE", "Alice", "ａｌｉｃｅ"])
def test_a_name_equal_to_alice_after_nfkc_and_casefold_is_taken(eager, name):
    make_user("alice")
    response = register(name)
    assert response.status_code == 400 and response.json() == {"username": ["This username is taken."]}
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


@pytest.mark.parametrize("name", ["аlice", "pаypal", "рор", "ΑΡΕ"])
def test_a_look_alike_name_is_refused_with_a_clear_400(eager, name):
    make_user("alice")
    response = register(name)
    assert response.status_code == 400
    message = response.json()["username"][0]
    assert message.startswith("This username could be mistaken for another.") and "looks like" in message
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("name", ["Дмитрий", "李小龙", "josé", "Straße", "dora.v-2"])
def test_names_in_one_script_register(eager, name):
    response = register(name)
    assert response.status_code == 201, response.content
    user = get_user_model().objects.get(pk=response.json()["id"])
    assert user.profile.username_key == username_key(name)


def test_the_stored_name_is_the_nfkc_form_and_logs_in_by_any_spelling_of_it(eager):
    response = register("ＤＯＲＡ")
    assert response.status_code == 201 and response.json()["username"] == "DORA"
    for spelling in ("DORA", "dora", "ｄｏｒａ"):
        credentials = {"username": spelling, "password": PASSWORD}
        token = client_for().post("/api/auth/token", credentials, format="json")
        assert token.status_code == 200, (spelling, token.content)


def test_nfkc_that_breaks_the_username_rules_is_refused(eager):
    # U+FDFA (one character) is a whole phrase with spaces in NFKC
    assert register("ab\ufdfa").status_code == 400
    assert register("ali ce").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_spellings_registered_at_once_leave_one_user(eager):
    """The unique key holds where the check before it cannot (both requests pass it together)."""
    barrier = threading.Barrier(2)
    results = []

    def attempt(name):
        barrier.wait()
        try:
            results.append(register(name).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("Concurrent", "CONCURRENT")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 400]
    assert Profile.objects.filter(username_key="concurrent").count() == 1
    assert get_user_model().objects.filter(username__iexact="concurrent").count() == 1


def test_confusable_reason_uses_unicode_data_not_a_table():
    assert confusable_reason("alice") is None
    assert "Cyrillic 'а'" in confusable_reason("аlice")
