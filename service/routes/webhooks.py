"""The Stripe webhook: no API key, only a valid Stripe signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from ..deps import StateDep, operation_id
from ..problems import ApiError, error_responses
from ..schemas import WebhookOut

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], generate_unique_id_function=operation_id)
_EVENT = {"content": {"application/json": {"schema": {"type": "object", "description": "a Stripe event"},
                                           "example": {"id": "evt_1", "type": "checkout.session.completed",
                                                       "data": {"object": {"id": "cs_test_a1"}}}}},
          "required": True, "description": "A Stripe event, exactly as Stripe signed it"}


@router.post("/api/webhooks/stripe", response_model=WebhookOut, responses=error_responses(400, 401),
             openapi_extra={"requestBody": _EVENT})
async def receive_stripe_webhook(request: Request, state: StateDep,
                                 stripe_signature: Annotated[str | None, Header(
                                     max_length=2000, description="Stripe's signature of the body")] = None,
                                 ) -> WebhookOut:
    """Stripe's events (no API key: the signature is checked, tolerance 300 s): a paid
    checkout credits its coins exactly once, a refund claws them back, a dispute
    freezes. 401: no valid signature (every event, if no webhook secret is set)."""
    from starlette.concurrency import run_in_threadpool

    if not stripe_signature:
        raise ApiError(401, "invalid_signature", "the Stripe-Signature header is missing")
    payload = await request.body()
    r = await run_in_threadpool(state.economy.payments.handle_webhook, payload, stripe_signature)
    return WebhookOut(received=True, event_id=r.event_id, type=r.type, outcome=r.outcome)
