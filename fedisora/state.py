"""What a running fedisora process holds: its configuration and database handles.

Built once by the app's lifespan or the CLI and passed explicitly; nothing is
loaded at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from instance_config import Config

from . import __version__
from .db.engine import make_engine, make_sessionmaker


@dataclass
class AppState:
    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def open(cls, config: Config) -> AppState:
        engine = make_engine(config.database_url)
        return cls(config=config, engine=engine, sessions=make_sessionmaker(engine))

    @property
    def user_agent(self) -> str:
        return self.config.user_agent(__version__)

    async def close(self) -> None:
        await self.engine.dispose()
