"""Chat photos: WeChat's PicUrl expires in about three days, so the bot keeps its own copy."""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from PIL import Image

from models.tickets import Ticket


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (640, 480), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (30.0, 16.0, 27.0), 3: "E", 4: (120.0, 9.0, 18.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def wechat_media(app):
    """A stand-in for WeChat's image host (mmbiz.qpic.cn), on a real local port (allowed here:
    production fetches only from WeChat's media hosts, never a private address)."""
    app.extensions["sidan"].config.PHOTO_HOSTS = ("127.0.0.1",)
    app.extensions["sidan"].config.PHOTO_ALLOW_PRIVATE = True
    files = {"/pic.jpg": jpeg_with_gps(), "/not-a-photo": b"%PDF-1.4 nope"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server naming)
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def file_with_photo(chat, url: str) -> Ticket:
    resident = chat("demo_resident_1")
    resident.photo(url)
    resident.say("楼道里堆满了杂物，过不去人")
    reply = resident.say("确认")
    return Ticket.get_by_id(int(reply.split("#")[1].split("。")[0]))


def test_a_chat_photo_is_kept_cleaned_of_its_gps(chat, demo, wechat_media, config, live_server):
    ticket = file_with_photo(chat, f"{wechat_media}/pic.jpg")
    [photo] = ticket.photos
    assert photo.startswith(config.PUBLIC_BASE_URL + "/api/v1/photos/")
    # Served back by the API, the way the mini-program and dispatchers open it.
    served = requests.get(live_server + photo.removeprefix(config.PUBLIC_BASE_URL), timeout=5)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(served.content)) as image:
        assert 0x8825 not in image.getexif()  # no GPS left
        assert image.size == (640, 480)


@pytest.mark.parametrize("path", ["/missing.jpg", "/not-a-photo"])
def test_an_unfetchable_photo_keeps_the_wechat_url_and_the_report_goes_on(
    chat, demo, wechat_media, path
):
    ticket = file_with_photo(chat, f"{wechat_media}{path}")
    assert ticket.photos == [f"{wechat_media}{path}"]
