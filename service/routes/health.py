"""`GET /healthz`: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import StateDep
from ..problems import error_responses
from ..schemas import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, responses=error_responses(503))
def healthz(state: StateDep) -> HealthOut | JSONResponse:
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
    return HealthOut(status="ok", database="ok", market=market)
