#!/usr/bin/python3
"""A stand-in for Neutron that knows no port, network or security group
(stdlib only), for the Nova test rig's servers booted with
"networks": "none":
    fake_neutron.py PORT LOG_FILE
Nova 26 asks Neutron even about such servers: GET /servers/detail and
GET /servers/{id} list the servers' ports for their security groups, and a
compute deleting a server lists its ports (get_instance_nw_info,
deallocate_for_instance). With no Neutron at all those requests fail (500
EmptyCatalog in the API; a delete leaves the server in ERROR).

Every request is logged (one line each) to LOG_FILE. GET of a collection,
/v2.0/NAME (".json" allowed), answers {"NAME": []} (dashes as
underscores); GET of one item answers 404; anything else answers 404 too
and is logged with "UNHANDLED". Listens on 127.0.0.1 only."""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.dont_write_bytecode = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = urlsplit(self.path).path.rstrip("/")
        parts = [p for p in path.split("/") if p]
        if self.command == "GET" and not parts:
            return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"href": "http://%s/v2.0/" % self.headers.get("Host", "127.0.0.1"), "rel": "self"}]}]}, ""
        if self.command == "GET" and len(parts) == 2 and parts[0] == "v2.0":
            name = parts[1]
            if name.endswith(".json"):
                name = name[:-5]
            return 200, {name.replace("-", "_"): []}, ""
        if self.command == "GET" and len(parts) == 3 and parts[0] == "v2.0":
            return 404, {"NeutronError": {"type": "NotFound", "message": "not found", "detail": ""}}, ""
        return 404, {"NeutronError": {"type": "NotFound", "message": "fake_neutron: not handled",
                                      "detail": ""}}, " UNHANDLED"

    def _handle(self):
        status, body, note = self._answer()
        self._send(status, body)
        with open(LOG, "a") as f:
            print("%s %s %s %d%s" % (time.strftime("%Y-%m-%d %H:%M:%S"), self.command, self.path, status, note),
                  file=f)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    LOG = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
