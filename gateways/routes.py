"""Which routes a reply may take, in order: enabled, listed, on an enabled provider, not cooling down."""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass

from . import plans
from .breaker import Breaker, route_key
from .failover import RouteChoice
from .models import Model, Route
from .wire.codes import ChatError

log = logging.getLogger(__name__)


def choice_for(route: Route) -> RouteChoice:
    provider = route.provider
    return RouteChoice(route.id, provider.id, provider.name, route.upstream_id, provider.endpoint(),
                       route_key(route.id, provider.id, route.upstream_id))


def _warn_unreadable(providers: list[str]) -> None:
    log.error("the stored API key of %s cannot be decrypted with FIELD_ENCRYPTION_KEY; its routes are skipped "
              "until the key is entered again or rotated (manage.py rotate_provider_keys)",
              ", ".join(sorted(set(providers))))


def _unreadable_key(model: Model, providers: list[str]) -> ChatError:
    _warn_unreadable(providers)
    return ChatError("upstream_auth", f"The API key stored for {model.name}'s gateway cannot be read; "
                                      "an admin needs to enter it again.")


def candidate_routes(model: Model) -> list[Route]:
    return list(Route.objects.filter(model=model, enabled=True, available=True, provider__enabled=True)
                .select_related("provider").order_by("priority", "id"))


@dataclass(frozen=True)
class _Plan:
    """A model's candidate routes, keys decrypted (None where a key does not decrypt), or why there are none."""

    choices: tuple[tuple[RouteChoice | None, str], ...]  # (choice or None, provider name), best first
    refused: ChatError | None = None


def _plan(model: Model) -> _Plan:
    routes = candidate_routes(model)
    if not routes:
        if Route.objects.filter(model=model).exists() or not model.provider.enabled:
            return _Plan((), ChatError("model_unavailable", f"No provider offers {model.name} right now."))
        provider = model.provider
        try:
            endpoint = provider.endpoint()
        except ValueError:
            return _Plan(((None, provider.name),))
        return _Plan(((RouteChoice(None, provider.id, provider.name, model.upstream_id, endpoint,
                                   route_key(None, provider.id, model.upstream_id)), provider.name),))
    choices: list[tuple[RouteChoice | None, str]] = []
    for route in routes:
        try:
            choices.append((choice_for(route), route.provider.name))
        except ValueError:  # the stored key does not decrypt: FIELD_ENCRYPTION_KEY changed without rotation
            choices.append((None, route.provider.name))
    return _Plan(tuple(choices))


def usable_routes(model: Model, breaker: Breaker | None = None, *, trial: bool = False) -> list[RouteChoice]:
    """The routes to try for `model`, best first.

    A model without Route rows (added by hand in the Django admin) is served
    by its own provider. When every route is cooling down, a caller that will
    end the trial (`trial=True`: the failover stream does) gets the one trial
    call of the first route that may take one (gateways.breaker): the model is
    never rested outright. Otherwise, or while another trial runs, the reply is
    refused at once with the wait, rather than sent to a gateway known to be failing.
    The routes and their keys come from a per-process cache (gateways.plans);
    breaker state is read live, in one cache call.
    """
    breaker = breaker or Breaker()
    plan = plans.cached(("routes", model.pk), lambda: _plan(model))
    if plan.refused is not None:
        raise plan.refused
    readable = [choice for choice, _ in plan.choices if choice is not None]
    unreadable = [name for choice, name in plan.choices if choice is None]
    if not readable:
        raise _unreadable_key(model, unreadable)
    if unreadable:
        _warn_unreadable(unreadable)
    opened = breaker.open_many([choice.key for choice in readable])
    choices = [choice for choice in readable if choice.key not in opened]
    if not choices:
        if trial:
            for choice in readable:
                endpoint = choice.endpoint
                if breaker.begin_trial(choice.key, endpoint.connect_timeout + endpoint.first_token_timeout + 5):
                    log.info("every route of %s is resting: %s takes a trial call", model.slug, choice.label)
                    return [dataclasses.replace(choice, trial=True)]
        seconds = max(1, math.ceil(min(opened.values()) - time.time()))
        raise ChatError("upstream_unavailable", f"Every gateway serving {model.name} failed repeatedly; "
                        f"it is given a rest. Try again in {seconds} s.", retry_after=seconds)
    return choices


def ordered(model: Model) -> list[Route]:
    return list(Route.objects.filter(model=model).select_related("provider").order_by("priority", "id"))


def move_up(route: Route) -> bool:
    """Try `route` one place earlier for its model; the model's routes are renumbered 10, 20, 30...

    Returns False when it is already first.
    """
    routes = ordered(route.model)
    index = next(i for i, r in enumerate(routes) if r.pk == route.pk)
    if index == 0:
        return False
    routes[index - 1], routes[index] = routes[index], routes[index - 1]
    for position, row in enumerate(routes, start=1):
        if row.priority != 10 * position:
            row.priority = 10 * position
            row.save(update_fields=["priority"])
    return True
