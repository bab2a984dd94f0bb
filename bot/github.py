"""Where the app authenticates to GitHub: the app's JWT and installation tokens via githubkit.

githubkit signs the JWT (RS256) and fetches installation tokens lazily; its cache keeps both
until shortly before they expire. The cache here is Redis, so every web and worker process
shares one token per installation, and every value is encrypted with Fernet first: a Redis
dump or a shared Redis never exposes a token that can write to people's repositories.

A token GitHub stops accepting before its expiry (the app reinstalled, its permissions
changed) answers 401: the request drops that cached token and is sent once more with a new
one (`RefreshingAppAuth`), instead of every command failing until the token would expire.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextvars import ContextVar, Token
from datetime import timedelta
from json import dumps as json_dumps  # what httpx encodes a `json=` body with
from typing import Any, NoReturn, TypeVar
from urllib.parse import unquote

import httpx
import redis.asyncio
from cryptography.fernet import Fernet, InvalidToken
from githubkit import AppAuthStrategy, GitHub, GitHubCore
from githubkit.auth.app import AppAuth, AppInstallationAuthStrategy
from githubkit.cache.base import AsyncBaseCache, BaseCacheStrategy
from githubkit.compat import to_jsonable_python
from githubkit.exception import CacheUnsupportedError, RequestError, RequestTimeout
from githubkit.utils import UNSET

from bot.github_transport import SharedTransport
from bot.settings import Settings

USER_AGENT = "liquidbook"
T = TypeVar("T")


class RedactedKey(str):
    """The app's private key as the text githubkit signs with, shown as `'<redacted>'`.

    githubkit's auth strategies are dataclasses whose repr prints `private_key` in full
    (`AppAuthStrategy(app_id=1, private_key='-----BEGIN RSA PRIVATE KEY-----…')`), and the
    same object travels to each installation's strategy and to its httpx auth flow. A repr
    in a log line, an error message or a debugger's view must never carry the key.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


class TokenUnavailable(Exception):
    """Another caller's fetch of this installation's token failed: the jobs that waited for
    it fail at once with GitHub's status instead of each asking again."""

    def __init__(self, status: str) -> None:
        super().__init__(f"GitHub did not give an installation token ({status})")
        self.status = status


class EncryptedRedisCache(AsyncBaseCache):
    """githubkit's async token cache, kept in Redis, encrypted at rest.

    Single-flight across processes (`claim`): on a miss, one caller takes a short lock and
    fetches (githubkit then calls `aset`); the others block on a Redis list the fetcher
    pushes its outcome to (`BLPOP`, bounded by `WAIT_SECONDS`), so they wake the moment the
    token is there, or fail at once with the status GitHub gave the fetcher (`settle`). Every
    path of the fetcher releases the lock: a token, an answer that is not one, an error, a
    cancellation.
    """

    LOCK_SECONDS = 30
    WAIT_SECONDS = 15
    DONE_SECONDS = 30
    # How long a process reuses a token it read without asking Redis again. githubkit caches
    # a token until a minute before GitHub's expiry, so a memo this short never outlives it;
    # a token GitHub refuses (another process saw the 401 first) costs one retried request.
    MEMO_SECONDS = 30.0

    # The lock's value when this caller took it, else the fetch id of whoever holds it.
    _CLAIM = (
        "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end "
        "return redis.call('GET', KEYS[1])"
    )
    # Releases the lock only if it is still this fetch's, and tells its waiters the outcome.
    _SETTLE = (
        "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end "
        "redis.call('RPUSH', KEYS[2], ARGV[2]) redis.call('EXPIRE', KEYS[2], ARGV[3]) return 1"
    )

    def __init__(self, client: redis.asyncio.Redis, fernet: Fernet, prefix: str) -> None:
        self.client = client
        self.fernet = fernet
        self.prefix = prefix
        # Keys this process is fetching, with the fetch id its lock holds.
        self._fetching: dict[str, str] = {}
        # key → (token, monotonic deadline): a job makes several requests, each read the
        # token twice (the claim and githubkit's own read); a Redis round trip and a Fernet
        # decryption each time were a tenth of an acknowledgement's CPU. In memory only,
        # never written anywhere; one entry per installation key.
        self._memo: dict[str, tuple[str, float]] = {}

    async def _read(self, key: str) -> str | None:
        memo = self._memo.get(key)
        if memo is not None:
            if memo[1] > time.monotonic():
                return memo[0]
            del self._memo[key]
        data = await self.client.get(f"{self.prefix}:{key}")
        if data is None:
            return None
        try:
            value = self.fernet.decrypt(data).decode()
        except InvalidToken:
            # Written with another key (rotated): treat as a miss, a fresh token replaces it.
            return None
        self._remember(key, value, self.MEMO_SECONDS)
        return value

    def _remember(self, key: str, value: str, seconds: float) -> None:
        if len(self._memo) >= 4096:  # many installations: drop the stale, then the oldest
            now = time.monotonic()
            for stale in [k for k, (_, deadline) in self._memo.items() if deadline <= now]:
                del self._memo[stale]
            if len(self._memo) >= 4096:
                del self._memo[next(iter(self._memo))]
        self._memo[key] = (value, time.monotonic() + min(seconds, self.MEMO_SECONDS))

    async def aget(self, key: str) -> str | None:
        return await self._read(key)

    async def claim(self, key: str) -> str | None:
        """The cached token; or None when this caller must fetch it (it then holds the lock
        until `aset` or `settle`); or the token another caller fetched while this one waited.

        Raises `TokenUnavailable` when that other fetch failed."""
        lock = f"{self.prefix}:{key}:fetching"
        for _ in range(3):
            value = await self._read(key)
            if value is not None:
                return value
            fetch_id = secrets.token_hex(8)
            held = await self.client.eval(self._CLAIM, 1, lock, fetch_id, str(self.LOCK_SECONDS))  # type: ignore[misc]
            if held == 1:
                self._fetching[key] = fetch_id
                return None
            if held is None:
                continue  # released between the two calls: claim again
            done = self._done(key, held.decode() if isinstance(held, bytes) else str(held))
            popped = await self.client.blpop([done], timeout=self.WAIT_SECONDS)  # type: ignore[misc]
            if popped is None:
                continue  # the fetcher is slow or died with its lock: the lock expires
            outcome = popped[1].decode()
            await self.client.rpush(done, outcome)  # type: ignore[misc]  # the next waiter wakes too
            if outcome.startswith("failed"):
                raise TokenUnavailable(outcome.removeprefix("failed:").strip() or "failed")
        self._fetching.pop(key, None)
        return None  # fetch it ourselves: the others did not manage

    async def settle(self, key: str, outcome: str) -> None:
        """Release this process's lock on `key` (if it holds one) and tell its waiters:
        "ok", "failed: <status>" or "retry" (they then claim again)."""
        fetch_id = self._fetching.pop(key, None)
        if fetch_id is None:
            return
        lock = f"{self.prefix}:{key}:fetching"
        await self.client.eval(  # type: ignore[misc]
            self._SETTLE,
            2,
            lock,
            self._done(key, fetch_id),
            fetch_id,
            outcome,
            str(self.DONE_SECONDS),
        )

    def _done(self, key: str, fetch_id: str) -> str:
        """The list one fetch's waiters block on; outside `prefix:`, where only (encrypted)
        tokens and their locks live."""
        return f"{self.prefix}-fetched:{key}:{fetch_id}"

    def fetching(self, key: str) -> bool:
        """Whether this process holds the lock to fetch `key`."""
        return key in self._fetching

    async def aset(self, key: str, value: str, ex: timedelta) -> None:
        seconds = max(int(ex.total_seconds()), 1)
        await self.client.set(
            f"{self.prefix}:{key}", self.fernet.encrypt(value.encode()), ex=seconds
        )
        self._remember(key, value, seconds)
        await self.settle(key, "ok")

    # Deletes the key only if it still holds the ciphertext that was read (ARGV[1]).
    _DELETE_IF_SAME = (
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0"
    )

    async def forget(self, key: str, value: str) -> bool:
        """Drop the cached `value` under `key` (GitHub refused it), unless another caller has
        already put a newer one there: requests that failed together with the old token must
        not throw away the token the first of them just fetched. True when it was dropped."""
        memo = self._memo.get(key)
        if memo is not None and memo[0] == value:
            del self._memo[key]
        name = f"{self.prefix}:{key}"
        data = await self.client.get(name)
        if data is None:
            return False
        try:
            if self.fernet.decrypt(data).decode() != value:
                return False
        except InvalidToken:
            pass  # unreadable with our key: dropping it costs nothing
        dropped = self.client.eval(self._DELETE_IF_SAME, 1, name, data)
        return bool(await dropped)  # type: ignore[misc]  # redis-py types both clients at once


class EncryptedRedisCacheStrategy(BaseCacheStrategy):
    """Cache strategy for githubkit: tokens only. HTTP response caching is turned off."""

    def __init__(
        self, client: redis.asyncio.Redis, key: bytes, prefix: str = "liquidbook:gh"
    ) -> None:
        self.cache = EncryptedRedisCache(client, Fernet(key), prefix)

    def get_cache_storage(self) -> NoReturn:
        raise CacheUnsupportedError("the app only uses githubkit asynchronously")

    async def get_async_cache_storage(self) -> EncryptedRedisCache:
        return self.cache

    def get_hishel_storage(self) -> NoReturn:
        raise CacheUnsupportedError("HTTP caching is off (http_cache=False)")

    async def get_async_hishel_storage(self) -> NoReturn:
        raise CacheUnsupportedError("HTTP caching is off (http_cache=False)")


class RefreshingAppAuth(AppAuth):
    """githubkit's installation authentication, plus: a 401 to a request made with a cached
    installation token drops that token and sends the request once more with a new one.

    The second answer is final (a 401 again means the installation really lost access).
    Requests authenticated as the app (its JWT) are githubkit's own flow, unchanged.
    """

    requires_request_body = True  # read once, so the retry can send it again

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        cache = await self.github.config.cache_strategy.get_async_cache_storage()
        if not isinstance(cache, EncryptedRedisCache) or not _as_installation(self, request):
            plain = super().async_auth_flow(request)  # githubkit's own, relayed
            outgoing = await plain.__anext__()
            while True:
                response = yield outgoing
                try:
                    outgoing = await plain.asend(response)
                except StopAsyncIteration:
                    return
        key = self._get_installation_cache_key()
        # After the lean lane's 401 (`LeanGitHub`), this is already the second answer.
        for attempt in (2,) if _REFUSED_ONCE.get() else (1, 2):
            # One caller fetches a missing token; the others wait for it here.
            cached = await cache.claim(key)
            if cached is not None:
                # The token is known: sent as githubkit's flow would send it, without
                # running that flow (its route checks parse the URL again, a twentieth of
                # an acknowledgement's CPU).
                request.headers["Authorization"] = f"token {cached}"
                response = yield request
            else:
                outcome = "retry"
                try:
                    # githubkit's flow fetches the token (the cache has none), relayed
                    # request by request.
                    flow = super().async_auth_flow(request)
                    outgoing = await flow.__anext__()
                    while True:
                        response = yield outgoing
                        if response.is_error and response.request.url.path.endswith(
                            "/access_tokens"
                        ):
                            outcome = f"failed: HTTP {response.status_code}"
                        try:
                            outgoing = await flow.asend(response)
                        except StopAsyncIteration:
                            break
                finally:
                    # A token fetched was settled by `aset`; any other end releases the lock.
                    if cache.fetching(key):
                        await cache.settle(key, outcome)
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if attempt == 2 or response.status_code != 401 or scheme != "token":
                return
            await cache.forget(key, token)


_CACHE_KEYS: dict[tuple[Any, ...], str] = {}
# The REST routes GitHub answers with a redirect by design (archives to codeload, logs and
# release assets to storage): the lean lane leaves them to githubkit's client, which follows
# the redirect as httpx does (the token dropped for another host). Any other redirect (a
# renamed repository) is sent again the usual way: one request more, and only then.
_REDIRECTS = re.compile(r"/(?:tarball|zipball)(?:/|$)|/logs(?:$|\?)|/releases/assets/")
# Set while the usual way resends a request whose token the lean lane saw refused: its
# first answer is then its last (`RefreshingAppAuth`).
_REFUSED_ONCE: ContextVar[bool] = ContextVar("liquidbook_refused_once", default=False)


class _TokenRefused(Exception):
    """The lean lane's token got a 401 (it is dropped from the cache already)."""


def _installation_cache_key(auth: RefreshingInstallationStrategy) -> str | None:
    """githubkit's cache key of an installation's token, remembered per app and
    installation (None for a token narrowed to some repositories or permissions, which the
    app never asks for: those go the usual way)."""
    if auth.repositories is not UNSET or auth.repository_ids is not UNSET:
        return None
    if auth.permissions is not UNSET:
        return None
    ids = (auth.app_id, auth.client_id, auth.installation_id)
    key = _CACHE_KEYS.get(ids)
    if key is None:
        if len(_CACHE_KEYS) >= 4096:
            _CACHE_KEYS.clear()
        flow = auth.get_auth_flow(None)  # type: ignore[arg-type]  # only its key is asked for
        key = _CACHE_KEYS[ids] = flow._get_installation_cache_key()  # type: ignore[attr-defined]
    return key


def _as_installation_path(base: str, path: str) -> bool:
    from githubkit.auth._url import APP_AUTH_REGEX, BASIC_AUTH_REGEX, BYPASS_REGEX

    if BYPASS_REGEX.search(path) or BASIC_AUTH_REGEX.search(path):
        return False
    route = path[len(base) :] if path.startswith(base) else path
    if not route.startswith("/"):
        route = "/" + route
    return not APP_AUTH_REGEX.search(route)


def _as_installation(auth: AppAuth, request: httpx.Request) -> bool:
    """Whether githubkit authenticates `request` with an installation token (not the app's
    JWT, not the client's basic credentials, not a bypassed URL): githubkit's own route
    patterns, matched on the path as text (its helpers build a URL object per check)."""
    return _as_installation_path(auth.github.config.base_url.path, request.url.path)


class RefreshingInstallationStrategy(AppInstallationAuthStrategy):
    """An installation's strategy whose requests refresh a refused token (`RefreshingAppAuth`)."""

    def get_auth_flow(self, github: GitHubCore) -> httpx.Auth:
        return RefreshingAppAuth(
            github,
            self.app_id,
            self.private_key,
            self.client_id,
            self.client_secret,
            self.installation_id,
            self.repositories,
            self.repository_ids,
            self.permissions,
        )


def timed_out(exc: BaseException) -> bool:
    """Whether a GitHub call ended without an answer in time (githubkit's wrapper or httpx's
    own): GitHub may still have carried it out, so a creating call must be looked up."""
    return isinstance(exc, RequestTimeout | httpx.TimeoutException)


# After a creating call timed out: look for what it made now and after these pauses (s).
LOOKUP_PAUSES: Sequence[float] = (1.0, 2.0, 4.0)


async def find_after_timeout(
    lookup: Callable[[], Awaitable[T | None]], pauses: Sequence[float] = LOOKUP_PAUSES
) -> T | None:
    """What a timed-out creating call made, if it shows within the pauses; None otherwise
    (then it is safe to try again: a late arrival of the first call is the caller's case)."""
    for pause in (0.0, *pauses):
        if pause:
            await asyncio.sleep(pause)
        found = await lookup()
        if found is not None:
            return found
    return None


class _Cookieless(httpx.Cookies):
    """A cookie jar that keeps nothing: GitHub's REST API sets no cookie we need, and httpx
    fills its jar from every response through `http.cookiejar` (a sixth of the CPU of an
    acknowledgement's four calls, with no `Set-Cookie` in any of them)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class LeanGitHub(GitHub):  # type: ignore[type-arg]
    """githubkit's client whose httpx clients keep no cookies; `with_auth` keeps the class
    (githubkit's makes a plain `GitHub`).

    The lean lane: a request as an installation whose token this process already holds,
    with a JSON body or none, and not streamed (nearly every call a job makes), goes straight
    to the shared connection pool (`SharedTransport.send_buffered`) with the headers githubkit's
    client would send, instead of through an httpx client (its URL merging, request building,
    auth and redirect flows were half of an acknowledgement's CPU). githubkit still checks the
    answer, raises its errors and retries (`arequest` is its own). Anything else, and any
    answer the lane does not finish (a redirect, a 401: the token refused), goes the way it
    always went, so refreshing a token and following a redirect stay githubkit's.
    """

    async def _create_async_client(self) -> httpx.AsyncClient:
        client = await super()._create_async_client()
        client._cookies = _Cookieless()  # httpx's setter would copy it into a plain jar
        return client

    def with_auth(self, auth: Any) -> LeanGitHub:
        return LeanGitHub(auth=auth, config=self.config.copy())

    async def _arequest(  # type: ignore[override]
        self,
        method: str,
        url: Any,
        *,
        params: Any = None,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        headers: Any = None,
        cookies: Any = None,
        stream: bool = False,
    ) -> httpx.Response:
        refused: Token[bool] | None = None
        if (
            isinstance(url, str)
            and content is None
            and data is None
            and files is None
            and cookies is None
            and not stream
            and (headers is None or isinstance(headers, dict))
            and (params is None or isinstance(params, dict))
        ):
            try:
                answer = await self._lean(method, url, params, json, headers)
            except _TokenRefused:
                refused = _REFUSED_ONCE.set(True)
            else:
                if answer is not None:
                    return answer
        try:
            return await super()._arequest(
                method,
                url,
                params=params,
                content=content,
                data=data,
                files=files,
                json=json,
                headers=headers,
                cookies=cookies,
                stream=stream,
            )
        finally:
            if refused is not None:
                _REFUSED_ONCE.reset(refused)

    async def _lean(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> httpx.Response | None:
        """The request through the lean lane, or None when it must go the usual way."""
        config = self.config
        transport = config.async_transport
        cache = getattr(config.cache_strategy, "cache", None)
        auth = self.auth
        if (
            not isinstance(transport, SharedTransport)
            or not isinstance(cache, EncryptedRedisCache)
            or not isinstance(auth, RefreshingInstallationStrategy)
            or config.async_event_hooks
            or config.http_cache
            or "://" in url
            or _REDIRECTS.search(url)
        ):
            return None
        key = _installation_cache_key(auth)
        if key is None:
            return None
        relative = url.lstrip("/")
        base_path = config.base_url.path
        path = base_path.rstrip("/") + "/" + unquote(relative.partition("?")[0])
        if not _as_installation_path(base_path, path):
            return None
        token = await cache._read(key)  # no lock: a missing token is fetched the usual way
        if token is None:
            return None
        base = str(config.base_url)
        full = base + relative if base.endswith("/") else f"{base}/{relative}"
        if params:
            query = str(httpx.QueryParams(to_jsonable_python(params)))
            full += ("&" if "?" in full else "?") + query
        sent = [
            ("User-Agent", config.user_agent),
            ("Accept", config.accept),
            ("Cache-Control", "no-cache"),
            ("Accept-Encoding", "gzip, deflate"),
        ]
        if headers:
            named = {k.lower() for k in headers}
            sent = [(k, v) for k, v in sent if k.lower() not in named]
            sent.extend((k, str(v)) for k, v in headers.items())
        body = None
        if json is not None:
            body = json_dumps(
                to_jsonable_python(json), ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            sent.append(("Content-Type", "application/json"))
        sent.append(("Authorization", f"token {token}"))
        try:
            answer = await transport.send_buffered(method, full, sent, body, config.timeout)
        except httpx.TimeoutException as exc:
            raise RequestTimeout(exc) from exc
        except Exception as exc:
            raise RequestError(exc) from exc
        if answer.status_code == 401:
            # The token was refused: dropped, and the usual way asks for a new one.
            await cache.forget(key, token)
            raise _TokenRefused
        if answer.is_redirect:
            return None  # followed (or not) as githubkit's client is configured to
        return answer


class GitHubApp:
    """The app's identity on GitHub: a client as the app, and one per installation, all on
    one shared connection pool (`SharedTransport`); the token is per request, not per client.
    """

    def __init__(
        self,
        settings: Settings,
        redis_client: redis.asyncio.Redis,
        transport: SharedTransport | None = None,
    ) -> None:
        if not settings.app_configured:
            raise ValueError("the GitHub App is not configured")
        assert settings.github_app_id is not None and settings.private_key_pem is not None
        self.app_id = settings.github_app_id
        self.slug = settings.github_app_slug
        self.api_url = settings.github_api_url
        self._auth = AppAuthStrategy(settings.github_app_id, RedactedKey(settings.private_key_pem))
        self._cache = EncryptedRedisCacheStrategy(redis_client, settings.fernet_key())
        self._owns_transport = transport is None
        self.transport = transport or SharedTransport()
        self.app = LeanGitHub(
            self._auth,
            async_transport=self.transport,
            base_url=self.api_url + "/",
            cache_strategy=self._cache,
            http_cache=False,
            user_agent=USER_AGENT,
            timeout=settings.github_timeout_seconds,
        )

    def installation(self, installation_id: int) -> GitHub:
        """A client acting as one installation (its token cached and shared via Redis, and
        replaced when GitHub refuses it). Cheap: it shares the app's configuration and
        connection pool, so use it without `async with`."""
        auth = self._auth
        return self.app.with_auth(
            RefreshingInstallationStrategy(
                auth.app_id, auth.private_key, installation_id, auth.client_id, auth.client_secret
            )
        )

    async def resolve_slug(self) -> str:
        """The app's slug (its bot's login is `<slug>[bot]`), from settings or `GET /app`."""
        if self.slug is None:
            response = await self.app.arequest("GET", "/app")
            self.slug = str(response.json()["slug"])
        return self.slug

    @property
    def bot_login(self) -> str | None:
        """The login GitHub shows for the app's own comments and commits, once known."""
        return f"{self.slug}[bot]" if self.slug else None

    async def close(self) -> None:
        """Close the connection pool if this client made it (else its owner closes it)."""
        if self._owns_transport:
            await self.transport.close()
