"""The file bytes themselves: the one-off upload URL and the authenticated download URLs.

files_upload_v2 POSTs raw bytes to the URL files.getUploadURLExternal returned and expects
HTTP 200; ``url_private`` downloads need the bot token as a bearer header, as on Slack (a bot
that forgets it gets refused here instead of silently saving a login page).
"""

from __future__ import annotations

from aiohttp import web

from sandbox.appkey import sandbox_of


async def upload(request: web.Request) -> web.Response:
    """``POST /upload/v1/{token}``: raw body, or the first file part of a multipart form."""
    ws = sandbox_of(request).workspace
    file_id = ws.uploads.pop(request.match_info["token"], None)
    if file_id is None or file_id not in ws.files:
        return web.Response(status=404, text="upload URL not found or already used", content_type="text/plain")
    if request.content_type == "multipart/form-data":
        data = b""
        async for part in await request.multipart():
            if getattr(part, "filename", None):
                data = await part.read()  # type: ignore[union-attr]
                break
    else:
        data = await request.read()
    ws.files[file_id].content = data
    return web.Response(status=200, text=f"OK - {len(data)}", content_type="text/plain")


async def download(request: web.Request) -> web.Response:
    """``GET /files-pri/{team}-{file_id}/[download/]{name}`` with ``Authorization: Bearer xoxb-...``."""
    sb = sandbox_of(request)
    if request.headers.get("Authorization", "") != f"Bearer {sb.config.bot_token}":
        return web.Response(status=401, text="send Authorization: Bearer <bot token>", content_type="text/plain")
    file = sb.workspace.files.get(request.match_info["file_id"])
    if file is None or file.content is None:
        return web.Response(status=404, text="file not found", content_type="text/plain")
    headers = {}
    if request.match_info.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{file.name}"'
    return web.Response(body=file.content, content_type=file.mimetype, headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/upload/v1/{token}", upload)
    app.router.add_get("/files-pri/{team}-{file_id}/{name}", download)
    app.router.add_get("/files-pri/{team}-{file_id}/{download:download}/{name}", download)
