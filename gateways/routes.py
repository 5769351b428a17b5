"""Which routes a reply may take, in order: enabled, listed, on an enabled provider, not cooling down."""
from __future__ import annotations

import math
import time

from chat.errors import ChatError
from chat.models import Model, Route

from .breaker import Breaker, route_key
from .failover import RouteChoice


def choice_for(route: Route) -> RouteChoice:
    provider = route.provider
    return RouteChoice(route.id, provider.id, provider.name, route.upstream_id, provider.endpoint(),
                       route_key(route.id, provider.id, route.upstream_id))


def candidate_routes(model: Model) -> list[Route]:
    return list(Route.objects.filter(model=model, enabled=True, available=True, provider__enabled=True)
                .select_related("provider").order_by("priority", "id"))


def usable_routes(model: Model, breaker: Breaker | None = None) -> list[RouteChoice]:
    """The routes to try for `model`, best first.

    A model without Route rows (added by hand in the Django admin) is served
    by its own provider. When every route is cooling down the reply is refused
    at once with the wait, rather than sent to a gateway known to be failing.
    """
    breaker = breaker or Breaker()
    routes = candidate_routes(model)
    if not routes:
        if Route.objects.filter(model=model).exists() or not model.provider.enabled:
            raise ChatError("model_unavailable", f"No provider offers {model.name} right now.")
        provider = model.provider
        return [RouteChoice(None, provider.id, provider.name, model.upstream_id, provider.endpoint(),
                            route_key(None, provider.id, model.upstream_id))]
    choices, waits = [], []
    for route in routes:
        key = route_key(route.id, route.provider_id, route.upstream_id)
        until = breaker.open_until(key)
        if until is None:
            choices.append(choice_for(route))
        else:
            waits.append(until - time.time())
    if not choices:
        seconds = max(1, math.ceil(min(waits)))
        raise ChatError("upstream_unavailable", f"Every gateway serving {model.name} failed repeatedly; "
                        f"it is given a rest. Try again in {seconds} s.")
    return choices
