"""The driving side: gRPC servicer, error mapping, settings, the container and the server."""
