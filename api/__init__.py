"""gridmap HTTP: thin FastAPI routers over the `geo` domain."""
