"""Predictions and labels in production: served requests unpacked, batch scoring, the labels contract."""
