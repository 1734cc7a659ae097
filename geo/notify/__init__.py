"""Telling people of their cases: notifications per user, webhooks to work groups."""
