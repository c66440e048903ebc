"""A paste filter for nova-api's pipelines, after noauth2 (start.sh writes
them into api-paste.ini; nova_cmd.py's directory is on sys.path, so
nova-api imports this file).

noauth2 makes the request's context from X-Auth-Token (user:project) but
leaves the context's auth_token empty. Nova talks to Glance with the
context's token (keystoneauth plugin from the context), and with none
keystoneauth refuses to send the request: AuthorizationFailure "No valid
authentication is available". This filter puts the request's X-Auth-Token
into the context; the rig's Glance (unauthenticated-context) ignores it.
The context, token included, goes on to the conductor and the computes."""


class TokenInContext:
    def __init__(self, app):
        self.app = app

    @classmethod
    def factory(cls, global_config, **local_config):
        return cls

    def __call__(self, environ, start_response):
        ctx = environ.get("nova.context")
        if ctx is not None and not ctx.auth_token:
            ctx.auth_token = environ.get("HTTP_X_AUTH_TOKEN")
        return self.app(environ, start_response)
