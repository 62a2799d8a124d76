"""The /login page: plain HTML and a little CSS, zh-CN or en, no CDN. The form posts to /api/auth/login."""

from __future__ import annotations

import html
import secrets
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

TEXT = {
    "zh-CN": {
        "title": "登录 channelscope",
        "username": "用户名",
        "password": "密码",
        "submit": "登录",
        "error": "用户名或密码错误。",
        "other": "English",
        "other_lang": "en",
    },
    "en": {
        "title": "Sign in to channelscope",
        "username": "User name",
        "password": "Password",
        "submit": "Sign in",
        "error": "Wrong user name or password.",
        "other": "中文",
        "other_lang": "zh-CN",
    },
}

CSS = """
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f4f6f8;margin:0}
main{max-width:22rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.25rem;margin:0 0 1.5rem}label{display:block;margin:.75rem 0 .25rem;font-size:.9rem;color:#333}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #bbb;border-radius:4px;font-size:1rem}
button{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:4px;background:#1f6feb;color:#fff;
font-size:1rem;cursor:pointer}.error{color:#b42318;font-size:.9rem}.lang{display:block;margin-top:1rem;
font-size:.85rem;text-align:right}
"""


def pick_lang(request: Request) -> str:
    """?lang= wins, then the browser's Accept-Language; Chinese by default."""
    asked = request.query_params.get("lang")
    if asked in TEXT:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "zh-CN"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    from channelscope.web.api import CSRF_COOKIE, _safe_next

    lang = pick_lang(request)
    t = TEXT[lang]
    nxt = _safe_next(request.query_params.get("next", "/"))
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    error = f'<p class="error" role="alert">{t["error"]}</p>' if request.query_params.get("error") else ""
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t["title"]}</title><link rel="stylesheet" href="/login.css"></head>
<body><main><h1>{t["title"]}</h1>{error}
<form method="post" action="/api/auth/login">
<input type="hidden" name="csrf" value="{html.escape(token)}">
<input type="hidden" name="next" value="{html.escape(nxt)}">
<label for="username">{t["username"]}</label><input id="username" name="username" autocomplete="username" required>
<label for="password">{t["password"]}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{t["submit"]}</button></form>
<a class="lang" href="/login?lang={t["other_lang"]}&amp;next={html.escape(quote(nxt))}">{t["other"]}</a>
</main></body></html>"""
    resp = HTMLResponse(page)
    secure = request.url.scheme == "https"
    resp.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="lax", secure=secure, path="/")
    return resp


@router.get("/login.css")
def login_css() -> Response:
    return Response(CSS, media_type="text/css")
