"""Routes that carry their own documentation, grouped per resource.

Every endpoint is declared once, next to its handler: `get("/{agent_id}", get_agent, "Get an agent",
response=wire.Agent)`. The served OpenAPI document (`emulator/api/openapi.py`) is generated from these
declarations and the wire models they name, so there is no second listing of routes.

`Resource` groups the routes under one path prefix, so the order in which a resource's routes are tried
(literal paths such as `/v1/agents/voices` before `/v1/agents/{agent_id}`) is decided in its own module,
and a request skips every resource whose prefix it does not start with. The app can name a resource by its
prefix and module (`Resource.later`): the module is imported when a request first reaches that prefix or
the routes are listed (the OpenAPI document), so a server starts without the code of the resources its
clients have not used yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.clock import ISO_RULE, parse_iso
from emulator.errors import Invalid

Endpoint = Callable[..., Any]


INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Query:
    """One query parameter, declared once: the handler reads it with `read()` and the OpenAPI document
    describes it with `schema()`, so the documented range is the enforced one."""

    name: str
    kind: str = "string"  # "integer", "string" or "date-time"
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    required: bool = False  # the handler refuses the request without it (with its own sentence)
    pattern: str | None = None  # a string's rule, checked by the handler; an empty value counts as absent
    listed: Sequence[str] = ()  # the values the document lists, checked by the handler with its own sentence

    def schema(self) -> dict[str, Any]:
        if self.kind == "date-time":
            return {"type": "string", "pattern": ISO_RULE}
        out: dict[str, Any] = {"type": self.kind}
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum), ("default", self.default)):
            if value is not None:
                out[key] = value
        if self.choices or self.listed:
            out["enum"] = list(self.choices or self.listed)
        if self.pattern is not None:
            out["pattern"] = self.pattern if self.required else f"^$|{self.pattern}"
        return out

    def raw(self, request: Request) -> str | None:
        value = request.query_params.get(self.name)
        return value if value else None

    def read(self, request: Request) -> Any:
        """The parameter's value (its default when absent), refused with a sentence when out of its rules.

        An empty value (`?limit=`) is absent for a plain string, and refused for an integer, a timestamp or a
        choice, as the vendor's server does."""
        raw = request.query_params.get(self.name)
        if raw == "" and (self.kind != "string" or self.choices or self.listed):
            what = {"integer": "an integer", "date-time": "an ISO-8601 timestamp"}.get(self.kind)
            rule = what or (f"one of {', '.join(self.choices)}" if self.choices else "a listed value")
            raise Invalid(f"Query parameter '{self.name}' must be {rule}, not empty; leave it out for the default.")
        if not raw:
            return self.default
        if self.kind == "integer":
            return self._integer(raw)
        if self.kind == "date-time":
            try:
                return parse_iso(raw)
            except (ValueError, OverflowError):
                raise Invalid(f"Query parameter '{self.name}' must be an ISO-8601 timestamp (got {raw!r}).") from None
        if self.choices and raw not in self.choices:
            raise Invalid(f"Query parameter '{self.name}' must be one of {', '.join(self.choices)} (got {raw!r}).")
        return raw

    def _integer(self, raw: str) -> int:
        if INTEGER.fullmatch(raw) is None:  # digits as JSON writes them: not int()'s spaces, underscores or ٣
            raise Invalid(f"Query parameter '{self.name}' must be an integer (got {raw!r}).")
        low = self.minimum if self.minimum is not None else -(2**63)
        high = self.maximum if self.maximum is not None else 2**63 - 1
        value = int(raw) if len(raw) <= 40 else None  # thousands of digits: more than int() reads, out of range
        if value is None or not low <= value <= high:
            shown = raw if value is not None else f"{raw[:12]}..., {len(raw)} characters"
            raise Invalid(f"Query parameter '{self.name}' must be between {low} and {high} (got {shown}).")
        return value

    def time(self, request: Request) -> datetime | None:
        value = self.read(request)
        assert value is None or isinstance(value, datetime)
        return value


def limit(default: int, maximum: int) -> Query:
    return Query("limit", "integer", default, 1, maximum)


OFFSET = Query("offset", "integer", 0, 0, 1_000_000)
LIMIT = limit(20, 100)
PAGED = (LIMIT, OFFSET)
BEFORE = Query("before", "date-time")
AFTER = Query("after", "date-time")


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
    query: tuple[Query, ...] = ()
    public: bool = False  # served without an API key
    hidden: bool = False  # not part of the API (the docs themselves)
    access: str | None = None  # control routes: public, account or global (emulator/api/control/access.py)
    scoped: bool = True  # /v1 routes: X-Sub-Account-Id acts as a sub-account (false: the route ignores it)


class ApiRoute(Route):
    """A Starlette route for one method, with its `Doc`."""

    def __init__(self, path: str, endpoint: Endpoint, method: str, doc: Doc) -> None:
        super().__init__(path, endpoint, methods=[method], include_in_schema=not doc.hidden)
        self.method = method
        self.doc = doc
        # The path's segments: a literal string, or None for a `{parameter}` (Starlette's default `[^/]+`).
        self.segments: tuple[str | None, ...] = tuple(
            None if part.startswith("{") else part for part in path.strip("/").split("/")) if path.strip("/") else ()
        self.params: tuple[tuple[int, str], ...] = tuple(
            (index, part[1:-1]) for index, part in enumerate(path.strip("/").split("/")) if part.startswith("{"))


def _query(params: Sequence[str | Query]) -> tuple[Query, ...]:
    """Query parameters; a bare name is a string parameter."""
    return tuple(Query(p) if isinstance(p, str) else p for p in params)


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
                nullable: bool = False, media: str | None = None, query: Sequence[str | Query] = (),
                public: bool = False, hidden: bool = False, access: str | None = None,
                scoped: bool = True) -> Declared:
        doc = Doc(summary, request, response, status, body_required, nullable, media, _query(query), public, hidden,
                  access, scoped)
        return Declared(method, path, endpoint, doc)

    return declare


get = _route("GET")
post = _route("POST")
put = _route("PUT")
patch = _route("PATCH")
delete = _route("DELETE")


class Resource(BaseRoute):
    """The routes of one resource under a path prefix (`Resource("/v1/agents", [get("", ...), ...])`).

    Route paths are given relative to the prefix and stored whole, so each route keeps the full path
    template the API documents. Routes are tried in the order given."""

    def __init__(self, prefix: str, routes: Sequence[Declared], tag: str) -> None:
        self.prefix = prefix.rstrip("/")
        self._source: tuple[str, str] | None = None
        self._tag = tag
        self._routes: list[ApiRoute] = [declared.route(self.prefix) for declared in routes]
        # Routes by segment count, in declaration order: a request only looks at the routes as long as its path.
        # Each as (template, its literal segments by position, its parameters by position, methods, route).
        self._by_length: dict[int, list[tuple[str, tuple[tuple[int, str], ...], tuple[tuple[int, str], ...],
                                              frozenset[str] | None, ApiRoute]]] = {}
        for route in self._routes:
            literals = tuple((index, part) for index, part in enumerate(route.segments) if part is not None)
            methods = frozenset(route.methods) if route.methods is not None else None
            self._by_length.setdefault(len(route.segments), []).append(
                (route.path, literals, route.params, methods, route))
        # A template with a convertor (`{name:path}`) can span segments: such a resource matches as Starlette does.
        self._by_template = any(":" in part for route in self._routes for part in route.path.split("/")
                                if part.startswith("{"))

    @classmethod
    def later(cls, prefix: str, module: str, name: str = "resource") -> Resource:
        """The resource `name` of `module`, which serves `prefix`, imported when it is first needed (the module
        is looked for at once: a name that finds none fails the app's start, not its first request)."""
        if importlib.util.find_spec(module) is None:
            raise LookupError(f"there is no module {module} for the resource of {prefix}")
        resource = cls.__new__(cls)
        resource.prefix = prefix.rstrip("/")
        resource._source = (module, name)
        return resource

    def _load(self) -> None:
        assert self._source is not None
        module, name = self._source
        declared = getattr(importlib.import_module(module), name)
        if not isinstance(declared, Resource) or declared.prefix != self.prefix:
            raise LookupError(f"{module}.{name} is not the resource of {self.prefix}")
        self._tag, self._routes = declared.tag, declared.routes
        self._by_length, self._by_template = declared._by_length, declared._by_template
        self._source = None

    @property
    def routes(self) -> list[ApiRoute]:
        if self._source is not None:
            self._load()
        return self._routes

    @property
    def tag(self) -> str:
        if self._source is not None:
            self._load()
        return self._tag

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Starlette's matching (the first route whose path matches; FULL when its method does too, else
        PARTIAL, which answers 405), done segment by segment instead of one regular expression per route."""
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        prefix = self.prefix
        if path != prefix and not path.startswith(prefix + "/"):
            return Match.NONE, {}
        return self.match_path(path, scope)

    def match_path(self, path: str, scope: Scope) -> tuple[Match, Scope]:
        """`matches` for a path already known to be under the prefix."""
        if self._source is not None:
            self._load()
        if self._by_template:
            return self._match_templates(scope)
        parts = path[1:].split("/")
        candidates = self._by_length.get(len(parts))
        if not candidates or "" in parts:
            return Match.NONE, {}
        method = scope["method"]
        # The first template that matches the path decides (as `allowed_methods` does): a literal path such as
        # /v1/location/refresh answers 405 to other methods instead of falling through to /v1/location/{id}.
        partial: tuple[Match, Scope] | None = None
        decided = ""
        for template, literals, params, methods, route in candidates:
            if partial is not None and template != decided:
                continue
            for index, want in literals:
                if parts[index] != want:
                    break
            else:
                path_params = {name: parts[index] for index, name in params} if params else {}
                outer = scope.get("path_params")
                child: Scope = {"endpoint": route.endpoint, "emulator.route": route,
                                "path_params": {**outer, **path_params} if outer else path_params}
                if methods is None or method in methods:
                    return Match.FULL, child
                if partial is None:
                    partial, decided = (Match.PARTIAL, child), template
        return partial or (Match.NONE, {})

    def _match_templates(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] | None = None
        for route in self.routes:
            if partial is not None and route.path != partial[1]["emulator.route"].path:
                continue
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, "emulator.route": route}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child, "emulator.route": route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the endpoint; its errors go to the app's exception handlers (Starlette's ExceptionMiddleware),
        as they would from inside the route (a wrong method is the route's own 405)."""
        route: ApiRoute = scope["emulator.route"]
        if route.methods is not None and scope["method"] not in route.methods:
            return await route.handle(scope, receive, send)
        response = await route.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except Exception:  # noqa: S112 (try the next route, as Starlette's Router does)
                continue
        raise LookupError(name)


class PrefixRouter(Router):
    """Starlette's router, finding a request's resource by its path prefix instead of asking every route.

    Resources own disjoint prefixes (two may share one, in the order given), so the first resource that
    matches under the request's prefix is the route Starlette's own scan would pick. Anything else (another
    route, a 404, a 405, a trailing-slash redirect) is left to that scan."""

    def __init__(self, routes: Sequence[BaseRoute], **kwargs: Any) -> None:
        super().__init__(routes=list(routes), **kwargs)
        self._by_prefix: dict[str, list[Resource]] = {}
        for route in routes:
            if isinstance(route, Resource):
                self._by_prefix.setdefault(route.prefix, []).append(route)

    def resolve(self, scope: Scope) -> Resource | None:
        """The resource with a route for this HTTP request, path and method (the scope gains the route and its
        path parameters), or None."""
        path = get_route_path(scope)
        second = path.find("/", 1)
        third = path.find("/", second + 1) if second > 0 else -1
        by_prefix = self._by_prefix
        for prefix in (path[:third] if third > 0 else path, path[:second] if second > 0 else path):
            for resource in by_prefix.get(prefix, ()):
                match, child = resource.match_path(path, scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope.update(child)
                    return resource
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        resource = self.resolve(scope) if scope["type"] == "http" else None
        if resource is not None:
            return await resource.handle(scope, receive, send)
        await super().app(scope, receive, send)


Handler = Callable[[Request, Exception], Awaitable[Response]]


class Dispatch:
    """ASGI middleware, the innermost: a request for a resource's route goes straight to its endpoint, and the
    endpoint's errors to the app's exception handlers (looked up by class, as Starlette does), without passing
    Starlette's exception middleware and router on the way (three coroutines and a send wrapper per request).
    Anything else (another route, a 404, a 405) goes on to them."""

    def __init__(self, app: ASGIApp, router: PrefixRouter, handlers: Mapping[type[Exception], Handler]) -> None:
        self.app = app
        self.router = router
        self.handlers = dict(handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resource = self.router.resolve(scope) if scope["type"] == "http" else None
        if resource is None:
            return await self.app(scope, receive, send)
        request = Request(scope, receive, send)
        try:
            response = await scope["emulator.route"].endpoint(request)
        except Exception as exc:
            handler = next((self.handlers[kind] for kind in type(exc).__mro__ if kind in self.handlers), None)
            if handler is None:
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # an exception instance raised again must not gather tracebacks
        await response(scope, receive, send)


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
    its own methods, not with those of `/v1/agents/{agent_id}`. Only the resources whose prefix the path is
    under are looked into (their routes match nothing else)."""
    template: str | None = None
    methods: set[str] = set()
    under = [route for route in routes
             if not isinstance(route, Resource) or path == route.prefix or path.startswith(route.prefix + "/")]
    for route, _tag in api_routes(under):
        if template is None and route.path_regex.match(path):
            template = route.path
        if route.path == template:
            methods |= route.methods or set()
    return sorted(methods)
