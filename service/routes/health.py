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
    return HealthOut(status="ok", database="ok", market="on" if state.market is not None else "off (workers > 1)")
