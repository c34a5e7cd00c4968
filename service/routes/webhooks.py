"""The Stripe webhook: no API key, only a valid Stripe signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from ..deps import StateDep
from ..problems import ApiError, error_responses
from ..schemas import WebhookOut

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], responses=error_responses(400, 401, 409, 422))


@router.post("/api/webhooks/stripe", response_model=WebhookOut)
async def stripe_webhook(request: Request, state: StateDep,
                         stripe_signature: Annotated[str | None, Header()] = None) -> WebhookOut:
    from starlette.concurrency import run_in_threadpool

    if not stripe_signature:
        raise ApiError(401, "invalid_signature", "the Stripe-Signature header is missing")
    payload = await request.body()
    r = await run_in_threadpool(state.economy.payments.handle_webhook, payload, stripe_signature)
    return WebhookOut(received=True, event_id=r.event_id, type=r.type, outcome=r.outcome)
