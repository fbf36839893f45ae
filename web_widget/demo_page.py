"""A demo host page (a real-estate site embedding the widget): `make run` shows it at /demo,
and the browser tests serve the same page from a foreign origin."""

from __future__ import annotations

from aiohttp import web

from engage.demo.catalog import SITES
from engage.sites.visitor_tokens import identity_hash
from web_widget.deps import WidgetDeps
from web_widget.web_frame import TEMPLATES

DEMO_SITE = SITES[0][0]


def render_demo_page(*, server: str, site_key: str, base: str = "", title: str = "Home",
                     lang: str = "en", status: int | None = None, customer_id: str = "",
                     customer_hash: str = "") -> str:
    """The page's HTML; ``server`` is the engage origin the loader comes from."""
    return TEMPLATES.get_template("demo.html").render(
        server=server, site_key=site_key, base=base, title=title, lang=lang, status=status,
        customer_id=customer_id, customer_hash=customer_hash)


def add_demo_routes(table: web.RouteTableDef, services: WidgetDeps) -> None:
    async def page(request: web.Request) -> web.StreamResponse:
        site = await services.sites.require(DEMO_SITE)
        # Signed in as a demo customer with ?customer=<id>: the hash a site's back end makes.
        customer = request.query.get("customer", "")
        html = render_demo_page(
            server="", site_key=site.site_key, base="/demo",
            lang="zh" if request.query.get("lang") == "zh" else "en", customer_id=customer,
            customer_hash=identity_hash(site.identity_secret, customer) if customer else "")
        return web.Response(text=html, content_type="text/html")

    for path in ("/demo", "/demo/", "/demo/{view:listings|mortgage|checkout}"):
        table.get(path)(page)
