"""The domain move (issue 11) keeps every row and every foreign key, and the app serves them.

A database is taken back to the migrations main had before the move, filled through the
historical models of that layout (Provider, Model, Route and UsageRecord in `chat`, Price in
`usage`), migrated forward to today's code and then read through today's models and API.
Run on SQLite (tests/test_upgrade.py) and on PostgreSQL (tests/integration).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

BEFORE = [("accounts", "0002_team_accounts"), ("chat", "0002_routes_and_availability"),
          ("gateways", "0002_audit_deleted"), ("usage", "0003_rollup_grains")]


def _migrate(targets: list[tuple[str, str]] | None) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets if targets is not None else executor.loader.graph.leaf_nodes())
    return executor


def _fill_the_old_layout(apps: Any) -> dict[str, Any]:
    """What a team's database held before the move, written with the models of that time."""
    from gateways import crypto

    user = apps.get_model("accounts", "User").objects.create(username="ann", status="active", is_active=True)
    group = apps.get_model("auth", "Group").objects.create(name="writers")
    provider = apps.get_model("chat", "Provider").objects.create(
        name="xAI", kind="xai", base_url="https://api.x.ai/v1", api_key_encrypted=crypto.encrypt("xai-old-secret"))
    model = apps.get_model("chat", "Model").objects.create(
        slug="grok-4-fast-reasoning", name="Grok 4 Fast (reasoning)", provider=provider,
        upstream_id="grok-4-fast-reasoning", reasoning="hidden", price_input=Decimal("0.20"),
        price_cached_input=Decimal("0.05"), price_output=Decimal("0.50"), is_default=True)
    route = apps.get_model("chat", "Route").objects.create(model=model, provider=provider,
                                                          upstream_id="grok-4-fast-reasoning", priority=10)
    price = apps.get_model("usage", "Price").objects.create(
        provider=provider, model=model, effective_from=dt.date(2026, 1, 1), input=Decimal("0.20"),
        cached_input=Decimal("0.05"), output=Decimal("0.50"))
    conversation = apps.get_model("chat", "Conversation").objects.create(owner=user, model=model, title="Old chat")
    message = apps.get_model("chat", "Message")
    asked = message.objects.create(conversation=conversation, role="user", content="Olá?")
    answer = message.objects.create(conversation=conversation, parent=asked, role="assistant", content="Olá!",
                                    status="complete", model=model, model_slug=model.slug, finish_reason="stop")
    conversation.current_leaf = answer
    conversation.save()
    record = apps.get_model("chat", "UsageRecord").objects.create(
        user=user, conversation=conversation, message=answer, provider=provider, route=route, model=model,
        model_slug=model.slug, upstream_model="grok-4-fast-reasoning", prompt_tokens=165, cached_tokens=164,
        completion_tokens=2, reasoning_tokens=129, billable_output_tokens=131, total_tokens=296,
        price_input=price.input, price_cached_input=price.cached_input, price_output=price.output,
        cost_ticks=739000, stated_cost_ticks=739000)
    access = apps.get_model("accounts", "ModelAccess").objects.create(model=model)
    access.groups.add(group)
    finished_hold = apps.get_model("accounts", "Reservation").objects.create(message_id=answer.id, user=user,
                                                                            ticks=10, tokens=10)
    listed = apps.get_model("gateways", "ListedModel").objects.create(
        provider=provider, upstream_id="grok-4-fast-reasoning", status="mapped", model=model)
    attempt = apps.get_model("gateways", "Attempt").objects.create(
        provider=provider, route=route, model_slug=model.slug, outcome="ok", ttft_ms=812,
        at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    audit = apps.get_model("gateways", "AuditEntry").objects.create(provider=provider, provider_name="xAI",
                                                                    action="created")
    daily = apps.get_model("usage", "UsageDaily").objects.create(
        day=dt.date(2026, 3, 1), user=user, provider=provider, model=model, model_slug=model.slug, purpose="chat",
        calls=1, total_tokens=296, cost_ticks=739000)
    return {name: value.pk for name, value in locals().items() if hasattr(value, "pk")}


def upgrade_keeps_everything(client: Client) -> None:
    old = _migrate(BEFORE).loader.project_state(BEFORE).apps
    ids = _fill_the_old_layout(old)
    counts = {label: old.get_model(*label.split(".")).objects.count() for label in (
        "chat.Provider", "chat.Model", "chat.Route", "chat.UsageRecord", "usage.Price", "chat.Conversation",
        "chat.Message", "accounts.User")}

    _migrate(None)  # to today's code

    from accounts.models import ModelAccess, Reservation, User
    from chat.models import Conversation, Message
    from gateways.models import Attempt, AuditEntry, ListedModel, Model, Price, Provider, Route
    from usage.models import UsageDaily, UsageRecord

    now = {"chat.Provider": Provider, "chat.Model": Model, "chat.Route": Route, "chat.UsageRecord": UsageRecord,
           "usage.Price": Price, "chat.Conversation": Conversation, "chat.Message": Message, "accounts.User": User}
    assert {label: model.objects.count() for label, model in now.items()} == counts

    record = UsageRecord.objects.get(pk=ids["record"])
    assert (record.user_id, record.conversation_id, record.message_id, record.provider_id, record.route_id,
            record.model_id) == (ids["user"], ids["conversation"], ids["answer"], ids["provider"], ids["route"],
                                 ids["model"])
    assert record.cost_ticks == 739000
    model = Model.objects.get(pk=ids["model"])
    assert model.provider_id == ids["provider"] and model.routes.get().pk == ids["route"]
    assert Price.objects.get(pk=ids["price"]).model_id == ids["model"]
    assert Conversation.objects.get(pk=ids["conversation"]).model_id == ids["model"]
    assert Message.objects.get(pk=ids["answer"]).model_id == ids["model"]
    assert ModelAccess.objects.get(pk=ids["access"]).model_id == ids["model"]
    assert ListedModel.objects.get(pk=ids["listed"]).model_id == ids["model"]
    assert Attempt.objects.get(pk=ids["attempt"]).route_id == ids["route"]
    assert AuditEntry.objects.get(pk=ids["audit"]).provider_id == ids["provider"]
    assert UsageDaily.objects.get(pk=ids["daily"]).provider_id == ids["provider"]
    assert Provider.objects.get(pk=ids["provider"]).endpoint().api_key == "xai-old-secret"
    # A finished reply's reservation no longer holds a slot (reservations live as long as their reply).
    assert not Reservation.objects.filter(pk=ids["finished_hold"]).exists()

    # The database still enforces the foreign keys: deleting a model nulls the ledger's link, as before.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "chat_usagerecord")
    targets = {tuple(c["foreign_key"]) for c in constraints.values() if c["foreign_key"]}
    assert {("chat_model", "id"), ("chat_provider", "id"), ("chat_route", "id"), ("chat_message", "id"),
            ("chat_conversation", "id")} <= targets

    # And the app serves it.
    user = User.objects.get(pk=ids["user"])
    user.is_staff = True  # the model is limited to a group: staff see it
    user.save()
    client.force_login(user)
    chat = client.get(f"/api/conversations/{ids['conversation']}/").json()
    assert [m["content"] for m in chat["messages"]] == ["Olá?", "Olá!"]
    assert chat["messages"][1]["usage"]["cost_usd"] == "0.0000739"
    assert "grok-4-fast-reasoning" in [m["slug"] for m in client.get("/api/models/").json()]
    report = client.get("/api/usage/report", {"from": "2026-03-01", "to": "2026-03-01", "group_by": "model"})
    assert report.status_code == 200
