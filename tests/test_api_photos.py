"""Photo upload: real type by content, size cap, EXIF/GPS stripped, thumbnail, served back."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import io

import pytest
from PIL import Image

from tests.test_api_support import api_app, api_config, auth, client, jpeg_bytes  # noqa: F401

GPS_IFD = 0x8825


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (30.0, 16.0, 27.0), 3: "E", 4: (120.0, 9.0, 18.0)})
    return exif.tobytes()


def send(client, headers, data: bytes, name="photo.jpg"):
    return client.post("/api/v1/photos", headers=headers, data={"file": (io.BytesIO(data), name)})


def test_gps_exif_is_gone_after_upload(client, auth, demo):
    original = jpeg_bytes(size=(800, 600), exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test photo has GPS

    response = send(client, auth(demo.resident_1), original)

    assert response.status_code == 201
    body = response.get_json()
    stored = client.get(body["url"].removeprefix("http://testserver"))
    assert stored.status_code == 200 and stored.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(stored.data))
    assert not image.getexif().get_ifd(GPS_IFD)
    assert len(image.getexif()) == 0 and b"Exif" not in stored.data
    assert image.size == (800, 600) == (body["width"], body["height"])


def test_a_thumbnail_is_made(client, auth, demo):
    body = send(client, auth(demo.resident_1), jpeg_bytes(size=(1600, 1200))).get_json()

    thumb = client.get(body["thumb_url"].removeprefix("http://testserver"))

    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320


@pytest.mark.parametrize("fmt, mime", [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_accepted_by_content_not_name(client, auth, demo, fmt, mime):
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 128, 0, 128)).save(out, fmt)

    response = send(client, auth(demo.resident_1), out.getvalue(), name="weird.name")

    assert response.status_code == 201
    assert response.get_json()["content_type"] == mime


def test_a_pdf_renamed_jpg_is_refused(client, auth, demo):
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

    response = send(client, auth(demo.resident_1), pdf, name="photo.jpg")

    assert response.status_code == 415
    assert "JPG" in response.get_json()["error"]["message"]


def test_a_gif_and_a_truncated_jpeg_are_refused(client, auth, demo):
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    headers = auth(demo.resident_1)

    assert send(client, headers, gif.getvalue(), "a.gif").status_code == 415
    assert send(client, headers, jpeg_bytes()[:200]).status_code == 415


def test_a_six_megabyte_file_is_refused(client, auth, demo):
    big = jpeg_bytes() + b"\0" * (6 * 1024 * 1024)

    response = send(client, auth(demo.resident_1), big)

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_upload_needs_login_and_a_file(client, auth, demo):
    assert send(client, {}, jpeg_bytes()).status_code == 401
    missing = client.post("/api/v1/photos", headers=auth(demo.resident_1), data={})
    assert missing.status_code == 422


def test_unknown_photo_is_404_json(client):
    response = client.get("/api/v1/photos/" + "a" * 32 + ".jpg")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
