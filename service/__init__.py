"""The minimal HTTP service (FastAPI) the live app calls: thin routes over ledger/ and
market/. Build the app with `service.app.create_app`; run it with `coinlab serve`."""

__all__: list[str] = []
