"""daphne (Twisted) reads a POST's Content-Type without the e-mail parser, to the same answer (grokweb.serving)."""
from __future__ import annotations

import pytest
from twisted.web import http

from grokweb import serving

VALUES = [
    b"application/json", b"Application/JSON", b"application/json; charset=utf-8", b"application/json;",
    b" multipart/form-data; boundary=----abc", b"application/x-www-form-urlencoded", b"application/json\t",
    b'x/y ; q="a;b"', b"text", b"", b"a/b/c", b"application/json (a comment)", b"application / json",
    b"\xe9/x", b"/json", b"application/",
]


@pytest.mark.parametrize("value", VALUES)
def test_a_content_type_is_read_as_twisteds_own_parser_reads_it(value: bytes) -> None:
    serving.quick_content_types()
    assert http._parseContentType is serving._content_type
    assert serving._content_type(value) == serving._TWISTED_CONTENT_TYPE(value)
