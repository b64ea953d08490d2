"""Versioned prompt templates (YAML + Jinja) for the image generators."""
