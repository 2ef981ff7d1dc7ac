"""Photo hygiene: real type check, size and pixel caps, EXIF (and GPS) dropped by re-encoding."""

from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.api.errors import ApiError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a phone photo is ~12-50 MP; beyond this is a decompression bomb
LONG_EDGE = 2560
THUMB_EDGE = 320
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
WRONG_TYPE = "只能上传 JPG、PNG 或 WebP 格式的照片。"


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    ext: str
    content_type: str
    width: int
    height: int
    thumb: bytes


def _open(data: bytes) -> Image.Image:
    """Decode by content (never by file name) within the caps."""
    try:
        with Image.open(BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise ApiError(415, WRONG_TYPE, "unsupported_media_type")
            if probe.width * probe.height > MAX_PIXELS:
                raise ApiError(413, "照片像素太大了，请压缩后再上传。", "too_large")
            probe.verify()
        image = Image.open(BytesIO(data))
        image.load()
        return image
    except ApiError:
        raise
    except Image.DecompressionBombError:  # Pillow's own pixel cap, met before ours
        raise ApiError(413, "照片像素太大了，请压缩后再上传。", "too_large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ApiError(415, WRONG_TYPE, "unsupported_media_type") from None


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = BytesIO()
    if fmt == "JPEG":
        image = image if image.mode in ("RGB", "L") else image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "WEBP":
        image = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
        image.save(out, "WEBP", quality=85)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
    if thumb.mode not in ("RGB", "L"):
        rgba = thumb.convert("RGBA")
        thumb = Image.new("RGB", rgba.size, "white")
        thumb.paste(rgba, mask=rgba.getchannel("A"))
    out = BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


def clean(data: bytes) -> CleanImage:
    """Re-encode an upload: upright, at most LONG_EDGE, no EXIF/GPS or text chunks, plus a thumb."""
    if len(data) > MAX_BYTES:
        raise ApiError(413, "照片不能超过 5MB。", "too_large")
    image = _open(data)
    fmt = image.format
    # Turn the pixels upright first: the orientation tag goes away with the rest of EXIF.
    image = ImageOps.exif_transpose(image)
    image.thumbnail((LONG_EDGE, LONG_EDGE))
    keep = {k: image.info[k] for k in ("transparency",) if k in image.info}
    image.info = keep  # nothing else of the original's metadata may reach the encoder
    ext, content_type = FORMATS[fmt]
    return CleanImage(
        data=_encode(image, fmt), ext=ext, content_type=content_type,
        width=image.width, height=image.height, thumb=_thumbnail(image),
    )  # fmt: skip
