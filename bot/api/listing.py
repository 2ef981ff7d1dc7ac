"""Pages with a cap, and ETag / If-None-Match on list responses."""

import hashlib

from flask import Response, current_app, request


def page_of(query, args: dict, render) -> dict:
    """One page of a peewee query: items rendered, next_offset when there is more."""
    limit, offset = args["limit"], args["offset"]
    rows = list(query.limit(limit + 1).offset(offset))
    return page_of_rows(rows, limit, offset, render, fetched_extra=True)


def page_of_rows(rows: list, limit: int, offset: int, render, fetched_extra=False) -> dict:
    """One page of an in-memory list (already offset when `fetched_extra`)."""
    window = rows if fetched_extra else rows[offset : offset + limit + 1]
    more = len(window) > limit
    return {
        "items": [render(row) for row in window[:limit]],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


def conditional_json(schema, payload: dict) -> Response:
    """Dump `payload`, tag it with a strong ETag, answer 304 when the client has it."""
    response = current_app.json.response(schema.dump(payload))  # the API's one JSON encoding
    etag = hashlib.sha256(response.get_data()).hexdigest()[:32]
    # Private: the page depends on who asks; the client must revalidate each time.
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    response.headers.update(headers)
    return response
