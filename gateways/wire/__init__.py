"""The wire: bytes from a gateway in, typed events, normalized usage and error codes out.

Owns SSE decoding, chunk parsing, usage normalization, error classification, backoff and the
pooled httpx client. Free of Django models and of every app above it (import-linter checks it),
so each piece is tested with plain bytes and dicts.
"""
