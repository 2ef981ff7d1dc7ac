"""/api/v1/docs works offline: the page and every asset it loads come from the app itself."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import re

from tests.test_api_support import api_app, api_config, client  # noqa: F401

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)")


def test_the_docs_page_loads_every_asset_from_the_app(client):
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)

    assets = ASSET.findall(html)
    assert page.status_code == 200 and "SwaggerUIBundle" in html
    assert not re.search(r"https?://", html), "the page must not reach outside"
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {
        "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"
    }  # fmt: skip
    for asset in assets:
        assert asset.startswith("/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.get_data()) > 10_000, asset
        kind = "text/css" if asset.endswith(".css") else "javascript"
        assert kind in response.content_type, (asset, response.content_type)


def test_the_stylesheet_pulls_nothing_from_outside(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    css = next(a for a in ASSET.findall(page) if a.endswith(".css"))

    urls = CSS_URL.findall(client.get(css).get_data(as_text=True))

    assert urls and all(u.startswith("data:") for u in urls)


def test_the_page_reads_the_document_the_app_serves(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    spec_url = re.search(r'url:\s*"([^"]+)"', html).group(1)

    document = client.get(spec_url).get_json()

    assert document["info"]["title"] == "Sidan mini-program API"
    assert '"validatorUrl": null' in html  # no badge fetched from Swagger's online validator


def test_a_missing_asset_is_a_404_not_a_crash(client):
    assert client.get("/api/v1/docs/assets/nothing-here.js").status_code == 404
    assert client.get("/api/v1/docs/assets/../../../etc/passwd").status_code == 404
