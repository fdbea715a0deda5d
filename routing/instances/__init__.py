"""Readers for literature benchmark instances."""
