"""Retraining: a challenger from the latest data, judged against the champion, promoted only when it wins."""
