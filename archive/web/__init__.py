"""The web face of the archive: a search page, an article page and a JSON API (``archive serve``).

:func:`archive.web.app.create_app` makes the ASGI app over one open
:class:`~archive.Archive` (or a :class:`~archive.following.LiveArchive`);
``pages`` shapes what the templates show, ``messages`` what the server says
when it cannot answer, ``guards`` the ASGI layers around the app (headers,
HEAD, the Host check, the last answer to an error), ``limits`` the threads
and the time limit, ``server`` uvicorn with bounded connections. Nothing here
is imported by the other commands.
"""
