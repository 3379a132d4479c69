"""The HTTP surfaces as Chalice Blueprints, each registered in app.py: the platforms' webhooks,
the agent API and the admin API. The console's pages and the alert page are Blueprints of
chalicelib/console/. A route parses the request, calls one service and answers through
chalicelib/http.py:respond."""
