"""files.getUploadURLExternal / files.completeUploadExternal / files.info (what files_upload_v2 uses).

Step two of the flow, the POST of the bytes to the returned URL, is served by
:mod:`sandbox.file_routes`.
"""

from __future__ import annotations

import secrets
from typing import Any

from sandbox.errors import SlackError, invalid_arguments
from sandbox.methods.content import read_thread_ts
from sandbox.methods.registry import Call, method


@method("files.getUploadURLExternal")
async def get_upload_url(call: Call) -> dict[str, Any]:
    filename = call.args.req("filename")
    length = call.args.integer("length", 0)
    if length <= 0:
        raise invalid_arguments("length must be a positive integer")
    file = call.ws.new_file(filename, length, call.ws.bot, call.args.opt("alt_txt"), call.args.opt("snippet_type"))
    token = secrets.token_urlsafe(24)
    call.ws.uploads[token] = file.id
    return {"upload_url": f"{call.sb.base_url}/upload/v1/{token}", "file_id": file.id}


@method("files.completeUploadExternal")
async def complete_upload(call: Call) -> dict[str, Any]:
    ws, args = call.ws, call.args
    entries = args.json("files")
    if not isinstance(entries, list) or not entries:
        raise invalid_arguments("files must be a non-empty JSON array of {id, title}")
    files = []
    for entry in entries:
        file = ws.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if file is None or file.content is None:
            raise SlackError("file_not_found")
        files.append((file, entry))
    channel_ids = [args.opt("channel_id")] if args.opt("channel_id") else args.csv("channels")
    if len(channel_ids) > 1:
        raise invalid_arguments("only one channel may be given")
    thread_ts = read_thread_ts(args)
    channel = ws.channel(channel_ids[0]) if channel_ids else None
    if channel is not None:
        ws.require_member(channel, ws.bot)
        if thread_ts is not None:
            ws.message(channel.id, thread_ts, error="thread_not_found")
    for file, entry in files:
        file.title = str(entry.get("title") or file.name)
        file.complete = True
    if channel is not None:
        ws.post(channel, ws.bot, text=args.opt("initial_comment") or "", thread_ts=thread_ts,
                files=[f.id for f, _ in files])
    for file, _ in files:
        ws.bus.publish("file_shared", file=ws.render_file(file), channel=channel.id if channel else None)
    return {"files": [ws.render_file(f) for f, _ in files]}


@method("files.info")
async def info(call: Call) -> dict[str, Any]:
    file = call.ws.files.get(call.args.opt("file") or "")
    if file is None or not file.complete:
        raise SlackError("file_not_found")
    return {"file": call.ws.render_file(file), "comments": [], "response_metadata": {"next_cursor": ""}}

