"""The domain: actors, their looks and sheets, the rules that bind them, and the use-cases.

Only the standard library is imported here; storage, models and gRPC are reached through
the ports in `ports.py`.
"""
