"""Services: the only code that changes state. One commit per use case; domain errors out;
no ``request`` or ``session`` inside, so routes, htmx views, socket events, the API and CLI
commands can all call the same functions."""
