"""The partnership dashboard (web pages) and the annual report, both read from ``cordiale.indicators``."""
