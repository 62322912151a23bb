"""The interactive viewer (``stylex serve``): a local web page to play with a run's attributes.

::

    from stylex.serve import create_app
    app = create_app("runs/fmnist")          # loads the run (needs RUN/attfind) once
    # uvicorn.run(app, host="127.0.0.1", port=8000)

:mod:`stylex.serve.session` holds the model side (:class:`Viewer`);
:mod:`stylex.serve.state` one :class:`Session` per opened image (cached activations for the
partial re-run) and the viewer's answers; :mod:`stylex.serve.upload` reads uploads;
:mod:`stylex.serve.app` the HTTP API and the page; :mod:`stylex.serve.cli` the ``stylex serve``
command.
"""

from stylex.serve.app import create_app
from stylex.serve.session import Session, Viewer, ViewerError, check_attfind

__all__ = ["Session", "Viewer", "ViewerError", "check_attfind", "create_app"]
