"""Web-framework and HTTP-client integrations: request spans in, trace headers out.

``asgi`` (Starlette, FastAPI), ``wsgi`` (Flask, Django) and ``httpx`` (httpx and httpx2
clients). Each is imported on its own; none imports the framework it serves.
"""
