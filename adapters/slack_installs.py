"""Installs in many workspaces: Bolt's OAuth flow over slack_sdk's SQLAlchemy stores on our database.

With `slack.client_id_env` and `slack.client_secret_env` set (instead of one workspace's bot
token), the app serves every workspace that installs it. `slack.install_path` shows the
"Add to Slack" page; Slack sends the person back to `slack.redirect_path`, where Bolt checks
the state (issued once, kept in `slack_oauth_states`, and in the browser's cookie), trades
the code for the workspace's bot token (`oauth.v2.access`) and saves the install
(`slack_installations`, `slack_bots`; migration 0006 makes the tables, `db upgrade` runs it).
Every process of a deployment reads the same tables, so any of them may answer any workspace.

`InstalledBots` authorizes each request from the saved install: a database read and no Web
API call, because the adapter's listeners run before Slack gets its acknowledgement (Bolt's
own `AsyncInstallationStoreAuthorize` calls `auth.test` on each new token first).
`Workspaces.token` finds the bot token of a workspace for the replies, which are sent after
the acknowledgement, and for events recovered from the inbox.
"""

from __future__ import annotations

import logging

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Secrets, SlackSection

__all__ = ["STATE_EXPIRATION_S", "InstalledBots", "Installs"]

log = logging.getLogger(__name__)

STATE_EXPIRATION_S = 600  # an install started must be finished within this


class Installs:
    """The OAuth settings and the installation store of one deployment."""

    def __init__(self, config: SlackSection, secrets: Secrets, engine: AsyncEngine) -> None:
        client_id = secrets.slack_client_id
        self.store = AsyncSQLAlchemyInstallationStore(client_id, engine, logger=log)
        self.settings = AsyncOAuthSettings(
            client_id=client_id,
            client_secret=secrets.slack_client_secret,
            scopes=list(config.scopes),
            redirect_uri=config.redirect_url or None,
            install_path=config.install_path,
            redirect_uri_path=config.redirect_path,
            installation_store=self.store,
            installation_store_bot_only=True,
            state_store=AsyncSQLAlchemyOAuthStateStore(STATE_EXPIRATION_S, engine, logger=log),
            state_expiration_seconds=STATE_EXPIRATION_S,
            logger=log,
        )
        self.authorize = InstalledBots(self.store)

    async def token(self, team: str) -> str:
        """The bot token `team` installed the app with; "" when it has not (or uninstalled it)."""
        bot = await self.store.async_find_bot(enterprise_id=None, team_id=team)
        return (bot.bot_token or "") if bot is not None else ""


class InstalledBots(AsyncAuthorize):
    """Authorizes a request from its workspace's saved install, without a Web API call."""

    def __init__(self, store: AsyncSQLAlchemyInstallationStore) -> None:
        super().__init__()
        self._store = store

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        bot = await self._store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or not bot.bot_token:
            log.warning("slack: a request from workspace %s, which has not installed the app", team_id)
            return None
        return AuthorizeResult(
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            bot_token=bot.bot_token,
            bot_scopes=bot.bot_scopes,
        )
