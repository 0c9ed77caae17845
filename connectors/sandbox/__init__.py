"""The sandbox DMS: a standalone HTTP server that behaves like each vendor's DMS.

Run it with ``python -m connectors.sandbox`` (see :mod:`connectors.sandbox.__main__` for
flags), or from tests with :func:`connectors.sandbox.testing.running_sandbox`.

==================  =====================================================================
module              what it holds
==================  =====================================================================
``server``          the HTTP plumbing: reads a request, routes it to its front end, answers
``console_api``     the console's own REST dialect (``/oauth``, ``/v1``)
``star_api``        STAR REST (``/star``)
``opentrack_api``   Dealertrack OpenTrack SOAP (``/opentrack``)
``control_api``     the control API tests and the demo drive (``/_control``)
``operations``      the DMS itself, whatever protocol asked: reads, vendor-checked writes
``outbound``        what the DMS sends on its own: signed webhooks, daily extract files
``store``           the SQLite storage and its change sequence
``generate``        the deterministic demo data
``testing``         start a sandbox in a test; the control API's client
==================  =====================================================================
"""
