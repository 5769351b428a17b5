"""Staff pages and APIs: 403 for members, sign-in for anonymous users; People page actions."""
from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db

STAFF_PAGES = ["/team/people/", "/team/invites/"]
STAFF_POSTS = ["/team/people/{id}/disable/", "/team/people/{id}/approve/", "/team/people/{id}/reset_budget/",
               "/team/people/signup/", "/team/invites/"]


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_members_get_403_and_anonymous_users_are_sent_to_sign_in(logged_in, url) -> None:
    refused = logged_in.get(url)
    assert refused.status_code == 403 and b"Administrators only" in refused.content
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", STAFF_POSTS)
def test_members_cannot_change_anything(logged_in, user, make_user, url) -> None:
    other = make_user("bob")
    assert logged_in.post(url.format(id=other.pk), {"signup_mode": "open", "days": 3, "max_uses": 1}).status_code == 403
    other.refresh_from_db()
    assert other.status == "active"


def test_the_staff_people_api_is_403_for_members_and_401_for_anonymous(logged_in, staff_client, user) -> None:
    assert logged_in.get("/api/team/people/").status_code == 403
    assert Client().get("/api/team/people/").status_code == 401
    rows = staff_client.get("/api/team/people/").json()
    assert {r["username"] for r in rows} == {"alice", "root"}


def test_the_people_page_lists_everyone_with_status_and_spend(staff_client, user, make_user, make_group) -> None:
    pending = make_user("penny", status=User.Status.PENDING)
    make_group("writers", usd="10", members=(user,))
    page = staff_client.get("/team/people/").content.decode()
    assert page.index("penny") < page.index("alice")  # pending people first
    assert "writers (group)" in page and "$10" in page
    assert f"/team/people/{pending.pk}/approve/" in page


def test_staff_disable_enable_group_and_budget(staff_client, staff, user, make_group) -> None:
    group = make_group("writers")
    staff_client.post(f"/team/people/{user.pk}/disable/")
    user.refresh_from_db()
    assert user.status == "disabled" and not user.is_active
    staff_client.post(f"/team/people/{user.pk}/enable/")
    staff_client.post(f"/team/people/{user.pk}/group/", {"group": group.pk})
    staff_client.post(f"/team/people/{user.pk}/budget/", {"budget_usd": "3.5", "budget_tokens": ""})
    staff_client.post(f"/team/people/{user.pk}/reset_budget/")
    user.refresh_from_db()
    assert user.status == "active" and list(user.groups.all()) == [group]
    assert str(user.budget_usd) == "3.5000" and user.budget_tokens is None and user.budget_reset_at is not None
    bad = staff_client.post(f"/team/people/{user.pk}/budget/", {"budget_usd": "-1"}, follow=True)
    assert b"positive number" in bad.content
    mine = staff_client.post(f"/team/people/{staff.pk}/disable/", follow=True)
    assert b"cannot disable your own account" in mine.content
    staff.refresh_from_db()
    assert staff.status == "active"


def test_staff_choose_the_sign_up_mode_and_domains(staff_client) -> None:
    from accounts.models import SiteSettings

    staff_client.post("/team/people/signup/", {"signup_mode": "approval", "allowed_domains": "Example.org\n@x.io"})
    site = SiteSettings.load()
    assert site.mode == "approval" and site.domains == ["example.org", "x.io"]
    bad = staff_client.post("/team/people/signup/", {"signup_mode": "open", "allowed_domains": "not a domain"},
                            follow=True)
    assert b"Not a domain" in bad.content and SiteSettings.load().mode == "approval"


def test_every_staff_entry_of_the_navigation_is_403_for_members(logged_in, staff_client) -> None:
    """Not only our pages: whatever staff pages the other areas add to the navigation."""
    from django.urls import NoReverseMatch, reverse

    from grokweb.nav import NAV

    urls = []
    for _, name, staff_only in NAV:
        try:
            urls.append((reverse(name), staff_only))
        except NoReverseMatch:
            continue
    staff_urls = [url for url, staff_only in urls if staff_only]
    assert "/team/people/" in staff_urls and len(staff_urls) >= 3
    for url in staff_urls:
        assert logged_in.get(url).status_code == 403, url
        assert staff_client.get(url).status_code == 200, url


def test_the_staff_usage_report_api_is_403_for_members(logged_in, staff_client) -> None:
    assert logged_in.get("/api/usage/report").status_code == 403
    assert staff_client.get("/api/usage/report").status_code == 200


def test_someone_in_several_groups_is_not_reduced_to_one_from_the_people_page(staff_client, user, make_group) -> None:
    writers, research = make_group("writers", members=(user,)), make_group("research", members=(user,))
    page = staff_client.get("/team/people/").content.decode()
    assert "research, writers" in page and f"/admin/accounts/user/{user.pk}/change/" in page
    answer = staff_client.post(f"/team/people/{user.pk}/group/", {"group": writers.pk}, follow=True)
    assert "is in several groups" in answer.content.decode()
    assert set(user.groups.all()) == {writers, research}  # nothing dropped


def test_a_groups_pool_is_summed_once_for_the_people_page_not_once_per_member(make_user, make_group) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.people import people

    group = make_group("writers", usd="10")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            rows = people()
        assert all(row.budget is not None and row.budget.source == "group:writers" for row in rows)
        return len(ctx.captured_queries)

    for name in ("a1", "a2"):
        make_user(name).groups.add(group)
    two = queries()
    for name in ("b1", "b2", "b3"):
        make_user(name).groups.add(group)
    assert queries() - two == 3  # each new member: their group policies, not another sum of the pool
