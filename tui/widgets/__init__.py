"""The app's views and panels, one module each."""
