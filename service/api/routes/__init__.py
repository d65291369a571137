"""The API's routers, one per resource, and what every router does to its GET routes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

__all__ = ["answer_head"]


def answer_head(router: APIRouter) -> APIRouter:
    """`router` with HEAD on every GET route, as Starlette's own routes answer it and load
    balancers and link checkers expect; FastAPI's routes answer GET alone (fastapi#1773). Each
    twin is a route of its own, hidden from the spec (HEAD is implied by GET); the server sends
    no body. Each route module calls it once its routes are declared;
    a path that answers HEAD already gets no second twin."""
    answered = {
        r.path for r in router.routes if isinstance(r, APIRoute) and "HEAD" in (r.methods or ())
    }
    for route in list(router.routes):
        if (
            isinstance(route, APIRoute)
            and "GET" in (route.methods or ())
            and route.path not in answered
        ):
            # The route holds the router's prefix and dependencies already; they are added again.
            router.add_api_route(
                route.path.removeprefix(router.prefix),
                route.endpoint,
                methods=["HEAD"],
                name=route.name,
                response_model=route.response_model,
                response_class=route.response_class,
                dependencies=route.dependencies[len(router.dependencies) :],
                include_in_schema=False,
            )
    return router
