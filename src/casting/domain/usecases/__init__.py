"""One use-case per RPC. Each takes its ports in its constructor and is called once per request."""
