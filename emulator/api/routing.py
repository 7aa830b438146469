"""Routes that carry their own documentation, grouped per resource.

Every endpoint is declared once, next to its handler: `get("/{agent_id}", get_agent, "Get an agent",
response=wire.Agent)`. The served OpenAPI document (`emulator/api/openapi.py`) is generated from these
declarations and the wire models they name, so there is no second listing of routes.

`Resource` groups the routes under one path prefix, so the order in which a resource's routes are tried
(literal paths such as `/v1/agents/voices` before `/v1/agents/{agent_id}`) is decided in its own module,
and a request skips every resource whose prefix it does not start with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[..., Any]


@dataclass(frozen=True)
class Doc:
    """What a route cannot say about itself, for the OpenAPI document."""

    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    body_required: bool = True
    nullable: bool = False  # the body may be JSON null (no webhook set)
    media: str | None = None  # a success body that is not JSON
    query: tuple[tuple[str, str], ...] = ()  # (name, JSON Schema type) of the query parameters
    public: bool = False  # served without an API key
    hidden: bool = False  # not part of the API (the docs themselves)


class ApiRoute(Route):
    """A Starlette route for one method, with its `Doc`."""

    def __init__(self, path: str, endpoint: Endpoint, method: str, doc: Doc) -> None:
        super().__init__(path, endpoint, methods=[method], include_in_schema=not doc.hidden)
        self.method = method
        self.doc = doc


def _query(names: Sequence[str | tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Query parameters as (name, type); a bare name is a string."""
    return tuple((n, "string") if isinstance(n, str) else n for n in names)


@dataclass(frozen=True)
class Declared:
    """A route as its module declares it: a path relative to its resource's prefix."""

    method: str
    path: str
    endpoint: Endpoint
    doc: Doc

    def route(self, prefix: str = "") -> ApiRoute:
        return ApiRoute(prefix + self.path, self.endpoint, self.method, self.doc)


def _route(method: str) -> Callable[..., Declared]:
    def declare(path: str, endpoint: Endpoint, summary: str, *, request: type[BaseModel] | None = None,
                response: type[BaseModel] | None = None, status: int = 200, body_required: bool = True,
                nullable: bool = False, media: str | None = None, query: Sequence[str | tuple[str, str]] = (),
                public: bool = False, hidden: bool = False) -> Declared:
        doc = Doc(summary, request, response, status, body_required, nullable, media, _query(query), public, hidden)
        return Declared(method, path, endpoint, doc)

    return declare


get = _route("GET")
post = _route("POST")
put = _route("PUT")
patch = _route("PATCH")
delete = _route("DELETE")

INT = "integer"
PAGED = (("limit", INT), ("offset", INT))


class Resource(BaseRoute):
    """The routes of one resource under a path prefix (`Resource("/v1/agents", [get("", ...), ...])`).

    Route paths are given relative to the prefix and stored whole, so each route keeps the full path
    template the API documents. Routes are tried in the order given."""

    def __init__(self, prefix: str, routes: Sequence[Declared], tag: str) -> None:
        self.prefix = prefix.rstrip("/")
        self.tag = tag
        self.routes: list[ApiRoute] = [declared.route(self.prefix) for declared in routes]

    def _covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not self._covers(scope["path"]):
            return Match.NONE, {}
        partial: tuple[Match, Scope] | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, "emulator.route": route}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child, "emulator.route": route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["emulator.route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except Exception:  # noqa: S112 (try the next route, as Starlette's Router does)
                continue
        raise LookupError(name)


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[ApiRoute, str]]:
    """Every documented route of an app, with its resource's tag, in routing order."""
    for route in routes:
        if isinstance(route, Resource):
            for child in route.routes:
                yield child, route.tag
        elif isinstance(route, ApiRoute):
            yield route, ""


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> list[str]:
    """The methods served at `path`: those of the first route template that matches it.

    Literal paths come before parameterised ones in each resource, so `/v1/agents/voices` answers with
    its own methods, not with those of `/v1/agents/{agent_id}`."""
    template: str | None = None
    methods: set[str] = set()
    for route, _tag in api_routes(routes):
        if template is None and route.path_regex.match(path):
            template = route.path
        if route.path == template:
            methods |= route.methods or set()
    return sorted(methods)
