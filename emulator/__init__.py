"""A fake OpenAI-compatible Grok gateway (ASGI): the upstream for `make run` without a key, tests and benchmarks.

It reads the built-in catalog (gateways.catalog) and nothing else of ours; only grokweb.asgi, its
`run_emulator` command, tests and benchmarks import it.
"""
