"""Casting engines: where the steps of story castings run (domain.ports.CastingEngine)."""
