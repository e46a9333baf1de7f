"""Subscription checks: find pages Meta stopped delivering, subscribe them again, and fill the gap.

    checker = SubscriptionChecker(reconciler)
    await checker.check_due(limit)                  # the timer: pages due, each once per interval
    result = await checker.check(page_id, fix=True)  # `convsync subscriptions`, `POST /admin/pages/{id}/subscribe`

A check is `GET /{page}/subscribed_apps` through the page's governor (`reconciler.subscription`
decides); with `fix`, a page missing the app or a field is subscribed again with the full list, and
an incremental sync of it starts at once (trigger `resubscribe`): whatever Meta did not deliver in
between is read back from the Graph API. The timer always fixes. What was found is recorded on the
page (`subscription_status`, `subscription_checked_at`, `subscribed_fields`). A dead token (190)
marks the page `needs_reauth` and leaves its subscription state alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from kernel.settings import Secret
from kernel.sqlfiles import statement
from reconciler import pages
from reconciler.graph import CallStats, GraphError, TokenDead
from reconciler.service import Reconciler, SyncRejected
from reconciler.subscription import decide
from reconciler.tokens import TokenKeyMismatch, TokenUnreadable

log = structlog.get_logger("convsync.reconciler")


class NoAppId(SyncRejected):
    """The check needs CONVSYNC_APP_ID."""


def sql(name: str) -> str:
    return statement("reconciler", name)


@dataclass(frozen=True, slots=True)
class CheckResult:
    page_id: str
    status: str  # ok | missing | fixed | failed | needs_reauth
    fields: tuple[str, ...] = ()
    lacking: tuple[str, ...] = ()
    error: str | None = None
    run_id: str | None = None  # the resubscribe sync started after a repair
    graph_calls: int = field(default=0)

    def as_json(self) -> dict[str, object]:
        return {"page_id": self.page_id, "status": self.status, "fields": list(self.fields),
                "lacking": list(self.lacking), "error": self.error, "run_id": self.run_id}


class SubscriptionChecker:
    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.ctx = reconciler.ctx

    async def check_due(self, limit: int = 8) -> list[CheckResult]:
        """Claim the pages whose check is due (one reconciler per page and interval) and check them."""
        settings = self.ctx.settings
        if settings.app_id is None:
            return []
        async with self.ctx.pool.acquire() as conn:
            claimed = await conn.fetch(sql("claim_subscription_checks"), settings.subscription_check_s, limit)
        return [await self._check(r["page_id"], r["graph_page_id"], r["access_token"], fix=True) for r in claimed]

    async def check(self, page_id: str, *, fix: bool) -> CheckResult | None:
        """Check one page now (fix it with `fix`); None when there is no such page."""
        if self.ctx.settings.app_id is None:
            raise NoAppId("CONVSYNC_APP_ID is missing: the subscription check needs the Meta app's id")
        async with self.ctx.pool.acquire() as conn:
            row = await conn.fetchrow(sql("page_token"), page_id)
        return None if row is None else await self._check(page_id, row["graph_page_id"], row["access_token"], fix=fix)

    async def _check(self, page_id: str, node: str, ciphertext: bytes | None, *, fix: bool) -> CheckResult:
        """Check (and with `fix` repair) the subscription of `page_id`, kept at its Graph node `node`
        (an Instagram account's linked Page)."""
        settings, stats = self.ctx.settings, CallStats()
        assert settings.app_id is not None
        graph = self.ctx.walker.graph
        try:
            if ciphertext is None:
                raise TokenUnreadable("the page has no stored token")
            token: Secret = self.ctx.cipher.decrypt(ciphertext)
            found = decide((await graph.get(node, token, f"{node}/subscribed_apps", {}, stats)).body,
                           settings.app_id, settings.subscribed_fields)
            if found.repair is None or not fix:
                result = CheckResult(page_id, found.status, found.fields, found.lacking)
            else:
                await graph.post(node, token, f"{node}/subscribed_apps",
                                 {"subscribed_fields": found.repair}, stats)
                result = CheckResult(page_id, "fixed", tuple(found.repair.split(",")), found.lacking)
        except (TokenDead, TokenUnreadable) as exc:
            async with self.ctx.pool.acquire() as conn:
                await pages.mark_needs_reauth(conn, page_id, f"token: {exc}")
            log.warning("page_needs_reauth", page_id=page_id, reason=f"token: {exc}")
            return CheckResult(page_id, "needs_reauth", error=str(exc))
        except TokenKeyMismatch as exc:  # this process's keys, not the page: the page is left as it is
            log.error("token_key_mismatch", page_id=page_id)
            return CheckResult(page_id, "failed", error=str(exc))
        except GraphError as exc:
            result = CheckResult(page_id, "failed", error=str(exc)[:500])
        async with self.ctx.pool.acquire() as conn:
            await conn.execute(sql("record_subscription"), page_id, result.status, list(result.fields) or None,
                               result.error)
        log.info("subscription_checked", page_id=page_id, status=result.status, lacking=list(result.lacking),
                 graph_calls=stats.calls)
        if result.status == "fixed":
            result = await self._fill_gap(result)
        return result

    async def _fill_gap(self, result: CheckResult) -> CheckResult:
        """Everything between Meta's last delivery and the repair was lost: sync the page now."""
        try:
            started = await self.reconciler.start(result.page_id, "auto", "resubscribe")
        except SyncRejected as exc:  # busy: the sync in progress reads the page anyway
            log.info("resubscribe_sync_not_started", page_id=result.page_id, reason=str(exc))
            return result
        log.warning("page_resubscribed", page_id=result.page_id, lacking=list(result.lacking), run_id=started.run_id)
        return CheckResult(result.page_id, result.status, result.fields, result.lacking, run_id=started.run_id)
