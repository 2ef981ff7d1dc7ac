"""Photo upload and download: cleaned on the way in, served by opaque key."""

import uuid

from flask import Response, current_app, request
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema

from bot.api import errors, images
from bot.api.auth import auth_required
from bot.api.errors import ApiError
from bot.api.schemas import PhotoSchema
from bot.storage import StorageError, content_type

# Multipart framing around one photo; the photo itself is checked against MAX_BYTES.
UPLOAD_OVERHEAD = 256 * 1024

blp = Blueprint("photos", __name__, url_prefix="/api/v1", description="照片上传")
errors.install(blp)


class UploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "JPEG, PNG or WebP, at most 5 MB"})


def storage():
    """The photo store of this app (local disk unless replaced)."""
    return current_app.extensions["sidan_api"]["storage"]


@blp.before_request
def _upload_cap():
    if request.method == "POST":
        request.max_content_length = images.MAX_BYTES + UPLOAD_OVERHEAD


@blp.route("/photos", methods=["POST"])
@auth_required()
@blp.arguments(UploadSchema, location="files")
@blp.response(201, PhotoSchema)
def upload(files):
    """Upload one photo; put the returned id in a ticket's `photos`."""
    return keep_photo(files["file"].read(images.MAX_BYTES + 1))


def keep_photo(data: bytes) -> dict:
    """Check, clean (EXIF/GPS gone) and store one photo with its thumbnail; raises ApiError
    for anything that is not a JPEG, PNG or WebP within the limits."""
    image = images.clean(data)
    key = uuid.uuid4().hex
    name, thumb = f"{key}.{image.ext}", f"{key}_t.jpg"
    store = storage()
    store.save(thumb, image.thumb)
    store.save(name, image.data)
    return {
        "id": name,
        "url": store.url(name),
        "thumb_url": store.url(thumb),
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
    }


@blp.route("/photos/<string:key>", methods=["GET"])
@blp.response(200, content_type="image/jpeg", description="The photo (JPEG, PNG or WebP)")
@blp.doc(security=[])
def download(key):
    """A stored photo or thumbnail; keys are unguessable, so the URL works in <image>."""
    try:
        data = storage().open(key)
        mime = content_type(key)
    except StorageError:
        raise ApiError(404, "照片不存在或已删除。", "not_found") from None
    return Response(
        data, mimetype=mime, headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )
