"""Placement's WSGI application, also served under the prefix /internal.

The Keystone rig's catalog gives Placement's public endpoint as
http://127.0.0.1:PORT and its internal one as http://127.0.0.1:PORT/internal,
so the request log shows which interface a client chose. Any other prefix
(the catalog's wrong-region and admin endpoints) reaches Placement as is and
gets its 404.
"""
from placement.wsgi import init_application

PREFIX = "/internal"

_placement = init_application()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == PREFIX or path.startswith(PREFIX + "/"):
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX
        environ["PATH_INFO"] = path[len(PREFIX):] or "/"
    return _placement(environ, start_response)
