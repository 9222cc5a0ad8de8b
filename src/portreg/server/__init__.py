"""The central registry server (FastAPI): `portreg.server.app.create_app`.

Where things live (each module imports only those below it; `tests/server/test_layering.py`
checks there is no cycle):

- `app`: the factory — wires the parts, nothing else.
- `routes/`: one router per resource (`meta`, `services`, `assignments`, `ports`, `changes`,
  `registry`) and `page` (the web page's eight views, `/static`); they call `queries` to read,
  `commit` to write. `pageviews`: what each view shows, from a Registry (no I/O).
- `deps`: the state and the token checks as FastAPI dependencies (`Reader`, `Writer`, ...).
- `errors`: exceptions to HTTP answers (status from the error's kind); `responses`: the JSON
  bodies and the error shape; `schemas`: request bodies and the documented answers.
- `queries`: what the API answers and the page shows; `commit`: running a write transaction,
  dropping the cache, publishing the events.
- `reads`, `writes`, `allocate` (the hot `assign`), `codec` (model values to rows), `db` (tables,
  engine, migrations): the registry in SQL.
- `state` (a worker's state and read cache), `fastpath` (the cached hot read in plain ASGI),
  `events` (the change broker and stream), `auth`, `metrics`, `settings`, `startup`,
  `hostcheck`, `accesslog`; `edge` (outermost: the page's security headers, gzip, caching).
"""
