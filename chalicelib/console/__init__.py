"""The agent console: server-rendered pages under /console for people, on the same services
the JSON API calls (see routes.py)."""
