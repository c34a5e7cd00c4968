"""`GET /healthz`: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import StateDep, operation_id
from ..problems import error_responses
from ..schemas import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"], generate_unique_id_function=operation_id)


@router.get("/healthz", response_model=HealthOut, responses=error_responses(503))
def get_health(state: StateDep) -> HealthOut | JSONResponse:
    """200 when the database answers, 503 when it does not. ``payments`` says whether
    Stripe is configured (a key and a webhook secret)."""
    from ..problems import problem

    try:
        state.healthy()
    except Exception as err:  # any database failure means "not healthy", never a 500
        return problem(503, "database_unavailable", f"database check failed: {type(err).__name__}")
    if state.market is not None:
        market = "on"
    elif state.settings.market_socket:
        market = "forwarded to the market process"
    else:
        market = "off (workers > 1)"
    payments = "configured" if state.payments_configured else "not configured"
    return HealthOut(status="ok", database="ok", market=market, payments=payments)
