"""Views, one module per area; every state change goes through ``services.py``."""
