"""What a running fedisora process holds: its configuration and database handles.

Built once by the app's lifespan or the CLI and passed explicitly; nothing is
loaded at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.client import FederationClient
from activitypub.delivery import RetryPolicy
from instance_config import Config

from . import __version__
from .db.engine import make_engine, make_sessionmaker
from .oauth.login_limits import LoginLimits


@dataclass
class AppState:
    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # A custom transport routes federation traffic in tests (the in-process harness).
    transport: httpx.AsyncBaseTransport | None = None
    # Sign-in attempt counters (password guessing); in this process's memory.
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    _client: FederationClient | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: Config, *, transport: httpx.AsyncBaseTransport | None = None) -> AppState:
        engine = make_engine(config.database_url)
        return cls(
            config=config, engine=engine, sessions=make_sessionmaker(engine), transport=transport
        )

    @property
    def user_agent(self) -> str:
        return self.config.user_agent(__version__)

    @property
    def client(self) -> FederationClient:
        """The guarded HTTP client for talking to peers, made on first use."""
        if self._client is None:
            fed = self.config.federation
            self._client = FederationClient(
                user_agent=self.user_agent,
                connect_timeout=fed.connect_timeout,
                request_timeout=fed.request_timeout,
                max_fetch_bytes=fed.max_fetch_bytes,
                max_redirects=fed.max_redirects,
                allow_http=fed.dev,
                allow_private=fed.dev,
                per_host_concurrency=fed.per_host_concurrency,
                transport=self.transport,
            )
        return self._client

    @property
    def retry_policy(self) -> RetryPolicy:
        fed = self.config.federation
        return RetryPolicy(
            base_seconds=fed.retry_base_seconds,
            factor=fed.retry_factor,
            max_seconds=fed.retry_max_seconds,
            retry_for_seconds=fed.retry_for_seconds,
            unreachable_retry_seconds=fed.unreachable_retry_seconds,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self.engine.dispose()
