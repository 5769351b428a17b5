"""The navigation every page shows: members never see staff links; missing areas are left out."""
from __future__ import annotations

import pytest
from django.test import RequestFactory

from grokweb import nav


def _labels(user) -> list[str]:  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/")
    request.user = user
    return [item["label"] for item in nav.items(request)]


@pytest.mark.django_db
def test_members_see_no_staff_entries(user) -> None:
    labels = _labels(user)
    assert "Chat" in labels
    staff_labels = {label for label, _name, staff in nav.NAV if staff}
    assert not staff_labels & set(labels)


@pytest.mark.django_db
def test_staff_see_every_installed_entry(make_user) -> None:
    admin = make_user("root", is_staff=True)
    labels = _labels(admin)
    assert labels[0] == "Chat"
    assert len(labels) == len(set(labels))


def test_anonymous_visitors_get_no_navigation() -> None:
    from django.contrib.auth.models import AnonymousUser

    assert _labels(AnonymousUser()) == []


@pytest.mark.django_db
def test_the_chat_menu_links_the_other_pages(logged_in) -> None:
    body = logged_in.get("/").content.decode()
    for item in nav.items(logged_in.get("/").wsgi_request):
        if item["url"] != "/":
            assert f'href="{item["url"]}"' in body
