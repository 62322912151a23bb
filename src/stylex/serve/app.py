"""The viewer's web app (FastAPI): a JSON API over :class:`~stylex.serve.session.Viewer` and the
static page.

API (all JSON; errors are ``{"error": MESSAGE}`` with a 4xx/5xx status):

* ``GET /api/info`` — run name, resolution, channels, class names, per class its top
  attributes (``index`` = flat StyleSpace id, ``layer``, ``where`` (its kind and resolution,
  e.g. "toRGB 32 px"), ``channel``, ``direction``, ``target``, ``effect``, ``flipped``, slider
  range ``min``/``max``), number of held-out images.
* ``GET /api/images?offset=&limit=`` — held-out images' index, id and label;
  ``GET /api/images/{i}?scale=`` — one as PNG (404 for an index out of range).
* ``POST /api/session`` — open an image: JSON ``{"index": i}`` (held-out image ``i``), or an
  upload (multipart field ``file``, or the raw image as the body). Returns ``session``,
  ``original`` and ``reconstruction`` (PNG data URIs), ``input_probs``, ``probs``,
  ``predicted``, ``values`` (flat index → the image's own style value of every attribute
  coordinate). Uploads: at most ``max_upload_bytes`` (413), PNG/JPEG/GIF/BMP/WebP sniffed from
  the content (415 otherwise, 400 if corrupt).
* ``POST /api/edit`` — ``{"session", "values": {index: value}}`` → ``image`` (PNG data URI),
  ``probs``, ``predicted``, ``start_layer`` (the first re-run layer), ``ms`` (server time).
* ``POST /api/flip`` — ``{"session", "class"}`` → applies the class's top attributes
  cumulatively until the predicted class changes: ``values`` for the sliders, ``needed``
  (None: no flip with all of them), ``image``, ``probs``, ``steps``.

No client input is used as a file path; sessions live in a bounded LRU; torch work runs in the
thread pool (serialised by the viewer's lock), so the server keeps answering while it runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePath

import torch
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stylex.attfind.visibility import difference_image
from stylex.errors import StylexError
from stylex.serve.session import DEFAULT_MAX_SESSIONS, DEFAULT_TOP_K, Viewer, ViewerError
from stylex.serve.upload import FORMATS, MAX_UPLOAD_BYTES, describe_limit, read_upload
from stylex.utils.images import data_uri, png_bytes

STATIC = Path(__file__).parent / "static"
MULTIPART_OVERHEAD = 64 * 1024
log = logging.getLogger("stylex.serve")

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


# ------------------------------------------------------------------------------------ requests
class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(strict=True)


class EditRequest(BaseModel):
    session: str = Field(max_length=64)
    values: dict[str, float] = Field(default_factory=dict)


class FlipRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    session: str = Field(max_length=64)
    cls: int | str = Field(alias="class")


# ------------------------------------------------------------------------------------ ASGI guards
class BodyTooLarge(Exception):
    pass


class GuardMiddleware:
    """Refuses request bodies over ``limit`` bytes (413, before reading when Content-Length
    says so, else while streaming) and adds security headers to every response."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                too_big = False
            if too_big:
                resp = _error(413, f"request too large (limit {describe_limit(self.limit)})")
                return await resp(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", CSP.encode()),
                ]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def image_uri(image: torch.Tensor) -> str:
    """``image [1, C, R, R]`` or ``[C, R, R]`` in [-1, 1] → ``data:image/png;base64,…``."""
    if image.dim() == 4:
        image = image[0]
    return data_uri(png_bytes(image))


def _probs(p) -> list[float]:
    return [round(float(v), 6) for v in p]


def _upload_name(name: str | None) -> str:
    """A display name for an upload (basename, printable, short); never used as a path."""
    base = PurePath((name or "upload").replace("\\", "/")).name or "upload"
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:80] or "upload"


# ------------------------------------------------------------------------------------ the app
def create_app(
    run,
    *,
    device: str | None = None,
    top_k: int = DEFAULT_TOP_K,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The viewer app for ``run``: a run folder (needs ``attfind/``), a loaded
    :class:`~stylex.run.Run`, or a :class:`Viewer`. The model is loaded here, once."""
    viewer = (
        run
        if isinstance(run, Viewer)
        else Viewer(run, device=device, top_k=top_k, max_sessions=max_sessions)
    )
    app = FastAPI(
        title="stylex viewer", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json"
    )
    app.state.viewer = viewer
    app.state.max_upload_bytes = int(max_upload_bytes)
    app.add_middleware(GuardMiddleware, limit=int(max_upload_bytes) + MULTIPART_OVERHEAD)

    # ---------------------------------------------------------------- errors as JSON
    @app.exception_handler(ViewerError)
    async def _viewer_error(_req, e: ViewerError):
        return _error(e.status, str(e))

    @app.exception_handler(StylexError)
    async def _stylex_error(_req, e: StylexError):
        return _error(400, str(e))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_req, _e):
        return _error(413, f"upload too large (limit {describe_limit(max_upload_bytes)})")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req, e: StarletteHTTPException):
        msg = e.detail if isinstance(e.detail, str) else json.dumps(e.detail)
        return _error(e.status_code, msg)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req, e: RequestValidationError):
        parts = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _error(422, "invalid request: " + "; ".join(parts))

    @app.exception_handler(Exception)
    async def _internal(_req, e: Exception):
        log.exception("internal error")
        return _error(500, f"internal error ({type(e).__name__}: {e})")

    # ---------------------------------------------------------------- page
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    # ---------------------------------------------------------------- API
    @app.get("/api/info")
    async def info():
        return {
            **viewer.info(),
            "max_upload_bytes": max_upload_bytes,
            "upload_types": list(FORMATS.values()),
        }

    @app.get("/api/images")
    async def images(offset: int = Query(0, ge=0), limit: int = Query(48, ge=1, le=500)):
        n = viewer.num_images
        items = [viewer.image_entry(i) for i in range(min(offset, n), min(offset + limit, n))]
        return {"total": n, "offset": offset, "items": items}

    @app.get("/api/images/{index}")
    def image(index: int, scale: int = Query(1, ge=1, le=16)):
        png = viewer.thumbnail(index, scale)
        return Response(png, media_type="image/png", headers={"cache-control": "max-age=3600"})

    def session_payload(s, extra: dict | None = None) -> dict:
        return {
            "session": s.id,
            "source": s.source,
            "original": image_uri(s.image),
            "reconstruction": image_uri(s.reconstruction),
            "input_probs": _probs(s.input_probs),
            "input_predicted": int(s.input_probs.argmax()),
            "probs": _probs(s.probs),
            "predicted": int(s.probs.argmax()),
            "values": {str(i): v for i, v in viewer.slider_values(s).items()},
            **(extra or {}),
        }

    @app.post("/api/session")
    async def new_session(request: Request):
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                body = IndexRequest.model_validate(await request.json())
            except (ValueError, TypeError) as e:
                raise ViewerError(
                    'send {"index": N} (an integer), or upload an image file'
                    f" ({type(e).__name__})",
                    422,
                ) from None
            viewer.check_index(body.index)
            s = await run_in_threadpool(viewer.open_index, body.index)
            return session_payload(s, {"image": viewer.image_entry(body.index)})
        if ctype == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=8)
            f = form.get("file")
            if f is None or isinstance(f, str):
                raise ViewerError("the upload needs a file in the form field 'file'", 400)
            data = await f.read(max_upload_bytes + 1)
            name = _upload_name(f.filename)
            await form.close()
        elif ctype.startswith("image/") or ctype == "application/octet-stream":
            data, name = await request.body(), "upload"
        else:
            raise ViewerError(
                'POST /api/session takes JSON {"index": N}, a multipart upload (field "file")'
                " or an image as the body",
                415,
            )
        x = await run_in_threadpool(
            read_upload, data, viewer.resolution, viewer.channels, max_upload_bytes
        )
        s = await run_in_threadpool(viewer.open_image, x, {"upload": name})
        return session_payload(s, {"image": {"upload": name}})

    @app.post("/api/edit")
    def edit(req: EditRequest):
        r = viewer.edit(req.session, req.values)
        recon = viewer.session(req.session).reconstruction
        return {
            "image": image_uri(r.image),
            "difference": image_uri(difference_image(recon, r.image)),
            "probs": _probs(r.probs),
            "predicted": int(r.probs.argmax()),
            "edited": sorted(r.edited),
            "start_layer": r.start_layer,
            "ms": round(r.seconds * 1000, 2),
        }

    @app.post("/api/flip")
    def flip(req: FlipRequest):
        k = viewer.class_index(req.cls)
        r = viewer.flip(req.session, k)
        names = viewer.class_names
        before, after = names[r.predicted_before], names[r.predicted_after]
        if r.already:
            msg = f"already predicted as {before}: choose another class to flip toward"
        elif r.needed is not None:
            msg = (
                f"flipped from {before} to {after} with {r.needed} "
                f"attribute{'s' if r.needed != 1 else ''}"
            )
        elif not r.values:
            msg = f"class {names[k]} has no attributes"
        else:
            msg = f"still {after} with all {len(r.values)} attributes of {names[k]}"
        return {
            "class": k,
            "values": {str(i): v for i, v in r.values.items()},
            "needed": r.needed,
            "image": image_uri(r.image),
            "difference": image_uri(
                difference_image(viewer.session(req.session).reconstruction, r.image)
            ),
            "probs": _probs(r.probs),
            "predicted": r.predicted_after,
            "predicted_before": r.predicted_before,
            "steps": [_probs(p) for p in r.steps],
            "already": r.already,
            "message": msg,
            "ms": round(r.seconds * 1000, 2),
        }

    return app
