"""Integrations with frameworks; importing ``compat`` itself never imports any of them."""
