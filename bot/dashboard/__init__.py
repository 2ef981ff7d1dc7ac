"""The supervisors' dashboard (大屏) at /dashboard: server-rendered pages, a JSON endpoint per
panel, drill-down lists with CSV / Excel export, and a full-screen wall mode.

Every figure comes from models.figures (whose rates are models.digest's), every asset is served
from this package's static folder (ECharts included), so the page works on an intranet.
"""

from flask import Flask

from models import links


def init_app(app: Flask) -> None:
    """Register the blueprint and make login links (chat, digests) point at this server."""
    from bot.dashboard.views import blueprint

    app.register_blueprint(blueprint)
    links.configure_from(app.extensions["sidan"].config)
