"""Textual terminal UI for the service-profit-chain simulator (imports only `simulator`'s public API)."""
