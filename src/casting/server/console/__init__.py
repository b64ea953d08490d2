"""The Casting console: the studio's Casting tab, a web page for artists and writers.

Another driving adapter of the service, beside the gRPC servicer: each page handler maps a
form to domain values, calls the container's use-cases and renders the result (or the domain
error, in plain words) as server-side HTML. It runs on the same event loop as grpc.aio.
"""
