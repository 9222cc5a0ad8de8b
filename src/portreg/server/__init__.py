"""The central registry server (FastAPI): `portreg.server.app.create_app`."""
