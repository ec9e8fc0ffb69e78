"""The web face of the archive: a search page, an article page and a JSON API (``archive serve``).

:func:`archive.web.app.create_app` makes the ASGI app over one open
:class:`~archive.Archive`; nothing here is imported by the other commands.
"""
